package bridge_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// metric returns the value of the series name with label mapping (any
// mapping when ""), or -1 when there is none.
func metric(t *testing.T, reg *prometheus.Registry, name, mapping string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			match := mapping == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "mapping" && l.GetValue() == mapping {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// The bridge's series count what each mapping moved, on the registry it
// was given.
func TestMetricsPerMapping(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	cfg := f.config()
	cfg.Registerer = reg
	b := f.start(cfg)
	events := f.bindEvents("canvas.*.changes")
	replyTo, replies := f.replyQueue()
	f.send(f.ownerToken, cmd(f.canvas, note("n1", "counted")), func(p *amqp.Publishing) { p.ReplyTo = replyTo })
	f.send("", cmd(f.canvas, note("n2", "refused")), func(p *amqp.Publishing) { p.ReplyTo = replyTo })
	f.nextReply(replies)
	f.nextReply(replies)
	<-events
	waitAcked(t, b, 2) // the canvas's epoch marker and its batch
	for _, tt := range []struct {
		name, mapping string
		want          float64
	}{
		{"sker_bridge_connected", "", 1},
		{"sker_bridge_consuming", "commands", 1},
		{"sker_bridge_consuming", "events", 1},
		{"sker_bridge_in_total", "commands", 2},
		{"sker_bridge_acked_total", "commands", 2},
		{"sker_bridge_dead_lettered_total", "commands", 1},
		{"sker_bridge_out_total", "commands", 3}, // two replies, one dead letter
		{"sker_bridge_out_total", "events", 1},
		{"sker_bridge_acked_total", "events", 2},
		{"sker_bridge_reconnects_total", "events", 0},
	} {
		// A reply can arrive before the bridge has seen it confirmed
		// and acked the command: wait a little for the counts.
		deadline := time.Now().Add(5 * time.Second)
		got := metric(t, reg, tt.name, tt.mapping)
		for got != tt.want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			got = metric(t, reg, tt.name, tt.mapping)
		}
		if got != tt.want {
			t.Errorf("%s{mapping=%q}: got %v; want %v", tt.name, tt.mapping, got, tt.want)
		}
	}
	f.cut(b)
	if got := metric(t, reg, "sker_bridge_reconnects_total", "commands"); got != 1 {
		t.Errorf("sker_bridge_reconnects_total{mapping=commands} after a cut: got %v; want 1", got)
	}
}
