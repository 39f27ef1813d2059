package journal

import (
	"encoding/json"
	"strconv"

	"github.com/skerhq/sker/canvas"
)

// AppendJSON appends c to dst as json.Marshal encodes it, byte for byte,
// and fails with the same error. Every committed batch is encoded once on
// its way to the journal, so the common shape is written without
// reflection; what that cannot write unaided (a non-finite number, a raw
// value that is not yet compact) goes through json.Marshal.
func (c *Committed) AppendJSON(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = strconv.AppendUint(append(dst, `{"seq":`...), c.Seq, 10)
	dst = canvas.AppendJSONString(append(dst, `,"author":`...), c.Author)
	dst = strconv.AppendInt(append(dst, `,"at":`...), c.At, 10)
	if c.ClientBatchID != "" {
		dst = canvas.AppendJSONString(append(dst, `,"cbid":`...), c.ClientBatchID)
	}
	dst, ok := canvas.AppendOps(append(dst, `,"ops":`...), c.Ops)
	if ok {
		return append(dst, '}'), nil
	}
	v := *c // on the heap only on this path
	b, err := json.Marshal(&v)
	if err != nil {
		return dst[:start], err
	}
	return append(dst[:start], b...), nil
}
