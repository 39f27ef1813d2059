package gateway

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkFanout100: one commit delivered to 100 WebSocket clients of one
// canvas on this gateway. An op is a commit through the hub plus its
// delivery to all 100; ns/delivery and deliveries/s count frames received.
func BenchmarkFanout100(b *testing.B) {
	const clients = 100
	s := newStack(b, nil, nil)
	aID, aTok := s.user("a")
	cid := s.canvas(aID, nil)
	base := s.commit(cid, aID, "add", addNodeOp("n1"))
	got := make(chan uint64, clients*4)
	for range clients {
		c := s.dial(aTok)
		c.join(cid, nil)
		go func() {
			for {
				_, data, err := c.conn.ReadMessage()
				if err != nil {
					return
				}
				var f struct {
					Batches []struct {
						Seq uint64 `json:"seq"`
					} `json:"batches"`
				}
				if json.Unmarshal(data, &f) == nil {
					for _, bt := range f.Batches {
						got <- bt.Seq
					}
				}
			}
		}()
	}
	ops := toOps(b, setTextOp("n1", "fanout"))
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	for i := range b.N {
		seq, err := s.hub.Submit(b.Context(), cid, aID, "", ops)
		if err != nil {
			b.Fatal(err)
		}
		if want := base + uint64(i) + 1; seq != want {
			b.Fatalf("seq: got %d; want %d", seq, want)
		}
		for range clients {
			select {
			case g := <-got:
				if g != seq {
					b.Fatalf("delivered seq: got %d; want %d", g, seq)
				}
			case <-time.After(10 * time.Second):
				b.Fatalf("seq %d not delivered to all %d clients in 10s", seq, clients)
			}
		}
	}
	elapsed := time.Since(began)
	b.StopTimer()
	deliveries := float64(b.N * clients)
	b.ReportMetric(float64(elapsed.Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(deliveries/elapsed.Seconds(), "deliveries/s")
}
