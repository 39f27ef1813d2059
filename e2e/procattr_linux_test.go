package e2e

import "syscall"

// procAttr makes the kernel kill a sker subprocess when the test process
// dies (a panic, or go test's -timeout), so none is ever left running.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
