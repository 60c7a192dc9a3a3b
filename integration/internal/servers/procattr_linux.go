package servers

import "syscall"

// sysProcAttr puts the child in its own process group, which stop kills,
// and has the kernel kill it if the test binary dies first (a -timeout
// panic, a SIGKILL): no orphaned servers.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
