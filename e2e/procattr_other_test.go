//go:build !linux

package e2e

import "syscall"

// procAttr: Pdeathsig exists on Linux only; elsewhere the tests' cleanups
// alone stop the subprocesses.
func procAttr() *syscall.SysProcAttr { return nil }
