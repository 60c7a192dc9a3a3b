package main

import (
	"net"
	"os/exec"
	"runtime/debug"
)

// freePort returns a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lookPath returns the first of the candidates that is an executable, or "".
func lookPath(candidates ...string) string {
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// moduleVersion returns the version of a module this binary was built with.
func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == path {
				if d.Version == "v0.0.0" || d.Replace != nil && d.Replace.Version == "" {
					return "from this repository"
				}
				return d.Version
			}
		}
	}
	return "unknown"
}
