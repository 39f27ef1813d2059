package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"strings"
)

// The plot is a plain SVG written by hand: three bar panels (latency
// percentiles, throughput, CPU of server and generator), one group of bars
// per scenario, the target drawn as a dashed line where there is one.

type plotGroup struct {
	label  string
	values []float64 // one per series; 0 draws no bar
	target float64   // 0: none
}

type plotPanel struct {
	title  string
	unit   string
	log    bool
	series []string
	groups []plotGroup
}

var plotColors = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f"}

const (
	plotW      = 980
	panelH     = 270
	plotMargin = 70
)

// WritePlot writes the report's plot as SVG to path.
func (rep *Report) WritePlot(path string) error {
	return os.WriteFile(path, []byte(rep.SVG()), 0o644)
}

// SVG renders the plot.
func (rep *Report) SVG() string {
	panels := rep.panels()
	var b strings.Builder
	h := len(panels)*(panelH+40) + 50
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", plotW, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	title := fmt.Sprintf("skerload — %s — commit %s — %s, %d cores", rep.Date.UTC().Format("2006-01-02 15:04 UTC"), rep.Commit, rep.Machine.CPU, rep.Machine.Cores)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", plotMargin-50, esc(title))
	for i, p := range panels {
		p.draw(&b, 50+i*(panelH+40))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func esc(s string) string { return html.EscapeString(s) }

func (rep *Report) panels() []plotPanel {
	lat := plotPanel{title: "Latency: send → delivery (cold: join → snapshot; burst: send → ack)", unit: "ms", log: true,
		series: []string{"p50", "p99", "p99.9", "max"}}
	thr := plotPanel{title: "Throughput in the window", unit: "per second", log: true,
		series: []string{"deliveries/s", "acks/s", "durable ops/s"}}
	cpu := plotPanel{title: "CPU in the window (cores; the machine has " + fmt.Sprint(rep.Machine.Cores) + ")", unit: "cores",
		series: []string{"server", "generator", "other processes"}}
	for _, r := range rep.Results {
		l, tgt := r.Latency, 0.0
		switch r.Scenario {
		case "cold":
			if r.OpenLatency != nil {
				l = *r.OpenLatency
			}
			tgt = 200
		case "burst":
			l = r.AckLatency
		case "fanout":
			tgt = 20
		case "spread":
			tgt = 50
		}
		if l.Count > 0 {
			lat.groups = append(lat.groups, plotGroup{label: r.Scenario, values: []float64{l.P50, l.P99, l.P999, l.Max}, target: tgt})
		}
		g := plotGroup{label: r.Scenario, values: []float64{r.DeliveredPerSec, r.AcksPerSec, r.AckedOpsPerSec}}
		if r.Scenario == "burst" {
			g.target = 20_000
		}
		if r.DeliveredPerSec+r.AcksPerSec > 0 {
			thr.groups = append(thr.groups, g)
		}
		var srv float64
		if r.Server != nil {
			srv = r.Server.CPUCores
		}
		label := r.Scenario
		if v, ok := r.Extra["server_bytes_per_conn"]; ok {
			label = fmt.Sprintf("%s (%.1f KiB/conn)", r.Scenario, v/1024)
		}
		cpu.groups = append(cpu.groups, plotGroup{label: label, values: []float64{srv, r.Generator.CPUCores, r.OtherCores}, target: float64(rep.Machine.Cores)})
	}
	return []plotPanel{lat, thr, cpu}
}

// draw renders the panel with its top at y0.
func (p plotPanel) draw(b *strings.Builder, y0 int) {
	x0, w, h := plotMargin, plotW-plotMargin-170, panelH-50
	top := y0 + 22
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", x0, y0+12, esc(p.title))
	lo, hi := p.bounds()
	ypos := func(v float64) float64 {
		if p.log {
			return float64(top+h) - (math.Log10(v)-lo)/(hi-lo)*float64(h)
		}
		return float64(top+h) - (v-lo)/(hi-lo)*float64(h)
	}
	// Axis, grid and ticks.
	for _, t := range p.ticks(lo, hi) {
		y := ypos(t)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y, x0+w, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, y+4, tickLabel(t))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", x0, top+h, x0+w, top+h)
	fmt.Fprintf(b, `<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">%s</text>`+"\n", top+h/2, top+h/2, esc(p.unit))
	if len(p.groups) == 0 {
		fmt.Fprintf(b, `<text x="%d" y="%d">no data</text>`+"\n", x0+w/2, top+h/2)
		return
	}
	gw := float64(w) / float64(len(p.groups))
	bw := gw * 0.8 / float64(len(p.series))
	for gi, g := range p.groups {
		gx := float64(x0) + gw*float64(gi) + gw*0.1
		for si, v := range g.values {
			if v <= 0 {
				continue
			}
			y := math.Max(ypos(math.Max(v, p.floor())), float64(top))
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s %s</title></rect>`+"\n",
				gx+bw*float64(si), y, bw*0.92, float64(top+h)-y, plotColors[si%len(plotColors)], esc(g.label), esc(p.series[si]), tickLabel(v), esc(p.unit))
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#333">%s</text>`+"\n",
				gx+bw*float64(si)+bw*0.46, y-3, tickLabel(v))
		}
		if g.target > 0 {
			y := ypos(g.target)
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c00" stroke-width="2" stroke-dasharray="6,4"><title>target %s</title></line>`+"\n",
				gx-4, y, gx+gw*0.8+4, y, tickLabel(g.target))
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", gx+gw*0.4, top+h+16, esc(g.label))
	}
	// Legend.
	lx := x0 + w + 20
	for si, s := range p.series {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			lx, top+si*18, plotColors[si%len(plotColors)], lx+18, top+si*18+10, esc(s))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#c00" stroke-width="2" stroke-dasharray="6,4"/><text x="%d" y="%d">target / limit</text>`+"\n",
		lx, top+len(p.series)*18+6, lx+12, top+len(p.series)*18+6, lx+18, top+len(p.series)*18+10)
}

func (p plotPanel) floor() float64 {
	if p.log {
		return 0.01
	}
	return 0
}

// bounds are the axis's ends: log10 of decades for log panels.
func (p plotPanel) bounds() (lo, hi float64) {
	maxV, minV := 0.0, math.Inf(1)
	for _, g := range p.groups {
		for _, v := range append(g.values, g.target) {
			if v > 0 {
				maxV, minV = math.Max(maxV, v), math.Min(minV, v)
			}
		}
	}
	if maxV == 0 {
		maxV, minV = 1, 1
	}
	if !p.log {
		return 0, maxV * 1.1
	}
	lo = math.Floor(math.Log10(math.Max(minV, p.floor())))
	hi = math.Ceil(math.Log10(maxV))
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

func (p plotPanel) ticks(lo, hi float64) []float64 {
	var out []float64
	if p.log {
		for e := lo; e <= hi; e++ {
			out = append(out, math.Pow(10, e))
		}
		return out
	}
	step := niceStep(hi / 5)
	for v := 0.0; v <= hi; v += step {
		out = append(out, v)
	}
	return out
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func tickLabel(v float64) string {
	switch {
	case v >= 999_500:
		return trimZero(fmt.Sprintf("%.3g", v/1e6)) + "M"
	case v >= 999.5:
		return trimZero(fmt.Sprintf("%.3g", v/1e3)) + "k"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return trimZero(fmt.Sprintf("%.1f", v))
	case v >= 0.01:
		return trimZero(fmt.Sprintf("%.2f", v))
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

// trimZero drops a fraction of zeros: "1.0" → "1", "2.50" → "2.5".
func trimZero(s string) string {
	if !strings.Contains(s, ".") || strings.ContainsAny(s, "e") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
