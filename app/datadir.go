package app

import (
	"errors"
	"fmt"

	"github.com/skerhq/sker/dirlock"
)

// lockDataDir keeps DATA_DIR for this process: one server per data folder,
// since two embedded NATS servers on one DATA_DIR/jetstream corrupt the
// journal. The lock goes with the process, even on kill -9.
func lockDataDir(dir string) (*dirlock.Lock, error) {
	l, err := dirlock.Acquire(dir, "sker serve")
	var held *dirlock.HeldError
	if errors.As(err, &held) {
		return nil, fmt.Errorf("app: DATA_DIR %v: stop that process first, or give this one another DATA_DIR"+
			" (sker seed and sker migrate can run beside a server)", held)
	}
	if err != nil {
		return nil, fmt.Errorf("app: DATA_DIR %s: %w", dir, err)
	}
	return l, nil
}
