package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/skerhq/sker/canvases"
)

// Backoff between attempts that found no owner: from minBackoff, doubling
// up to maxBackoff. A redirect (NotOwnerError) is followed at once, up to
// maxRedirects in a row, so that two nodes that disagree for a moment do
// not send a request back and forth without pause.
const (
	minBackoff   = 50 * time.Millisecond
	maxBackoff   = time.Second
	maxRedirects = 3
)

// attemptError is the error of an attempt on target that got no answer,
// in the terms of package canvases; sent says whether the request left.
func attemptError(req *wireRequest, target string, err error, sent bool) error {
	var tooLarge *tooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("cluster: %s of canvas %s: %w", req.Op, req.Canvas, err)
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w: canvas %s: node %s takes no requests: %w", canvases.ErrUnavailable, req.Canvas, target, err)
	case sent && (req.Op == opSubmit || req.Op == opFinishAIRun):
		return fmt.Errorf("%w: canvas %s: node %s: %w", canvases.ErrOutcomeUnknown, req.Canvas, target, err)
	default:
		return fmt.Errorf("%w: canvas %s: node %s: %w", canvases.ErrUnavailable, req.Canvas, target, err)
	}
}

// verdict is what a failed attempt means for the call.
type verdict int

const (
	verdictFinal    verdict = iota // return the error
	verdictRedirect                // go to the holder named, at once
	verdictRetry                   // nothing was done: back off and try again
	verdictUnknown                 // the attempt may have reached an owner
)

// classify says what err, of an attempt, means, why (the reason label of
// the retries counter), and the holder a NotOwnerError names.
func classify(err error) (v verdict, reason, holder string) {
	var notOwner *canvases.NotOwnerError
	switch {
	case errors.Is(err, errRouterClosed):
		return verdictFinal, "", ""
	case errors.As(err, &notOwner):
		return verdictRedirect, "not_owner", notOwner.Holder
	case errors.Is(err, canvases.ErrOutcomeUnknown):
		if errors.Is(err, errAttemptTimeout) {
			return verdictUnknown, "timeout", ""
		}
		return verdictUnknown, "outcome_unknown", ""
	case errors.Is(err, canvases.ErrUnavailable):
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			return verdictRetry, "no_responders", ""
		case errors.Is(err, errAttemptTimeout):
			return verdictRetry, "timeout", ""
		}
		return verdictRetry, "unavailable", ""
	}
	return verdictFinal, "", ""
}

// failed counts a failed attempt on canvasID and updates the holder known:
// the holder a redirect names, else none, so that the next attempt looks
// it up again.
func (r *Router) failed(canvasID string, v verdict, reason, holder string) {
	r.metrics.retries.WithLabelValues(reason).Inc()
	r.cfg.Logger.Debug("cluster: call to try again", "canvas_id", canvasID, "reason", reason, "holder", holder)
	if v == verdictRedirect && holder != "" {
		r.remember(canvasID, holder)
		return
	}
	r.forget(canvasID)
}

// hold is a call's budget of attempts: HoldFor from its start, and the
// backoff between attempts.
type hold struct {
	holdFor   time.Duration
	deadline  time.Time
	backoff   time.Duration
	redirects int
	reached   bool  // an attempt may have reached an owner
	last      error // the last attempt's error
}

func (r *Router) newHold() *hold {
	return &hold{holdFor: r.cfg.HoldFor, deadline: time.Now().Add(r.cfg.HoldFor), backoff: minBackoff}
}

// next records a failed attempt and returns how long to wait before the
// next one; false when that would pass HoldFor.
func (h *hold) next(v verdict, err error) (time.Duration, bool) {
	h.last = err
	if v == verdictUnknown {
		h.reached = true
	}
	var d time.Duration
	if v == verdictRedirect && h.redirects < maxRedirects {
		h.redirects++
	} else {
		if v != verdictRedirect {
			h.redirects = 0
		}
		d = h.backoff
		h.backoff = min(2*h.backoff, maxBackoff)
	}
	if !time.Now().Add(d).Before(h.deadline) {
		return 0, false
	}
	return d, true
}

// giveUp is the error of a call that found no owner within HoldFor:
// ErrOutcomeUnknown when an attempt may have reached one, else the last
// error, which is ErrUnavailable.
func (h *hold) giveUp(canvasID string) error {
	if h.reached {
		return fmt.Errorf("%w: canvas %s: no owner answered within %v: %v", canvases.ErrOutcomeUnknown, canvasID, h.holdFor, h.last)
	}
	return fmt.Errorf("cluster: canvas %s: no owner answered within %v: %w", canvasID, h.holdFor, h.last)
}

// sleep waits d, or until ctx ends or the router shuts down.
func (r *Router) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.closed:
		return errRouterClosed
	}
}
