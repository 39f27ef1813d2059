//go:build linux || darwin || freebsd || netbsd || openbsd

package gateway

import "syscall"

const canPeek = true

// peek reads without consuming and without blocking.
func peek(fd uintptr, p []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}
