package actors

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
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

// BenchmarkSubmitSpread measures the cost of one commit when many canvases
// each take one one-op batch at a time, as under many small clients: no
// group commit, so every batch is one journal append. cpu-µs/op is the
// process's CPU time (actors, journal client and the in-process JetStream
// server together) per committed batch, which other work on the machine
// does not inflate the way it does ns/op.
func BenchmarkSubmitSpread(b *testing.B) {
	const canvases = 64
	e := newEnv(b)
	h := e.hub(nil)
	ids := make([]string, canvases)
	for i := range ids {
		ids[i] = e.canvas(fmt.Sprintf("spread%d", i))
		if _, err := h.Submit(context.Background(), ids[i], "a", "", []canvas.Op{addNode("n1")}); err != nil {
			b.Fatal(err)
		}
	}
	ops := []canvas.Op{setText("n1", "v")}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				wait := h.SubmitAsync(id, "a", strconv.FormatInt(n, 10), ops)
				if _, err := wait(context.Background()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the user and system CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
