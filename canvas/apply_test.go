package canvas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/skerhq/sker/apierr"
)

// validPrefix is a run of valid ops of every kind. Each rejection case is
// also run with it in front of the failing op, which must then be rolled
// back with the rest of the batch.
func validPrefix() []Op {
	return []Op{
		{Op: OpNodeAdd, ID: "p1", Kind: "note", X: ptr(5.0), Data: raws("k", `1`)},
		{Op: OpNodeAdd, ID: "p2", Kind: "text"},
		{Op: OpEdgeAdd, ID: "pe", Source: "p1", Target: "p2"},
		{Op: OpEdgeAdd, ID: "pc", Source: "a", Target: "c"},
		{Op: OpNodeUpdate, ID: "a", Set: raws("x", `7`, "data.q", `"v"`), Unset: []string{"data.title"}},
		{Op: OpNodeDelete, ID: "p2"},
		{Op: OpEdgeDelete, ID: "ab"},
		{Op: OpCanvasUpdate, Title: ptr("Prefixed"), Settings: raws("theme", `"dark"`)},
	}
}

type rejectCase struct {
	name   string
	limits Limits
	ops    []Op
	code   string
	index  int
	// noPrefix: the valid prefix would change the outcome (it fills the
	// canvas, or makes an empty batch non-empty).
	noPrefix bool
}

func rejectCases() []rejectCase {
	long := strings.Repeat("x", MaxIDLen+1)
	bigString := `"` + strings.Repeat("z", 100) + `"`
	small := Limits{MaxDataBytes: 64}
	return []rejectCase{
		// invalid_op
		{name: "op name missing", ops: []Op{{ID: "n"}}, code: apierr.CodeInvalidOp},
		{name: "node.add with source", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Source: "a"}}, code: apierr.CodeInvalidOp},
		{name: "node.add with set", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Set: raws("x", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "node.add with title", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Title: ptr("t")}}, code: apierr.CodeInvalidOp},
		{name: "node.add without kind", ops: []Op{{Op: OpNodeAdd, ID: "n"}}, code: apierr.CodeInvalidOp},
		{name: "node.add data value not JSON", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Data: raws("k", `{`)}}, code: apierr.CodeInvalidOp},
		{name: "node.add data value empty", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Data: raws("k", ``)}}, code: apierr.CodeInvalidOp},
		{name: "node.add data key empty", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Data: raws("", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "node.add data key too long", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Data: raws(strings.Repeat("k", MaxKeyLen+1), `1`)}}, code: apierr.CodeInvalidOp},
		{name: "node.add data key bad UTF-8", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Data: raws("k\xff", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "node.update with x field", ops: []Op{{Op: OpNodeUpdate, ID: "a", X: ptr(1.0)}}, code: apierr.CodeInvalidOp},
		{name: "node.update with kind", ops: []Op{{Op: OpNodeUpdate, ID: "a", Kind: "note", Set: raws("x", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "node.update with data", ops: []Op{{Op: OpNodeUpdate, ID: "a", Data: raws("k", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "node.update without set or unset", ops: []Op{{Op: OpNodeUpdate, ID: "a"}}, code: apierr.CodeInvalidOp},
		{name: "node.update empty set", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws()}}, code: apierr.CodeInvalidOp},
		{name: "node.update set and unset same key", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("data.k", `1`), Unset: []string{"data.k"}}}, code: apierr.CodeInvalidOp},
		{name: "node.update unknown property", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("color", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "node.update kind is not settable", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("kind", `"note"`)}}, code: apierr.CodeInvalidOp},
		{name: "node.update x not a number", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("x", `"1"`)}}, code: apierr.CodeInvalidOp},
		{name: "node.update x not JSON", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("x", `NaN`)}}, code: apierr.CodeInvalidOp},
		{name: "node.update set empty data key", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("data.", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "node.update set data value not JSON", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("data.k", `[1,`)}}, code: apierr.CodeInvalidOp},
		{name: "node.update unset geometry", ops: []Op{{Op: OpNodeUpdate, ID: "a", Unset: []string{"x"}}}, code: apierr.CodeInvalidOp},
		{name: "node.update unset empty data key", ops: []Op{{Op: OpNodeUpdate, ID: "a", Unset: []string{"data."}}}, code: apierr.CodeInvalidOp},
		{name: "node.delete with kind", ops: []Op{{Op: OpNodeDelete, ID: "a", Kind: "text"}}, code: apierr.CodeInvalidOp},
		{name: "node.delete with unset", ops: []Op{{Op: OpNodeDelete, ID: "a", Unset: []string{"data.k"}}}, code: apierr.CodeInvalidOp},
		{name: "edge.add with x", ops: []Op{{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "c", X: ptr(1.0)}}, code: apierr.CodeInvalidOp},
		{name: "edge.add without source", ops: []Op{{Op: OpEdgeAdd, ID: "e", Target: "c"}}, code: apierr.CodeInvalidOp},
		{name: "edge.add without target", ops: []Op{{Op: OpEdgeAdd, ID: "e", Source: "a"}}, code: apierr.CodeInvalidOp},
		{name: "edge.add self-loop", ops: []Op{{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "a"}}, code: apierr.CodeInvalidOp},
		{name: "edge.add data key empty", ops: []Op{{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "c", Data: raws("", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "edge.delete with data", ops: []Op{{Op: OpEdgeDelete, ID: "ab", Data: raws("k", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "canvas.update with id", ops: []Op{{Op: OpCanvasUpdate, ID: "a", Title: ptr("t")}}, code: apierr.CodeInvalidOp},
		{name: "canvas.update with nothing", ops: []Op{{Op: OpCanvasUpdate}}, code: apierr.CodeInvalidOp},
		{name: "canvas.update empty title", ops: []Op{{Op: OpCanvasUpdate, Title: ptr("")}}, code: apierr.CodeInvalidOp},
		{name: "canvas.update blank title", ops: []Op{{Op: OpCanvasUpdate, Title: ptr(" \t\n ")}}, code: apierr.CodeInvalidOp},
		{name: "canvas.update title too long", ops: []Op{{Op: OpCanvasUpdate, Title: ptr(strings.Repeat("é", MaxTitleLen+1))}}, code: apierr.CodeInvalidOp},
		{name: "canvas.update title bad UTF-8", ops: []Op{{Op: OpCanvasUpdate, Title: ptr("a\xffb")}}, code: apierr.CodeInvalidOp},
		{name: "canvas.update settings key empty", ops: []Op{{Op: OpCanvasUpdate, Settings: raws("", `1`)}}, code: apierr.CodeInvalidOp},
		{name: "canvas.update settings value not JSON", ops: []Op{{Op: OpCanvasUpdate, Settings: raws("k", `tru`)}}, code: apierr.CodeInvalidOp},

		// unknown_op
		{name: "unknown op", ops: []Op{{Op: "node.move", ID: "a"}}, code: apierr.CodeUnknownOp},
		{name: "op names are case-sensitive", ops: []Op{{Op: "NODE.ADD", ID: "n", Kind: "text"}}, code: apierr.CodeUnknownOp},

		// invalid_id
		{name: "node.add empty id", ops: []Op{{Op: OpNodeAdd, Kind: "text"}}, code: apierr.CodeInvalidID},
		{name: "node.add id too long", ops: []Op{{Op: OpNodeAdd, ID: long, Kind: "text"}}, code: apierr.CodeInvalidID},
		{name: "node.add id with space", ops: []Op{{Op: OpNodeAdd, ID: "a b", Kind: "text"}}, code: apierr.CodeInvalidID},
		{name: "node.add id with slash", ops: []Op{{Op: OpNodeAdd, ID: "a/b", Kind: "text"}}, code: apierr.CodeInvalidID},
		{name: "node.add id non-ASCII", ops: []Op{{Op: OpNodeAdd, ID: "é", Kind: "text"}}, code: apierr.CodeInvalidID},
		{name: "node.add id NATS wildcard", ops: []Op{{Op: OpNodeAdd, ID: "a*", Kind: "text"}}, code: apierr.CodeInvalidID},
		{name: "edge.add empty id", ops: []Op{{Op: OpEdgeAdd, Source: "a", Target: "c"}}, code: apierr.CodeInvalidID},
		{name: "edge.add id too long", ops: []Op{{Op: OpEdgeAdd, ID: long, Source: "a", Target: "c"}}, code: apierr.CodeInvalidID},
		{name: "edge.add id bad chars", ops: []Op{{Op: OpEdgeAdd, ID: "e>", Source: "a", Target: "c"}}, code: apierr.CodeInvalidID},

		// unknown_id
		{name: "node.update missing node", ops: []Op{{Op: OpNodeUpdate, ID: "zz", Set: raws("x", `1`)}}, code: apierr.CodeUnknownID},
		{name: "node.update empty id", ops: []Op{{Op: OpNodeUpdate, Set: raws("x", `1`)}}, code: apierr.CodeUnknownID},
		{name: "node.delete missing node", ops: []Op{{Op: OpNodeDelete, ID: "zz"}}, code: apierr.CodeUnknownID},
		{name: "edge.delete missing edge", ops: []Op{{Op: OpEdgeDelete, ID: "zz"}}, code: apierr.CodeUnknownID},
		{name: "edge.delete names a node", ops: []Op{{Op: OpEdgeDelete, ID: "a"}}, code: apierr.CodeUnknownID},
		{name: "node.update after delete in batch", ops: []Op{
			{Op: OpNodeDelete, ID: "c"},
			{Op: OpNodeUpdate, ID: "c", Set: raws("x", `1`)},
		}, code: apierr.CodeUnknownID, index: 1},
		{name: "node.delete twice in batch", ops: []Op{
			{Op: OpNodeDelete, ID: "c"},
			{Op: OpNodeDelete, ID: "c"},
		}, code: apierr.CodeUnknownID, index: 1},
		{name: "edge.delete of edge gone with its node", ops: []Op{
			{Op: OpNodeDelete, ID: "b"},
			{Op: OpEdgeDelete, ID: "ab"},
		}, code: apierr.CodeUnknownID, index: 1, noPrefix: true}, // the prefix deletes ab itself

		// duplicate_id
		{name: "node.add existing node", ops: []Op{{Op: OpNodeAdd, ID: "a", Kind: "text"}}, code: apierr.CodeDuplicateID},
		{name: "node.add twice in batch", ops: []Op{
			{Op: OpNodeAdd, ID: "n", Kind: "text"},
			{Op: OpNodeAdd, ID: "n", Kind: "note"},
		}, code: apierr.CodeDuplicateID, index: 1},
		{name: "edge.add existing edge", ops: []Op{{Op: OpEdgeAdd, ID: "ab", Source: "a", Target: "c"}}, code: apierr.CodeDuplicateID, noPrefix: true}, // the prefix deletes ab
		{name: "edge.add twice in batch", ops: []Op{
			{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "c"},
			{Op: OpEdgeAdd, ID: "e", Source: "c", Target: "b"},
		}, code: apierr.CodeDuplicateID, index: 1},

		// missing_node
		{name: "edge.add missing source", ops: []Op{{Op: OpEdgeAdd, ID: "e", Source: "zz", Target: "a"}}, code: apierr.CodeMissingNode},
		{name: "edge.add missing target", ops: []Op{{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "zz"}}, code: apierr.CodeMissingNode},
		{name: "edge.add to node deleted in batch", ops: []Op{
			{Op: OpNodeDelete, ID: "c"},
			{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "c"},
		}, code: apierr.CodeMissingNode, index: 1},

		// kind_not_allowed
		{name: "node kind unknown", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "video"}}, code: apierr.CodeKindNotAllowed},
		{name: "node kind wrong case", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "Text"}}, code: apierr.CodeKindNotAllowed},
		{name: "edge kind unknown", ops: []Op{{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "c", Kind: "fancy"}}, code: apierr.CodeKindNotAllowed},

		// invalid_number
		{name: "node.add x NaN", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", X: ptr(math.NaN())}}, code: apierr.CodeInvalidNumber},
		{name: "node.add y +Inf", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Y: ptr(math.Inf(1))}}, code: apierr.CodeInvalidNumber},
		{name: "node.add w -Inf", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", W: ptr(math.Inf(-1))}}, code: apierr.CodeInvalidNumber},
		{name: "node.add h NaN", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", H: ptr(math.NaN())}}, code: apierr.CodeInvalidNumber},
		{name: "node.add z NaN", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Z: ptr(math.NaN())}}, code: apierr.CodeInvalidNumber},
		{name: "node.add z +Inf", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Z: ptr(math.Inf(1))}}, code: apierr.CodeInvalidNumber},
		{name: "node.add x over range", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", X: ptr(MaxCoord + 1)}}, code: apierr.CodeInvalidNumber},
		{name: "node.add y under range", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Y: ptr(-MaxCoord - 1)}}, code: apierr.CodeInvalidNumber},
		{name: "node.add w zero", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", W: ptr(0.0)}}, code: apierr.CodeInvalidNumber},
		{name: "node.add w below 1", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", W: ptr(0.5)}}, code: apierr.CodeInvalidNumber},
		{name: "node.add h negative", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", H: ptr(-10.0)}}, code: apierr.CodeInvalidNumber},
		{name: "node.add h over range", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", H: ptr(MaxSize + 1)}}, code: apierr.CodeInvalidNumber},
		{name: "node.add z fractional", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Z: ptr(1.5)}}, code: apierr.CodeInvalidNumber},
		{name: "node.add z huge", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Z: ptr(MaxZ + 1)}}, code: apierr.CodeInvalidNumber},
		{name: "node.add z past int64", ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Z: ptr(1e19)}}, code: apierr.CodeInvalidNumber},
		{name: "node.update set x over range", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("x", `1e8`)}}, code: apierr.CodeInvalidNumber},
		{name: "node.update set y under range", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("y", `-10000000.5`)}}, code: apierr.CodeInvalidNumber},
		{name: "node.update set w zero", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("w", `0`)}}, code: apierr.CodeInvalidNumber},
		{name: "node.update set h over range", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("h", `1e6`)}}, code: apierr.CodeInvalidNumber},
		{name: "node.update set z fractional", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("z", `2.5`)}}, code: apierr.CodeInvalidNumber},
		{name: "node.update set z huge", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("z", `1e10`)}}, code: apierr.CodeInvalidNumber},
		{name: "node.update set z below range", ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("z", `-1000000001`)}}, code: apierr.CodeInvalidNumber},

		// data_too_large (MaxDataBytes 64; a string of 100 bytes is over on its own)
		{name: "node.add data over cap", limits: small, ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Data: raws("k", bigString)}}, code: apierr.CodeDataTooLarge},
		{name: "node.add data just over cap", limits: small, ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Data: raws("k", `"`+strings.Repeat("z", 56)+`"`)}}, code: apierr.CodeDataTooLarge},
		{name: "node.update growing data over cap", limits: small, ops: []Op{
			{Op: OpNodeUpdate, ID: "c", Set: raws("data.k1", `"`+strings.Repeat("z", 20)+`"`)},
			{Op: OpNodeUpdate, ID: "c", Set: raws("data.k2", `"`+strings.Repeat("z", 20)+`"`)},
		}, code: apierr.CodeDataTooLarge, index: 1},
		{name: "edge.add data over cap", limits: small, ops: []Op{{Op: OpEdgeAdd, ID: "e", Source: "a", Target: "c", Data: raws("k", bigString)}}, code: apierr.CodeDataTooLarge},
		{name: "settings over cap", ops: []Op{{Op: OpCanvasUpdate, Settings: raws("k", `"`+strings.Repeat("s", MaxSettingsBytes)+`"`)}}, code: apierr.CodeDataTooLarge},
		{name: "settings growing over cap", ops: []Op{
			{Op: OpCanvasUpdate, Settings: raws("k1", `"`+strings.Repeat("s", MaxSettingsBytes/2)+`"`)},
			{Op: OpCanvasUpdate, Settings: raws("k2", `"`+strings.Repeat("s", MaxSettingsBytes/2)+`"`)},
		}, code: apierr.CodeDataTooLarge, index: 1},

		// batch_too_large
		{name: "ops over MaxBatchOps", limits: Limits{MaxBatchOps: 3}, ops: []Op{
			{Op: OpNodeAdd, ID: "n1", Kind: "text"},
			{Op: OpNodeAdd, ID: "n2", Kind: "text"},
			{Op: OpNodeAdd, ID: "n3", Kind: "text"},
			{Op: OpNodeAdd, ID: "n4", Kind: "text"},
		}, code: apierr.CodeBatchTooLarge, index: -1},
		{name: "ops over default MaxBatchOps", ops: slices.Repeat([]Op{{Op: OpCanvasUpdate, Title: ptr("t")}}, DefaultLimits.MaxBatchOps+1), code: apierr.CodeBatchTooLarge, index: -1},

		// canvas_full (the fixture holds 3 nodes)
		{name: "canvas at its node cap", limits: Limits{MaxNodes: 3}, ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text"}}, code: apierr.CodeCanvasFull, noPrefix: true},
		{name: "batch fills the canvas", limits: Limits{MaxNodes: 4}, ops: []Op{
			{Op: OpNodeAdd, ID: "n1", Kind: "text"},
			{Op: OpNodeAdd, ID: "n2", Kind: "text"},
		}, code: apierr.CodeCanvasFull, index: 1, noPrefix: true},

		// empty_batch
		{name: "nil ops", ops: nil, code: apierr.CodeEmptyBatch, index: -1, noPrefix: true},
		{name: "empty ops", ops: []Op{}, code: apierr.CodeEmptyBatch, index: -1, noPrefix: true},
	}
}

// TestApplyRejects checks every validation code: the code, the index of the
// op at fault, and that the state (export bytes, seq, internal links) is
// exactly as before, also when valid ops ran before the failing one.
func TestApplyRejects(t *testing.T) {
	codes := map[string]bool{}
	for _, tc := range rejectCases() {
		codes[tc.code] = true
		t.Run(tc.name, func(t *testing.T) {
			checkReject(t, tc.limits, tc.ops, tc.code, tc.index)
		})
		if tc.noPrefix {
			continue
		}
		prefix := validPrefix()
		t.Run(tc.name+"/after valid ops", func(t *testing.T) {
			index := tc.index
			if index >= 0 {
				index += len(prefix)
			}
			checkReject(t, tc.limits, append(prefix, tc.ops...), tc.code, index)
		})
	}
	for _, code := range allCodes() {
		if code != apierr.CodeForbidden && !codes[code] {
			t.Errorf("no rejection case for code %q", code)
		}
	}
}

func checkReject(t *testing.T, limits Limits, ops []Op, code string, index int) {
	t.Helper()
	s := newFixture(t, limits)
	mustApply(t, s, Batch{Author: "setup", At: 2, Ops: []Op{{Op: OpCanvasUpdate, Settings: raws("grid", `8`)}}})
	before := exportJSON(t, s)
	seq := s.Seq

	u, err := s.Apply(Batch{Author: "u1", At: 99, Ops: ops})
	oe := asOpError(t, err)
	if oe.Code != code || oe.Index != index {
		t.Fatalf("rejection: got %s at %d (%v); want %s at %d", oe.Code, oe.Index, oe, code, index)
	}
	if u != nil {
		t.Fatalf("undo: got %v; want nil on rejection", u)
	}
	if oe.Message == "" {
		t.Fatalf("rejection %s has no message", oe.Code)
	}
	if s.Seq != seq {
		t.Fatalf("seq after rejection: got %d; want %d", s.Seq, seq)
	}
	if after := exportJSON(t, s); !bytes.Equal(after, before) {
		t.Fatalf("export after rejection:\n got %s\nwant %s", after, before)
	}
	requireConsistent(t, s)
	// The state is still usable: a valid batch applies on top.
	mustApply(t, s, Batch{Author: "u1", At: 100, Ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("x", `1`)}}})
	if s.Seq != seq+1 {
		t.Fatalf("seq after next batch: got %d; want %d", s.Seq, seq+1)
	}
}

func allCodes() []string {
	return []string{
		apierr.CodeInvalidOp, apierr.CodeUnknownOp, apierr.CodeInvalidID, apierr.CodeUnknownID, apierr.CodeDuplicateID,
		apierr.CodeMissingNode, apierr.CodeKindNotAllowed, apierr.CodeInvalidNumber, apierr.CodeDataTooLarge,
		apierr.CodeBatchTooLarge, apierr.CodeCanvasFull, apierr.CodeEmptyBatch, apierr.CodeForbidden,
	}
}

func TestOpErrorAPI(t *testing.T) {
	tests := []struct {
		code   string
		status int
	}{
		{apierr.CodeInvalidOp, http.StatusBadRequest},
		{apierr.CodeUnknownOp, http.StatusBadRequest},
		{apierr.CodeInvalidID, http.StatusBadRequest},
		{apierr.CodeUnknownID, http.StatusBadRequest},
		{apierr.CodeDuplicateID, http.StatusBadRequest},
		{apierr.CodeMissingNode, http.StatusBadRequest},
		{apierr.CodeKindNotAllowed, http.StatusBadRequest},
		{apierr.CodeInvalidNumber, http.StatusBadRequest},
		{apierr.CodeDataTooLarge, http.StatusRequestEntityTooLarge},
		{apierr.CodeBatchTooLarge, http.StatusRequestEntityTooLarge},
		{apierr.CodeCanvasFull, http.StatusConflict},
		{apierr.CodeEmptyBatch, http.StatusBadRequest},
		{apierr.CodeForbidden, http.StatusForbidden},
	}
	if len(tests) != len(allCodes()) {
		t.Fatalf("status table covers %d codes; want %d", len(tests), len(allCodes()))
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			for _, index := range []int{-1, 3} {
				e := &OpError{Code: tc.code, Message: "why", Index: index}
				api := e.API()
				if api.Status != tc.status || api.Code != tc.code {
					t.Fatalf("API(): got %d %s; want %d %s", api.Status, api.Code, tc.status, tc.code)
				}
				wantMsg, wantErr := "why", tc.code+": why"
				if index >= 0 {
					wantMsg, wantErr = "op 3: why", "op 3: "+tc.code+": why"
				}
				if api.Message != wantMsg {
					t.Fatalf("API().Message: got %q; want %q", api.Message, wantMsg)
				}
				if got := e.Error(); got != wantErr {
					t.Fatalf("Error(): got %q; want %q", got, wantErr)
				}
			}
		})
	}
}

func TestNodeAddDefaults(t *testing.T) {
	s := NewState("cv", Meta{}, Limits{})
	u := mustApply(t, s, Batch{Author: "ann", At: 1700, Ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "note"}}})
	n := s.Nodes["n"]
	if n == nil {
		t.Fatalf("node n not added")
	}
	want := Node{ID: "n", Kind: "note", W: defaultW, H: defaultH, Author: "ann", CreatedAt: 1700, UpdatedAt: 1700}
	if n.ID != want.ID || n.Kind != want.Kind || n.X != 0 || n.Y != 0 || n.W != want.W || n.H != want.H || n.Z != 0 ||
		n.Author != want.Author || n.CreatedAt != want.CreatedAt || n.UpdatedAt != want.UpdatedAt {
		t.Fatalf("node: got %+v; want %+v", *n, want)
	}
	if n.Data == nil || len(n.Data) != 0 {
		t.Fatalf("data: got %#v; want an empty non-nil map", n.Data)
	}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatalf("marshal node: %v", err)
	}
	if !bytes.Contains(b, []byte(`"data":{}`)) {
		t.Fatalf("node JSON %s: want \"data\":{}", b)
	}
	if s.Seq != 1 {
		t.Fatalf("seq: got %d; want 1", s.Seq)
	}
	if prev, touched := u.PrevNode("n"); prev != nil || !touched {
		t.Fatalf("PrevNode(n): got %v, %v; want nil, true", prev, touched)
	}
}

func TestNodeAddExplicitAndBoundaryValues(t *testing.T) {
	tests := []struct {
		name       string
		op         Op
		x, y, w, h float64
		z          int64
	}{
		{"all set", Op{X: ptr(1.5), Y: ptr(-2.5), W: ptr(300.0), H: ptr(40.0), Z: ptr(7.0)}, 1.5, -2.5, 300, 40, 7},
		{"upper bounds", Op{X: ptr(MaxCoord), Y: ptr(MaxCoord), W: ptr(MaxSize), H: ptr(MaxSize), Z: ptr(MaxZ)}, MaxCoord, MaxCoord, MaxSize, MaxSize, MaxZ},
		{"lower bounds", Op{X: ptr(-MaxCoord), Y: ptr(-MaxCoord), W: ptr(1.0), H: ptr(1.0), Z: ptr(-MaxZ)}, -MaxCoord, -MaxCoord, 1, 1, -MaxZ},
		{"negative zero z", Op{Z: ptr(math.Copysign(0, -1))}, 0, 0, defaultW, defaultH, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState("cv", Meta{}, Limits{})
			op := tc.op
			op.Op, op.ID, op.Kind = OpNodeAdd, "n", "image"
			mustApply(t, s, Batch{Ops: []Op{op}})
			n := s.Nodes["n"]
			if n.X != tc.x || n.Y != tc.y || n.W != tc.w || n.H != tc.h || n.Z != tc.z {
				t.Fatalf("geometry: got (%g,%g %gx%g z%d); want (%g,%g %gx%g z%d)", n.X, n.Y, n.W, n.H, n.Z, tc.x, tc.y, tc.w, tc.h, tc.z)
			}
		})
	}
}

func TestIDRules(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"a", true},
		{strings.Repeat("A", MaxIDLen), true},
		{"Az09_-.:", true},
		{"018f5e2c-7b1a-7c3e-9d4f-0a1b2c3d4e5f", true},
		{"", false},
		{strings.Repeat("A", MaxIDLen+1), false},
		{"a b", false},
		{"a\tb", false},
		{"a\x00", false},
		{"a>", false},
		{"ü", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.id), func(t *testing.T) {
			s := NewState("cv", Meta{}, Limits{})
			_, err := s.Apply(Batch{Ops: []Op{{Op: OpNodeAdd, ID: tc.id, Kind: "text"}}})
			if tc.ok {
				if err != nil {
					t.Fatalf("node.add %q: got %v; want success", tc.id, err)
				}
				return
			}
			if oe := asOpError(t, err); oe.Code != apierr.CodeInvalidID {
				t.Fatalf("node.add %q: got %s; want %s", tc.id, oe.Code, apierr.CodeInvalidID)
			}
		})
	}
}

func TestNodeUpdate(t *testing.T) {
	s := newFixture(t, Limits{})
	before := s.Nodes["a"]
	beforeData := cloneRaw(before.Data)
	u := mustApply(t, s, Batch{Author: "bob", At: 500, Ops: []Op{{
		Op: OpNodeUpdate, ID: "a",
		Set: raws("x", `-3.25`, "y", `1e3`, "w", `1`, "h", `100000`, "z", `-4`,
			"data.body", ` { "text" : "hi", "n" : [1, 2] } `, "data.title", `"A2"`),
	}}})
	n := s.Nodes["a"]
	if n.X != -3.25 || n.Y != 1000 || n.W != 1 || n.H != 100000 || n.Z != -4 {
		t.Fatalf("geometry: got (%g,%g %gx%g z%d); want (-3.25,1000 1x100000 z-4)", n.X, n.Y, n.W, n.H, n.Z)
	}
	if got, want := string(n.Data["body"]), `{"text":"hi","n":[1,2]}`; got != want {
		t.Fatalf("data.body: got %s; want %s (compacted)", got, want)
	}
	if got, want := string(n.Data["title"]), `"A2"`; got != want {
		t.Fatalf("data.title: got %s; want %s", got, want)
	}
	if n.UpdatedAt != 500 || n.CreatedAt != 1 || n.Author != "setup" || n.Kind != "text" {
		t.Fatalf("stamps: got updated %d created %d author %q kind %q; want 500, 1, setup, text", n.UpdatedAt, n.CreatedAt, n.Author, n.Kind)
	}
	// The node value held before the update is untouched.
	if before.X != 10 || before.UpdatedAt != 1 || len(before.Data) != len(beforeData) || string(before.Data["title"]) != `"A"` {
		t.Fatalf("old *Node was modified in place: %+v", *before)
	}
	if prev, touched := u.PrevNode("a"); prev != before || !touched {
		t.Fatalf("PrevNode(a): got %p, %v; want %p, true", prev, touched, before)
	}

	mustApply(t, s, Batch{Author: "bob", At: 600, Ops: []Op{{Op: OpNodeUpdate, ID: "a", Unset: []string{"data.title", "data.absent"}}}})
	n = s.Nodes["a"]
	if _, ok := n.Data["title"]; ok {
		t.Fatalf("data.title still present after unset: %v", n.Data)
	}
	if got := sortedKeys(nil, n.Data); fmt.Sprint(got) != "[body]" {
		t.Fatalf("data keys after unset: got %v; want [body]", got)
	}
	if n.UpdatedAt != 600 {
		t.Fatalf("updated_at after unset: got %d; want 600", n.UpdatedAt)
	}
}

func TestNodeUpdateDataNullIsAValue(t *testing.T) {
	s := newFixture(t, Limits{})
	mustApply(t, s, Batch{Ops: []Op{{Op: OpNodeUpdate, ID: "a", Set: raws("data.title", `null`)}}})
	if got, ok := s.Nodes["a"].Data["title"]; !ok || string(got) != "null" {
		t.Fatalf("data.title: got %s, present %v; want null, present", got, ok)
	}
}

// TestConcurrentUpdates checks the design's rule for updates that reach the
// actor one after the other: the same property, last committed wins;
// different properties of one node, both survive.
func TestConcurrentUpdates(t *testing.T) {
	tests := []struct {
		name   string
		first  map[string]json.RawMessage
		second map[string]json.RawMessage
		x      float64
		data   string
	}{
		{"same geometry property", raws("x", `1`), raws("x", `2`), 2, `{"title":"A"}`},
		{"same data key", raws("data.title", `"first"`), raws("data.title", `"second"`), 10, `{"title":"second"}`},
		{"different properties", raws("x", `5`), raws("data.color", `"red"`), 5, `{"color":"red","title":"A"}`},
		{"different data keys", raws("data.k1", `1`), raws("data.k2", `2`), 10, `{"k1":1,"k2":2,"title":"A"}`},
	}
	for _, tc := range tests {
		for _, oneBatch := range []bool{false, true} {
			name := tc.name + "/separate batches"
			if oneBatch {
				name = tc.name + "/one batch"
			}
			t.Run(name, func(t *testing.T) {
				s := newFixture(t, Limits{})
				first := Op{Op: OpNodeUpdate, ID: "a", Set: tc.first}
				second := Op{Op: OpNodeUpdate, ID: "a", Set: tc.second}
				if oneBatch {
					mustApply(t, s, Batch{Author: "u1", At: 10, Ops: []Op{first, second}})
				} else {
					mustApply(t, s, Batch{Author: "u1", At: 10, Ops: []Op{first}})
					mustApply(t, s, Batch{Author: "u2", At: 11, Ops: []Op{second}})
				}
				n := s.Nodes["a"]
				data, err := json.Marshal(n.Data)
				if err != nil {
					t.Fatalf("marshal data: %v", err)
				}
				if n.X != tc.x || string(data) != tc.data {
					t.Fatalf("node a: got x=%g data=%s; want x=%g data=%s", n.X, data, tc.x, tc.data)
				}
			})
		}
	}
}

func TestNodeDeleteRemovesOnlyItsEdges(t *testing.T) {
	s := NewState("cv", Meta{}, Limits{})
	var ops []Op
	for _, id := range []string{"a", "b", "c", "d"} {
		ops = append(ops, Op{Op: OpNodeAdd, ID: id, Kind: "text"})
	}
	for _, e := range [][3]string{{"ab", "a", "b"}, {"bc", "b", "c"}, {"cd", "c", "d"}, {"ac", "a", "c"}, {"db", "d", "b"}} {
		ops = append(ops, Op{Op: OpEdgeAdd, ID: e[0], Source: e[1], Target: e[2]})
	}
	mustApply(t, s, Batch{Ops: ops})
	edges := map[string]*Edge{}
	for id, e := range s.Edges {
		edges[id] = e
	}

	u := mustApply(t, s, Batch{Ops: []Op{{Op: OpNodeDelete, ID: "b"}}})
	if _, ok := s.Nodes["b"]; ok {
		t.Fatalf("node b still present")
	}
	if got := sortedKeys(nil, s.Edges); fmt.Sprint(got) != "[ac cd]" {
		t.Fatalf("edges after deleting b: got %v; want [ac cd]", got)
	}
	if got := sortedKeys(nil, s.Nodes); fmt.Sprint(got) != "[a c d]" {
		t.Fatalf("nodes after deleting b: got %v; want [a c d]", got)
	}
	if got := sortedKeys(nil, s.links); fmt.Sprint(got) != "[a c d]" {
		t.Fatalf("links after deleting b: got %v; want [a c d]", got)
	}
	for _, id := range []string{"ab", "bc", "db"} {
		if prev, touched := u.PrevEdge(id); prev != edges[id] || !touched {
			t.Fatalf("PrevEdge(%s): got %v, %v; want the edge, true", id, prev, touched)
		}
	}
	if _, touched := u.PrevEdge("ac"); touched {
		t.Fatalf("PrevEdge(ac): touched; want untouched")
	}
	if got := slices.Sorted(slices.Values(u.EdgeIDs())); fmt.Sprint(got) != "[ab bc db]" {
		t.Fatalf("EdgeIDs: got %v; want [ab bc db]", got)
	}

	// A node re-added under the same id does not bring its old edges back.
	mustApply(t, s, Batch{Ops: []Op{{Op: OpNodeAdd, ID: "b", Kind: "text"}}})
	if got := sortedKeys(nil, s.Edges); fmt.Sprint(got) != "[ac cd]" {
		t.Fatalf("edges after re-adding b: got %v; want [ac cd]", got)
	}
}

func TestEdgeAddAndDelete(t *testing.T) {
	s := newFixture(t, Limits{})
	mustApply(t, s, Batch{Author: "eve", At: 42, Ops: []Op{
		{Op: OpEdgeAdd, ID: "ca", Source: "c", Target: "a", Data: raws("label", ` "ctx" `)},
		{Op: OpEdgeAdd, ID: "ba", Source: "b", Target: "a", Kind: "default"},
	}})
	e := s.Edges["ca"]
	if e == nil || e.Source != "c" || e.Target != "a" || e.Kind != "default" || e.Author != "eve" || e.CreatedAt != 42 {
		t.Fatalf("edge ca: got %+v; want c->a default by eve at 42", e)
	}
	if got := string(e.Data["label"]); got != `"ctx"` {
		t.Fatalf("edge data: got %s; want \"ctx\"", got)
	}
	if s.Edges["ba"].Data == nil {
		t.Fatalf("edge ba: data is nil; want {}")
	}
	u := mustApply(t, s, Batch{Ops: []Op{{Op: OpEdgeDelete, ID: "ab"}}})
	if _, ok := s.Edges["ab"]; ok {
		t.Fatalf("edge ab still present")
	}
	if got := sortedKeys(nil, s.Nodes); fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("nodes after edge.delete: got %v; want [a b c]", got)
	}
	if _, ok := s.links["b"]["ab"]; ok {
		t.Fatalf("links[b] still lists ab")
	}
	if prev, touched := u.PrevEdge("ab"); prev == nil || prev.ID != "ab" || !touched {
		t.Fatalf("PrevEdge(ab): got %v, %v; want edge ab, true", prev, touched)
	}
}

func TestCanvasUpdate(t *testing.T) {
	s := NewState("cv", Meta{Title: "Old", Settings: raws("a", `1`, "b", `2`)}, Limits{})
	prevSettings := s.Meta.Settings
	u := mustApply(t, s, Batch{Ops: []Op{{Op: OpCanvasUpdate, Title: ptr("  New title \n")}}})
	if s.Meta.Title != "New title" {
		t.Fatalf("title: got %q; want %q", s.Meta.Title, "New title")
	}
	if pm := u.PrevMeta(); pm == nil || pm.Title != "Old" {
		t.Fatalf("PrevMeta: got %+v; want title Old", pm)
	}
	if got := settingsJSON(t, s); got != `{"a":1,"b":2}` {
		t.Fatalf("settings after title update: got %s; want unchanged", got)
	}

	u = mustApply(t, s, Batch{Ops: []Op{{Op: OpCanvasUpdate, Settings: raws("b", `null`, "c", ` { "x" : [ 1 ] } `, "gone", ` null `)}}})
	if got, want := settingsJSON(t, s), `{"a":1,"c":{"x":[1]}}`; got != want {
		t.Fatalf("settings: got %s; want %s", got, want)
	}
	if s.Meta.Title != "New title" {
		t.Fatalf("title after settings update: got %q; want unchanged", s.Meta.Title)
	}
	if pm := u.PrevMeta(); pm == nil || pm.Title != "New title" || len(pm.Settings) != 2 {
		t.Fatalf("PrevMeta: got %+v; want title New title and 2 settings", pm)
	}
	if len(prevSettings) != 2 || string(prevSettings["b"]) != "2" {
		t.Fatalf("settings map from before was modified in place: %v", prevSettings)
	}

	// Exactly MaxTitleLen characters, multi-byte, is allowed.
	title := strings.Repeat("é", MaxTitleLen)
	mustApply(t, s, Batch{Ops: []Op{{Op: OpCanvasUpdate, Title: ptr(title)}}})
	if s.Meta.Title != title {
		t.Fatalf("title of %d runes not stored", MaxTitleLen)
	}
}

func settingsJSON(t *testing.T, s *State) string {
	t.Helper()
	b, err := json.Marshal(s.Meta.Settings)
	if err != nil {
		t.Fatalf("marshal settings: %v", err)
	}
	return string(b)
}

func TestCanvasFullAfterDeleteInSameBatch(t *testing.T) {
	s := newFixture(t, Limits{MaxNodes: 3})
	mustApply(t, s, Batch{Ops: []Op{
		{Op: OpNodeDelete, ID: "c"},
		{Op: OpNodeAdd, ID: "d", Kind: "text"},
	}})
	if got := sortedKeys(nil, s.Nodes); fmt.Sprint(got) != "[a b d]" {
		t.Fatalf("nodes: got %v; want [a b d]", got)
	}
}

func TestBatchAtMaxBatchOps(t *testing.T) {
	s := NewState("cv", Meta{}, Limits{MaxBatchOps: 3})
	mustApply(t, s, Batch{Ops: []Op{
		{Op: OpNodeAdd, ID: "n1", Kind: "text"},
		{Op: OpNodeAdd, ID: "n2", Kind: "text"},
		{Op: OpNodeAdd, ID: "n3", Kind: "text"},
	}})
	if s.Limits().MaxBatchOps != 3 || s.Limits().MaxNodes != DefaultLimits.MaxNodes {
		t.Fatalf("Limits(): got %+v; want MaxBatchOps 3 and default MaxNodes", s.Limits())
	}
}

func TestDataAtCap(t *testing.T) {
	// {"k":"zz…"} with 54 z's is 2+1+56+4 = 63 bytes by dataSize; 55 is 64.
	s := NewState("cv", Meta{}, Limits{MaxDataBytes: 64})
	value := `"` + strings.Repeat("z", 55) + `"`
	mustApply(t, s, Batch{Ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text", Data: raws("k", value)}}})
	if got := dataSize(s.Nodes["n"].Data); got != 64 {
		t.Fatalf("dataSize: got %d; want 64", got)
	}
	// Unsetting shrinks the data below the cap again.
	mustApply(t, s, Batch{Ops: []Op{{Op: OpNodeUpdate, ID: "n", Set: raws("data.j", `1`), Unset: []string{"data.k"}}}})
}

// TestUndoAcrossBatch checks PrevNode/PrevEdge/PrevMeta against a batch
// that touches the same ids several times: the value before the batch is
// what is kept.
func TestUndoAcrossBatch(t *testing.T) {
	s := newFixture(t, Limits{})
	a0, c0, ab0, meta0 := s.Nodes["a"], s.Nodes["c"], s.Edges["ab"], s.Meta
	u := mustApply(t, s, Batch{Author: "u", At: 9, Ops: []Op{
		{Op: OpNodeUpdate, ID: "a", Set: raws("x", `1`)},
		{Op: OpNodeUpdate, ID: "a", Set: raws("x", `2`)},
		{Op: OpNodeAdd, ID: "n", Kind: "text"},
		{Op: OpNodeUpdate, ID: "n", Set: raws("y", `3`)},
		{Op: OpEdgeDelete, ID: "ab"},
		{Op: OpEdgeAdd, ID: "ab", Source: "a", Target: "c"},
		{Op: OpCanvasUpdate, Title: ptr("T1")},
		{Op: OpCanvasUpdate, Title: ptr("T2")},
	}})
	tests := []struct {
		id      string
		prev    *Node
		touched bool
	}{
		{"a", a0, true},
		{"n", nil, true},
		{"c", nil, false},
		{"zz", nil, false},
	}
	for _, tc := range tests {
		if prev, touched := u.PrevNode(tc.id); prev != tc.prev || touched != tc.touched {
			t.Fatalf("PrevNode(%s): got %v, %v; want %v, %v", tc.id, prev, touched, tc.prev, tc.touched)
		}
	}
	if got := slices.Sorted(slices.Values(u.NodeIDs())); fmt.Sprint(got) != "[a n]" {
		t.Fatalf("NodeIDs: got %v; want [a n]", got)
	}
	if prev, touched := u.PrevEdge("ab"); prev != ab0 || !touched {
		t.Fatalf("PrevEdge(ab): got %v, %v; want the original, true", prev, touched)
	}
	if pm := u.PrevMeta(); pm == nil || pm.Title != meta0.Title {
		t.Fatalf("PrevMeta: got %+v; want title %q", pm, meta0.Title)
	}
	if s.Nodes["c"] != c0 {
		t.Fatalf("untouched node c was replaced")
	}
	if s.Meta.Title != "T2" || s.Nodes["a"].X != 2 || s.Edges["ab"].Target != "c" {
		t.Fatalf("after batch: title %q, a.x %g, ab target %q; want T2, 2, c", s.Meta.Title, s.Nodes["a"].X, s.Edges["ab"].Target)
	}

	// A batch that does not touch the metadata has no PrevMeta.
	u = mustApply(t, s, Batch{Ops: []Op{{Op: OpNodeDelete, ID: "n"}}})
	if pm := u.PrevMeta(); pm != nil {
		t.Fatalf("PrevMeta: got %+v; want nil", pm)
	}
}

// TestRevertRestoresExports applies a series of batches, then reverts them
// newest first: after each revert the export is byte-identical to the one
// taken before that batch.
func TestRevertRestoresExports(t *testing.T) {
	s := NewState("cv", Meta{Title: "R"}, Limits{})
	batches := [][]Op{
		fixture(),
		{{Op: OpNodeUpdate, ID: "a", Set: raws("x", `5`, "data.k", `[1]`)}, {Op: OpCanvasUpdate, Settings: raws("s", `1`)}},
		{{Op: OpEdgeAdd, ID: "ac", Source: "a", Target: "c"}, {Op: OpEdgeAdd, ID: "cb", Source: "c", Target: "b"}},
		{{Op: OpNodeDelete, ID: "a"}, {Op: OpNodeAdd, ID: "a", Kind: "file"}, {Op: OpEdgeAdd, ID: "ab", Source: "b", Target: "a"}},
		{{Op: OpEdgeDelete, ID: "cb"}, {Op: OpEdgeAdd, ID: "cb", Source: "a", Target: "c"}, {Op: OpCanvasUpdate, Title: ptr("R2"), Settings: raws("s", `null`)}},
		{{Op: OpNodeDelete, ID: "c"}, {Op: OpNodeDelete, ID: "b"}},
	}
	var exports [][]byte
	var undos []*Undo
	for i, ops := range batches {
		exports = append(exports, exportJSON(t, s))
		undos = append(undos, mustApply(t, s, Batch{Author: "u", At: int64(100 + i), Ops: ops}))
	}
	for i := len(undos) - 1; i >= 0; i-- {
		s.Revert(undos[i])
		if got := exportJSON(t, s); !bytes.Equal(got, exports[i]) {
			t.Fatalf("after reverting batch %d:\n got %s\nwant %s", i, got, exports[i])
		}
		requireConsistent(t, s)
		if s.Seq != uint64(i) {
			t.Fatalf("seq after reverting batch %d: got %d; want %d", i, s.Seq, i)
		}
	}
	if len(s.links) != 0 {
		t.Fatalf("links after reverting everything: got %v; want empty", s.links)
	}
}

func TestPutNodeAndEdgeLoadCheckpoint(t *testing.T) {
	src := newFixture(t, Limits{})
	dst := NewState(src.ID, src.Meta, Limits{})
	for _, n := range src.Nodes {
		dst.PutNode(n)
	}
	for _, e := range src.Edges {
		dst.PutEdge(e)
	}
	dst.Seq = src.Seq
	requireConsistent(t, dst)
	if got, want := exportJSON(t, dst), exportJSON(t, src); !bytes.Equal(got, want) {
		t.Fatalf("loaded state export:\n got %s\nwant %s", got, want)
	}
	// Deleting a loaded node takes the loaded edges with it.
	mustApply(t, dst, Batch{Ops: []Op{{Op: OpNodeDelete, ID: "b"}}})
	if len(dst.Edges) != 0 {
		t.Fatalf("edges after deleting b: got %v; want none", sortedKeys(nil, dst.Edges))
	}
}

func TestSetGeometryNullAndOverflow(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		code string
	}{{`null`, apierr.CodeInvalidOp}, {`"3"`, apierr.CodeInvalidOp}, {`1e400`, apierr.CodeInvalidNumber}, {`-1e400`, apierr.CodeInvalidNumber}} {
		s := NewState("c", Meta{Title: "t"}, Limits{})
		if _, err := s.Apply(Batch{Ops: []Op{{Op: OpNodeAdd, ID: "n", Kind: "text"}}}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Apply(Batch{Ops: []Op{{Op: OpNodeUpdate, ID: "n", Set: map[string]json.RawMessage{"x": json.RawMessage(tc.raw)}}}})
		var opErr *OpError
		if !errors.As(err, &opErr) || opErr.Code != tc.code {
			t.Fatalf("set x=%s: got %v; want %s", tc.raw, err, tc.code)
		}
		if s.Nodes["n"].X != 0 || s.Seq != 1 {
			t.Fatalf("set x=%s changed the node", tc.raw)
		}
	}
}
