package journal

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/skerhq/sker/canvas"
)

// TestCommittedAppendJSON: the journal record and the "changes" frame hold
// batches as json.Marshal encodes them, so AppendJSON must write the same
// bytes and fail with the same error, whichever path it takes.
func TestCommittedAppendJSON(t *testing.T) {
	x, nan := 12.5, math.NaN()
	cases := []struct {
		name string
		c    Committed
	}{
		{"one update", Committed{Seq: 7, Author: "u1", At: 1700000000000, ClientBatchID: "b-1",
			Ops: []canvas.Op{{Op: canvas.OpNodeUpdate, ID: "n1", Set: map[string]json.RawMessage{"data.text": json.RawMessage(`"v"`)}}}}},
		{"no cbid", Committed{Seq: 1, Author: "ü<&>", At: -3, Ops: []canvas.Op{{Op: canvas.OpNodeAdd, ID: "a", Kind: "text", X: &x}}}},
		{"nil ops", Committed{Seq: math.MaxUint64, Author: "", At: math.MinInt64}},
		{"raw not compact", Committed{Seq: 2, Author: "a", Ops: []canvas.Op{{Op: canvas.OpNodeUpdate, ID: "n",
			Set: map[string]json.RawMessage{"data.k": json.RawMessage(` { "a" : "<b>" } `)}}}}},
		{"raw invalid", Committed{Seq: 2, Author: "a", Ops: []canvas.Op{{Op: canvas.OpNodeUpdate, ID: "n",
			Set: map[string]json.RawMessage{"data.k": json.RawMessage(`{`)}}}}},
		{"NaN", Committed{Seq: 2, Author: "a", Ops: []canvas.Op{{Op: canvas.OpNodeAdd, ID: "n", Y: &nan}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, wantErr := json.Marshal(c.c)
			got, err := c.c.AppendJSON([]byte("head"))
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("error: got %v; want %v", err, wantErr)
			}
			if err != nil {
				if string(got) != "head" {
					t.Errorf("on error: got %q; want dst as given", got)
				}
				return
			}
			if !bytes.Equal(got, append([]byte("head"), want...)) {
				t.Errorf("got  %s\nwant head%s", got, want)
			}
		})
	}
}
