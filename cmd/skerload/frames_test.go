package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/skerhq/sker/canvas"
	"github.com/skerhq/sker/journal"
)

// changesFrameOf builds a "changes" frame the way the server does: each
// batch a json.Marshal of journal.Committed, joined in the frame.
func changesFrameOf(t *testing.T, canvasID string, batches []journal.Committed) []byte {
	t.Helper()
	id, _ := json.Marshal(canvasID)
	var b strings.Builder
	b.WriteString(`{"type":"changes","canvas":` + string(id) + `,"batches":[`)
	for i, c := range batches {
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func stampSet(t int64, x float64) map[string]json.RawMessage {
	tb, _ := json.Marshal(t)
	xb, _ := json.Marshal(x)
	return map[string]json.RawMessage{"data.t": tb, "x": xb}
}

// The scanner must read what encoding/json reads from the frames the
// harness causes: seq, at, the number of ops and the stamps.
func TestScanChangesAgreesWithJSON(t *testing.T) {
	x := 3.0
	batches := []journal.Committed{
		{Seq: 41, Author: "0199-user", At: 1_700_000_000_123, ClientBatchID: "7.1700000000123456789",
			Ops: []canvas.Op{{Op: canvas.OpNodeUpdate, ID: "c7", Set: stampSet(1_700_000_000_123_456_789, 0)}}},
		{Seq: 42, Author: "0199-user", At: 1_700_000_000_124, // no cbid, two ops, one stamp
			Ops: []canvas.Op{
				{Op: canvas.OpNodeUpdate, ID: "b0", Set: stampSet(1_700_000_000_124_000_000, 12)},
				{Op: canvas.OpNodeUpdate, ID: "b1", Set: map[string]json.RawMessage{"x": json.RawMessage("5")}},
			}},
		{Seq: 43, Author: "0199-user", At: 1_700_000_000_125, ClientBatchID: "setup",
			Ops: []canvas.Op{{Op: canvas.OpNodeAdd, ID: "k1", Kind: "note", X: &x, Y: &x,
				Data: map[string]json.RawMessage{"text": json.RawMessage(`"card 1 abc"`)}}}},
	}
	frame := changesFrameOf(t, "0199abcd-canvas", batches)
	var got []batchInfo
	var scratch batchInfo
	id, err := scanChanges(frame, &scratch, func(b *batchInfo) {
		c := *b
		c.Stamps = append([]int64(nil), b.Stamps...)
		got = append(got, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	if id != "0199abcd-canvas" {
		t.Errorf("canvas = %q; want 0199abcd-canvas", id)
	}
	if len(got) != len(batches) {
		t.Fatalf("batches = %d; want %d", len(got), len(batches))
	}
	for i, want := range batches {
		g := got[i]
		var stamps []int64
		for _, op := range want.Ops {
			if raw, ok := op.Set["data.t"]; ok {
				var v int64
				_ = json.Unmarshal(raw, &v)
				stamps = append(stamps, v)
			}
		}
		if g.Seq != want.Seq || g.At != want.At || g.Ops != len(want.Ops) || len(g.Stamps) != len(stamps) {
			t.Errorf("batch %d = %+v; want seq %d, at %d, %d ops, stamps %v", i, g, want.Seq, want.At, len(want.Ops), stamps)
			continue
		}
		for j := range stamps {
			if g.Stamps[j] != stamps[j] {
				t.Errorf("batch %d stamp %d = %d; want %d", i, j, g.Stamps[j], stamps[j])
			}
		}
	}
}

func TestScanChangesRejectsOtherForms(t *testing.T) {
	for _, frame := range []string{
		`{"type":"ack","canvas":"c","seq":1}`,
		`{"type":"changes","canvas":"c"}`,
		`{"type":"changes","canvas":"c","batches":[{"seq":x}]}`,
		`{"type":"changes","canvas":"c","batches":[{"seq":1,"author":"u"}]}`,
		`{"type":"changes","canvas":"c","batches":[{"seq":1,"author":"u","at":5,"ops":[{"op":"node.update","set":{"data.t":"no"}}]}]}`,
	} {
		var b batchInfo
		if _, err := scanChanges([]byte(frame), &b, func(*batchInfo) {}); err == nil {
			t.Errorf("scanChanges(%s) = nil error; want one", frame)
		}
	}
}

// The frames the harness sends must be what the gateway's strict decoder
// accepts: valid JSON, ops that decode as canvas ops.
func TestClientFramesDecode(t *testing.T) {
	frame := appendOpsFrame(nil, "canvas-1", 3, 1234, func(b []byte) []byte {
		b = append(stampOp(append(b, '['), "c1", 1234, true, -1), ',')
		b = append(stampOp(b, "b2", 99, true, 7), ',')
		return append(stampOp(b, "b3", 0, false, 8), ']')
	})
	var f struct {
		Type   string          `json:"type"`
		Canvas string          `json:"canvas"`
		CBID   string          `json:"cbid"`
		Ops    json.RawMessage `json:"ops"`
	}
	if err := json.Unmarshal(frame, &f); err != nil {
		t.Fatalf("ops frame is not JSON: %v\n%s", err, frame)
	}
	decoded, err := canvas.DecodeOps(f.Ops)
	if err != nil {
		t.Fatalf("ops do not decode as canvas ops: %v", err)
	}
	if len(decoded) != 3 || string(decoded[0].Set["data.t"]) != "1234" || string(decoded[1].Set["x"]) != "7" || decoded[2].Set["data.t"] != nil {
		t.Errorf("decoded ops = %+v", decoded)
	}
	if ts, ok := cbidTime(f.CBID); !ok || ts != 1234 {
		t.Errorf("cbidTime(%q) = %d, %v; want 1234, true", f.CBID, ts, ok)
	}
	if _, ok := cbidTime("setup"); ok {
		t.Errorf("cbidTime(setup) ok; want false")
	}
	if got := frameType([]byte(`{"type":"joined","canvas":"x"}`)); got != "joined" {
		t.Errorf("frameType = %q; want joined", got)
	}
}
