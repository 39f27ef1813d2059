package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/skerhq/sker/natsname"
)

// DefaultLeaseTTL is how long a lease lives on the server after its last
// renewal. Failover waits for it, so a dead owner's canvas is writable
// again within about DefaultLeaseTTL plus the time to load it.
const DefaultLeaseTTL = 5 * time.Second

// ErrTaken: another node holds the lease. The error is a *TakenError,
// which names the holder.
var ErrTaken = errors.New("cluster: lease held by another node")

// ErrLost: the lease is no longer this holder's. Its key was renewed or
// released by someone else, or it expired (and perhaps was claimed again).
var ErrLost = errors.New("cluster: lease lost")

// ErrLapsed: the holder did not renew its lease in time and stopped
// treating it as valid (self-fencing). It may still be on the server for
// a moment; release it or let it expire, then claim again.
var ErrLapsed = errors.New("cluster: lease lapsed on its holder")

// TakenError is the ErrTaken of a claim: Holder is the node that holds
// the lease, at Revision. On a bucket of several copies the holder is read
// from any copy, which may be a moment behind: Holder may then be the
// node that held the lease just before (a lower Revision). Whoever acts on
// it is told the current holder by that node.
type TakenError struct {
	CanvasID string
	Holder   string
	Revision uint64
}

func (e *TakenError) Error() string {
	return fmt.Sprintf("cluster: lease of canvas %s held by %q (revision %d)", e.CanvasID, e.Holder, e.Revision)
}

// Is makes errors.Is(err, ErrTaken) true.
func (e *TakenError) Is(target error) bool { return target == ErrTaken }

// LeaseConfig configures the lease bucket.
type LeaseConfig struct {
	// Names gives the bucket's name, Names.Leases(); zero: natsname.Default().
	Names natsname.Names
	// Replicas is the bucket's number of copies, JOURNAL_REPLICAS; 0: 1.
	Replicas int
	// TTL is how long a lease lives after its last renewal; 0: DefaultLeaseTTL.
	// It is the bucket's max age, so every node of a deployment must use
	// the same TTL (the last node to open the bucket sets it).
	TTL time.Duration
	// Margin is how long before the server could expire a lease its holder
	// stops treating it as valid; 0: TTL/5. It absorbs the difference
	// between the rates of the holder's and the server's clocks and the
	// server's delay in storing a renewal.
	Margin time.Duration
}

// Leases are the ownership leases of a deployment's canvases, one key per
// canvas in a JetStream key-value bucket whose value is the holder's node
// name.
//
// A key's lifetime is the bucket's max age (LeaseConfig.TTL). Renewing a
// lease rewrites its value with Update on the last revision, a new
// message that the max age counts from, so a lease lives TTL after its
// last renewal. Claim is Create: it succeeds only when the key has no
// value (never set, released, or expired). Per-message TTLs (ADR-48) are
// not used, so the bucket works on any JetStream server, the 2.9 of
// Debian included.
//
// The lease is not the fence: the journal append is (see journal). The
// lease says who should own a canvas; the holder stops accepting changes
// when its lease lapses on its own clock, before the server could expire
// it.
type Leases struct {
	kv     jetstream.KeyValue
	ttl    time.Duration
	margin time.Duration
}

// OpenLeases creates the lease bucket, or updates its configuration, and
// returns it.
func OpenLeases(ctx context.Context, js jetstream.JetStream, cfg LeaseConfig) (*Leases, error) {
	if cfg.Names.IsZero() {
		cfg.Names = natsname.Default()
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultLeaseTTL
	}
	if cfg.Margin <= 0 {
		cfg.Margin = cfg.TTL / 5
	}
	if cfg.Margin >= cfg.TTL/3*2 {
		return nil, fmt.Errorf("cluster: lease margin %v too long for a TTL of %v (want under 2/3 of it)", cfg.Margin, cfg.TTL)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Names.Leases(),
		Description: "canvas ownership leases",
		History:     1,
		TTL:         cfg.TTL,
		// A lease means nothing after TTL, so it needs no disk: a restart
		// of every server loses only leases that would have lapsed.
		Storage:  jetstream.MemoryStorage,
		Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: open lease bucket %s: %w", cfg.Names.Leases(), err)
	}
	return &Leases{kv: kv, ttl: cfg.TTL, margin: cfg.Margin}, nil
}

// TTL is the lease lifetime after a renewal.
func (ls *Leases) TTL() time.Duration { return ls.ttl }

// Holder returns the node that holds canvasID's lease and its revision;
// jetstream.ErrKeyNotFound when none does.
func (ls *Leases) Holder(ctx context.Context, canvasID string) (string, uint64, error) {
	e, err := ls.kv.Get(ctx, canvasID)
	if err != nil {
		return "", 0, err
	}
	return string(e.Value()), e.Revision(), nil
}

// Claim takes canvasID's lease for node. It fails with a *TakenError when
// another holder has it. The returned Lease renews itself every TTL/3
// until Release or Stop.
func (ls *Leases) Claim(ctx context.Context, canvasID, node string) (*Lease, error) {
	return ls.claim(ctx, canvasID, node, nil)
}

func (ls *Leases) claim(ctx context.Context, canvasID, node string, beforeRenew func()) (*Lease, error) {
	if node == "" {
		return nil, errors.New("cluster: claim needs a node name")
	}
	for {
		sent := time.Now()
		rev, err := ls.kv.Create(ctx, canvasID, []byte(node))
		if err == nil {
			l := ls.hold(canvasID, node, rev, sent)
			l.beforeRenew = beforeRenew
			go l.loop()
			return l, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !wrongLastSequence(err) {
			return nil, fmt.Errorf("cluster: claim canvas %s: %w", canvasID, err)
		}
		holder, hrev, err := ls.Holder(ctx, canvasID)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released or expired between the two calls
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: claim canvas %s: %w", canvasID, err)
		}
		return nil, &TakenError{CanvasID: canvasID, Holder: holder, Revision: hrev}
	}
}

// wrongLastSequence reports whether err is JetStream's answer to a write
// whose expected last sequence was not the key's: another node wrote the
// key first. Create returns it without ErrKeyExists when two nodes race to
// claim a key whose last value is a delete marker (a lease just released).
func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Renew rewrites node's lease of canvasID at revision rev and returns the
// new revision; ErrLost when rev is no longer the key's last revision
// (renewed by another, released, or expired).
func (ls *Leases) Renew(ctx context.Context, canvasID, node string, rev uint64) (uint64, error) {
	next, err := ls.kv.Update(ctx, canvasID, []byte(node), rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, fmt.Errorf("%w: canvas %s at revision %d", ErrLost, canvasID, rev)
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: renew lease of canvas %s: %w", canvasID, err)
	}
	return next, nil
}

// Release deletes canvasID's lease if rev is still its last revision;
// ErrLost otherwise.
func (ls *Leases) Release(ctx context.Context, canvasID string, rev uint64) error {
	err := ls.kv.Delete(ctx, canvasID, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: canvas %s at revision %d", ErrLost, canvasID, rev)
	}
	if err != nil {
		return fmt.Errorf("cluster: release lease of canvas %s: %w", canvasID, err)
	}
	return nil
}

// Lease is a holder's side of one canvas's lease. It is valid from the
// claim until its deadline: the start of the last successful renewal plus
// TTL minus the margin, measured on this process's monotonic clock. The
// server counts the TTL from when it stored the renewal, which is after
// the renewal started, so the lease lapses here first. A holder checks
// Valid before it accepts a change and stops at Done.
type Lease struct {
	ls       *Leases
	canvasID string
	node     string

	mu       sync.Mutex
	rev      uint64
	deadline time.Time // has a monotonic reading
	ended    error     // why the lease stopped; nil while it is valid
	done     chan struct{}
	fence    *time.Timer // closes done at the deadline, even if the renew loop stalls
	stop     chan struct{}
	loopDone chan struct{}

	// beforeRenew, when set, runs in the renew loop before each renewal
	// (tests pause the loop with it, as SIGSTOP would).
	beforeRenew func()
}

func (ls *Leases) hold(canvasID, node string, rev uint64, sent time.Time) *Lease {
	l := &Lease{
		ls: ls, canvasID: canvasID, node: node, rev: rev,
		deadline: sent.Add(ls.ttl - ls.margin),
		done:     make(chan struct{}), stop: make(chan struct{}), loopDone: make(chan struct{}),
	}
	l.mu.Lock()
	l.fence = time.AfterFunc(time.Until(l.deadline), l.lapse)
	l.mu.Unlock()
	return l
}

// lapse runs at the deadline: it ends the lease unless a renewal moved
// the deadline, when it waits for the new one.
func (l *Lease) lapse() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.validLocked() {
		l.fence.Reset(time.Until(l.deadline))
	}
}

// CanvasID is the canvas the lease is of.
func (l *Lease) CanvasID() string { return l.canvasID }

// Node is the lease's holder.
func (l *Lease) Node() string { return l.node }

// Revision is the lease key's revision after the last claim or renewal.
func (l *Lease) Revision() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev
}

// Valid reports whether the holder may still accept changes: the lease
// was neither lost nor released, and its deadline has not passed.
func (l *Lease) Valid() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validLocked()
}

func (l *Lease) validLocked() bool {
	if l.ended != nil {
		return false
	}
	if !time.Now().Before(l.deadline) {
		l.endLocked(ErrLapsed)
		return false
	}
	return true
}

// Done is closed when the lease stops being valid.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err is why the lease stopped (ErrLapsed, ErrLost, or ErrReleased); nil
// while it is valid.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.validLocked()
	return l.ended
}

// ErrReleased: the holder released its lease.
var ErrReleased = errors.New("cluster: lease released")

func (l *Lease) endLocked(why error) {
	if l.ended == nil {
		l.ended = why
		close(l.done)
		if l.fence != nil {
			l.fence.Stop()
		}
	}
}

// Renew renews the lease once. ErrLost when the key's revision moved or
// the key is gone; ErrLapsed when the lease already lapsed here (the
// renewal is still sent, so a lease taken over reports ErrLost). A lease
// that stopped being valid stays so: claim again.
func (l *Lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	sent := time.Now()
	next, err := l.ls.Renew(ctx, l.canvasID, l.node, rev)
	l.mu.Lock()
	defer l.mu.Unlock()
	if errors.Is(err, ErrLost) {
		l.endLocked(ErrLost)
		return err
	}
	if err != nil {
		return err
	}
	if l.rev == rev {
		l.rev = next
	}
	if !l.validLocked() {
		// The renewal reached the server after the lease lapsed here: give
		// the key back rather than keep others out for another TTL.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), l.ls.ttl)
			defer cancel()
			_ = l.ls.Release(ctx, l.canvasID, next)
		}()
		return l.ended
	}
	if d := sent.Add(l.ls.ttl - l.ls.margin); d.After(l.deadline) {
		l.deadline = d
	}
	return nil
}

func (l *Lease) loop() {
	defer close(l.loopDone)
	every := l.ls.ttl / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.done:
			return
		case <-tick.C:
		}
		if l.beforeRenew != nil {
			l.beforeRenew()
		}
		if !l.Valid() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := l.Renew(ctx)
		cancel()
		if errors.Is(err, ErrLost) || errors.Is(err, ErrLapsed) {
			return
		}
		// Another error (a timeout, a leader election): try again at the
		// next tick; the deadline fences the holder if none succeeds.
	}
}

// Stop ends the renew loop without releasing: the lease stays on the
// server until it expires, and stops being valid here at its deadline.
func (l *Lease) Stop() {
	l.mu.Lock()
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.mu.Unlock()
	<-l.loopDone
}

// Release stops renewing and deletes the lease on the server, so another
// node can claim it at once; ErrLost when it was no longer this holder's.
// The lease is invalid from the moment Release is called.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	l.endLocked(ErrReleased)
	l.mu.Unlock()
	l.Stop()
	return l.ls.Release(ctx, l.canvasID, l.Revision())
}
