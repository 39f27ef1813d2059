package store

import (
	"context"
	"sort"
	"time"
)

// AIRun is one run of an AI card, recorded when it ends.
type AIRun struct {
	ID           string
	UserID       string
	CanvasID     string
	NodeID       string
	Provider     string
	Model        string
	InputTokens  int64
	OutputTokens int64
	Duration     time.Duration
	Outcome      string // done | error | cancelled
	Error        string
	CreatedAt    time.Time
}

// AIUsage is a user's AI usage on one UTC day with one model.
type AIUsage struct {
	Day          string // YYYY-MM-DD, UTC
	Provider     string
	Model        string
	Runs         int64
	InputTokens  int64
	OutputTokens int64
}

// RecordAIRun stores a finished run; a second record with the same id is
// ErrConflict.
func (s *sqlStore) RecordAIRun(ctx context.Context, r AIRun) error {
	_, err := s.write.exec(ctx, "INSERT INTO ai_runs (id, user_id, canvas_id, node_id, provider, model,"+
		" input_tokens, output_tokens, duration_ms, outcome, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.UserID, r.CanvasID, r.NodeID, r.Provider, r.Model, r.InputTokens, r.OutputTokens,
		r.Duration.Milliseconds(), r.Outcome, r.Error, r.CreatedAt.UTC())
	return s.fail(err, "record ai run %s", r.ID)
}

// AIUsage returns userID's usage since a time, by day and model, newest
// day first.
func (s *sqlStore) AIUsage(ctx context.Context, userID string, since time.Time) ([]AIUsage, error) {
	type key struct{ day, provider, model string }
	sums := map[key]*AIUsage{}
	err := queryAll(ctx, s.read, "SELECT provider, model, input_tokens, output_tokens, created_at FROM ai_runs"+
		" WHERE user_id = ? AND created_at >= ?", []any{userID, since.UTC()}, func(r rows) error {
		var provider, model string
		var in, out int64
		var at time.Time
		if err := r.Scan(&provider, &model, &in, &out, timeCol{&at}); err != nil {
			return err
		}
		k := key{at.UTC().Format(time.DateOnly), provider, model}
		u := sums[k]
		if u == nil {
			u = &AIUsage{Day: k.day, Provider: provider, Model: model}
			sums[k] = u
		}
		u.Runs++
		u.InputTokens += in
		u.OutputTokens += out
		return nil
	})
	if err != nil {
		return nil, s.fail(err, "ai usage of user %s", userID)
	}
	out := make([]AIUsage, 0, len(sums))
	for _, u := range sums {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Day != out[j].Day {
			return out[i].Day > out[j].Day
		}
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Model < out[j].Model
	})
	return out, nil
}
