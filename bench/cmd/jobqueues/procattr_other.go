//go:build !linux

package main

import "os/exec"

func setPdeathsig(*exec.Cmd) {}

// runAs is only needed to run PostgreSQL as root on Linux.
func runAs(*exec.Cmd, uint32, uint32) {}
