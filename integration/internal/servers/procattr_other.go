//go:build !linux

package servers

import "syscall"

// sysProcAttr puts the child in its own process group, which stop kills.
// Only Linux (CI's system) also has the kernel kill it with the test binary.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
