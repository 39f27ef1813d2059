package actors

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skerhq/sker/canvas"
)

// BenchmarkGroupCommit measures durable commit throughput on one canvas:
// writers submit one-op batches as fast as their acks come back, so group
// commit packs what arrives during an append into the next one.
func BenchmarkGroupCommit(b *testing.B) {
	for _, writers := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			e := newEnv(b)
			h := e.hub(nil)
			id := e.canvas("bench")
			if _, err := h.Submit(context.Background(), id, "a", "", []canvas.Op{addNode("n1")}); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := h.Submit(context.Background(), id, "a", "", []canvas.Op{setText("n1", "v")}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}
