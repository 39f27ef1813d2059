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
	return canvas.BatchesObject(`{"epoch":`, epoch, entries, entryRaw)
}

func entryRaw(e *entry) []byte { return e.raw }
