package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// TestRoutesKeepTheOrderSent: a canvas is sent to directly only once every
// request sent for it through the supervisor has been routed, and not after
// the supervisor takes the direct route away.
func TestRoutesKeepTheOrderSent(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	type arrival struct {
		at  string
		msg canvasMsg
	}
	arrived := make(chan arrival, 16)
	recorder := func(name string) *actor.PID {
		return sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
			if m, ok := c.Message().(canvasMsg); ok {
				arrived <- arrival{name, m}
			}
		}))
	}
	super, child := recorder("supervisor"), recorder("child")
	r := newRoutes()
	expect := func(m canvasMsg, at string) {
		t.Helper()
		select {
		case a := <-arrived:
			if a.msg != m || a.at != at {
				t.Fatalf("got %p at %s; want %p at %s", a.msg, a.at, m, at)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("nothing arrived; want %p at %s", m, at)
		}
	}
	send := func(at string) canvasMsg {
		t.Helper()
		m := &getSnapshot{Canvas: "c"}
		r.send(sys.Root, super, m)
		expect(m, at)
		return m
	}
	m1 := send("supervisor") // no live actor yet
	m2 := send("supervisor")
	r.routed(m1, child) // m2 is still on its way through the supervisor
	m3 := send("supervisor")
	r.routed(m2, child)
	r.routed(m3, child)
	send("child")
	send("child")
	r.stop("c", child) // passivating
	m6 := send("supervisor")
	r.routed(m6, nil) // answered, say, while closing
	if len(r.live) != 0 {
		t.Fatalf("routes kept: got %d; want none once nothing is live or on its way", len(r.live))
	}
}
