//go:build !unix

package main

import "syscall"

// procAttr returns nil: there are no process groups to set.
func procAttr() *syscall.SysProcAttr { return nil }
