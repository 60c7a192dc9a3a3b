package jsqueue_test

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes cmd's process get SIGKILL if the test process dies.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
