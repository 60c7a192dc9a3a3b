package streamit

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the child in its own process group, which killGroup
// kills, and has the kernel kill it if the test binary dies first: no
// orphaned servers.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the child's whole process group.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}
