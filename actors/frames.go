package actors

import (
	"github.com/skerhq/sker/canvas"

	"github.com/skerhq/sker/canvases"
)

// changesFrame is canvases.ChangesFrame of the entries' batches.
func changesFrame(canvasID string, entries []*entry) []byte {
	return canvases.ChangesFrameOf(canvasID, entries, entryRaw)
}

// encodeRecord is a journal.Record of the entries' batches.
func encodeRecord(epoch string, entries []*entry) []byte {
	return batchObject(`{"epoch":`, epoch, entries, entryRaw)
}

func entryRaw(e *entry) []byte { return e.raw }

// batchObject writes head, the string value as JSON, then the encoded
// batches (raw of each item) as a "batches" array, closing the object. It
// takes the items rather than a slice of their batches so that a record
// costs one allocation: its own bytes (as canvases.ChangesFrameOf does for
// a frame).
func batchObject[T any](head, value string, items []T, raw func(T) []byte) []byte {
	size := len(head) + len(value) + 32
	for _, it := range items {
		size += len(raw(it)) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, head...)
	b = canvas.AppendJSONString(b, value)
	b = append(b, `,"batches":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, raw(it)...)
	}
	return append(b, "]}"...)
}
