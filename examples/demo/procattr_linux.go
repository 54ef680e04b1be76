package main

import "syscall"

// procAttr puts a child in a process group of its own, so that a terminal's
// Ctrl-C reaches only the demo, which then stops the children in order; and
// has the kernel kill it if the demo dies without stopping it (SIGKILL).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
