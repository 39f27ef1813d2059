package actors

import (
	"bytes"
	"encoding/json"
)

// ChangesFrame is the "changes" frame of the WebSocket protocol
// (docs/protocol.md) for already encoded batches: the body of a fanout
// message, and what a gateway sends for a catch-up. The batches are not
// encoded again.
func ChangesFrame(canvasID string, batches [][]byte) []byte {
	return batchObject(`{"type":"changes","canvas":`, canvasID, batches)
}

// encodeRecord is a journal.Record of already encoded batches.
func encodeRecord(epoch string, batches [][]byte) []byte {
	return batchObject(`{"epoch":`, epoch, batches)
}

// batchObject writes head, the string value as JSON, then the batches as a
// "batches" array, closing the object.
func batchObject(head, value string, batches [][]byte) []byte {
	size := len(head) + len(value) + 32
	for _, raw := range batches {
		size += len(raw) + 1
	}
	b := bytes.NewBuffer(make([]byte, 0, size))
	b.WriteString(head)
	v, _ := json.Marshal(value)
	b.Write(v)
	b.WriteString(`,"batches":[`)
	for i, raw := range batches {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// raws lists the encoded batches of entries.
func raws(entries []*entry) [][]byte {
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = e.raw
	}
	return out
}
