// Package dirlock keeps a folder for one process at a time: an exclusive
// lock on a lock file inside it, held until Release or the end of the
// process.
//
// On Unix the lock is flock(2) on the lock file. The kernel drops it when
// the process ends in any way, kill -9 included, so a crash never leaves a
// stale lock behind, and the file itself is never removed (removing it
// would let two processes lock two different files of the same name). The
// holder writes its pid, host, command and start time into the file, so
// that a process refused the lock can say who holds it. On systems without
// flock the file is written but not locked.
package dirlock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileName is the name of the lock file inside the locked folder.
const FileName = "sker.lock"

// Holder is what the lock file says about the process holding the lock.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host,omitempty"`
	Command string    `json:"command,omitempty"`
	Started time.Time `json:"started"`
}

// String describes the holder for a message, like
// `sker serve (pid 4242 on host a, started 2026-12-01 23:07:00 UTC)`.
func (h Holder) String() string {
	var b strings.Builder
	if h.Command != "" {
		b.WriteString(h.Command + " ")
	}
	fmt.Fprintf(&b, "(pid %d", h.PID)
	if h.Host != "" {
		fmt.Fprintf(&b, " on host %s", h.Host)
	}
	if !h.Started.IsZero() {
		fmt.Fprintf(&b, ", started %s", h.Started.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	b.WriteString(")")
	return b.String()
}

// HeldError is Acquire's error when another process holds the lock.
type HeldError struct {
	Dir string
	// Holder is read from the lock file; Known is false when the file did
	// not say (the holder had not written it yet, or wrote something else).
	Holder Holder
	Known  bool
}

func (e *HeldError) Error() string {
	if !e.Known {
		return fmt.Sprintf("%s is in use by another process (it holds %s)", e.Dir, filepath.Join(e.Dir, FileName))
	}
	return fmt.Sprintf("%s is in use by %s", e.Dir, e.Holder)
}

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// Acquire locks dir, which must exist, for this process, recording command
// (such as "sker serve") as the holder's. It does not wait: when another
// process holds the lock it fails at once with a *HeldError.
func Acquire(dir, command string) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dirlock: open %s: %w", path, err)
	}
	locked, err := tryLock(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("dirlock: lock %s: %w", path, err)
	}
	if !locked {
		herr := &HeldError{Dir: dir}
		herr.Holder, herr.Known = readHolder(f)
		_ = f.Close()
		return nil, herr
	}
	host, _ := os.Hostname()
	rec, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Command: command, Started: time.Now().UTC()})
	if err := writeHolder(f, append(rec, '\n')); err != nil {
		_ = unlock(f)
		_ = f.Close()
		return nil, fmt.Errorf("dirlock: write %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// writeHolder replaces the file's content with rec: written over the old
// content first, then cut to length, so that a reader never finds the file
// empty and decodes the new record from its start.
func writeHolder(f *os.File, rec []byte) error {
	if _, err := f.WriteAt(rec, 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(rec)))
}

// readHolder decodes the record at the start of the file; what follows it
// (the tail of a longer, older record) is ignored.
func readHolder(f *os.File) (Holder, bool) {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	var h Holder
	if err := json.NewDecoder(bytes.NewReader(buf[:n])).Decode(&h); err != nil || h.PID <= 0 {
		return Holder{}, false
	}
	return h, true
}

// Release empties the lock file and drops the lock. Releasing a nil or
// released Lock does nothing.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	// Emptied while still held, so that no later holder's record is cut.
	terr := f.Truncate(0)
	return errors.Join(terr, unlock(f), f.Close())
}
