//go:build !linux

package streamit

import (
	"os/exec"
	"syscall"
)

// sysProcAttr leaves the child in the test's process group: only Linux is
// supported by CI, where the servers get their own group and die with the
// test binary.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup kills the child.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
