//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package gateway

const canPeek = false

func peek(uintptr, []byte) (int, error) { return 0, nil }
