package canvases

import "github.com/skerhq/sker/canvas"

// ChangesFrame is the "changes" frame of the WebSocket protocol
// (docs/protocol.md) for already encoded batches: the body of a fanout
// message, and what a gateway sends for a catch-up. The batches are not
// encoded again.
func ChangesFrame(canvasID string, batches [][]byte) []byte {
	return ChangesFrameOf(canvasID, batches, func(b []byte) []byte { return b })
}

// ChangesFrameOf is ChangesFrame of the encoded batches raw gives for
// items, for a caller that holds them in values of its own: the frame
// costs one allocation, its own bytes.
func ChangesFrameOf[T any](canvasID string, items []T, raw func(T) []byte) []byte {
	return canvas.BatchesObject(`{"type":"changes","canvas":`, canvasID, items, raw)
}
