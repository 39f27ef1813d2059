package journal

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestPubAckSeq: the acknowledgement is read as jetstream's Publish reads
// it, by hand in the usual form and through encoding/json otherwise.
func TestPubAckSeq(t *testing.T) {
	for _, c := range []struct {
		data    string
		seq     uint64
		code    jetstream.ErrorCode // of an *APIError
		invalid bool                // ErrInvalidJSAck
	}{
		{data: `{"stream":"SKER_JOURNAL","seq":42}`, seq: 42},
		{data: `{"stream":"S","seq":0}`, seq: 0},
		{data: `{"stream":"S","seq":18446744073709551615}`, seq: 18446744073709551615},
		{data: `{"stream":"S","seq":18446744073709551616}`, invalid: true},
		{data: `{"stream":"S","seq":7,"duplicate": true}`, seq: 7},
		{data: `{"stream":"S","domain":"hub","seq":9}`, seq: 9},
		{data: `{"stream":"S","seq":07}`, invalid: true},
		{data: `{"stream":"S","seq":-1}`, invalid: true},
		{data: `{"stream":"S","seq":}`, invalid: true},
		{data: `{"stream":"","seq":3}`, invalid: true},
		{data: `{"seq":3}`, invalid: true},
		{data: `{}`, invalid: true},
		{data: `nonsense`, invalid: true},
		{data: `{"stream":"S","seq":3} `, seq: 3},
		{data: `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"},"stream":"S","seq":0}`, code: jetstream.JSErrCodeStreamWrongLastSequence},
	} {
		seq, err := pubAckSeq([]byte(c.data))
		var apiErr *jetstream.APIError
		switch {
		case c.invalid:
			if !errors.Is(err, jetstream.ErrInvalidJSAck) {
				t.Errorf("%s: got %d, %v; want ErrInvalidJSAck", c.data, seq, err)
			}
		case c.code != 0:
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != c.code {
				t.Errorf("%s: got %d, %v; want an API error %d", c.data, seq, err, c.code)
			}
		case err != nil || seq != c.seq:
			t.Errorf("%s: got %d, %v; want %d", c.data, seq, err, c.seq)
		}
	}
}
