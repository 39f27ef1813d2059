package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// The report as text: the aligned table for the terminal, the Markdown
// table for docs/performance.md, and the lines under them.

var tableHeader = []string{"scenario", "size", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "delivered/s", "acks/s", "ops/s", "errors", "disc.", "server CPU s", "gen. CPU s", "others' CPU", "server peak RSS", "target"}

// rows are the table's cells, one row per result.
func (rep *Report) rows() [][]string {
	var out [][]string
	for _, r := range rep.Results {
		lat := r.Latency
		if r.OpenLatency != nil {
			lat = *r.OpenLatency
		} else if lat.Count == 0 {
			lat = r.AckLatency
		}
		srvCPU, peak := "n/a", "n/a"
		if r.Server != nil {
			srvCPU = fmt.Sprintf("%.1f (%.2f cores)", r.Server.CPUSeconds, r.Server.CPUCores)
			peak = mib(r.Server.PeakRSSBytes)
		}
		tgt := fmt.Sprintf("%s: %s %s", r.Target.Goal, num(r.Target.Value), r.Target.Unit)
		if r.Target.Met {
			tgt = "met — " + tgt
		} else {
			tgt = "NOT met — " + tgt
		}
		if r.Failure != "" {
			tgt = "FAILED: " + r.Failure
		}
		out = append(out, []string{
			r.Scenario, size(r), ms(lat.P50), ms(lat.P99), ms(lat.P999), ms(lat.Max),
			num(r.DeliveredPerSec), num(r.AcksPerSec), num(r.AckedOpsPerSec),
			strconv.FormatInt(r.ErrorCount, 10), strconv.FormatInt(r.DisconnectCount, 10),
			srvCPU, fmt.Sprintf("%.1f (%.2f cores)", r.Generator.CPUSeconds, r.Generator.CPUCores),
			fmt.Sprintf("%.2f cores", r.OtherCores), peak, tgt,
		})
	}
	return out
}

// size is a scenario's dimensions, short, and the cluster's nodes when
// there were several.
func size(r Result) string {
	s := shape(r)
	if n, ok := r.Params["cluster_nodes"]; ok {
		s += fmt.Sprintf(", %v nodes", n)
	}
	return s
}

func shape(r Result) string {
	p := r.Params
	switch r.Scenario {
	case "failover":
		return fmt.Sprintf("%v clients × %v/s, owner killed", p["clients"], p["rate_per_client"])
	case "fanout":
		return fmt.Sprintf("%v clients × %v/s", p["clients_per_canvas"], p["rate_per_client"])
	case "spread":
		return fmt.Sprintf("%v canvases × %v × %v/s", p["canvases"], p["clients_per_canvas"], p["rate_per_client"])
	case "burst":
		if p["via"] == "ws" {
			return fmt.Sprintf("ws: %v conns × %v ops × window %v", p["connections"], p["batch_ops"], p["window"])
		}
		return fmt.Sprintf("rest: %v ops × window %v", p["batch_ops"], p["window"])
	case "cold":
		return fmt.Sprintf("%v × %v cards", p["canvases"], p["cards"])
	case "idle":
		return fmt.Sprintf("%v conns", p["connections"])
	}
	return ""
}

func ms(v float64) string {
	if v == 0 {
		return "–"
	}
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func num(v float64) string {
	switch {
	case v == 0:
		return "–"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// PrintTable writes the aligned table and, under it, each result's errors,
// disconnects, extra figures and notes.
func (rep *Report) PrintTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t"))
	for _, row := range rep.rows() {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	for _, r := range rep.Results {
		for _, d := range details(r) {
			fmt.Fprintf(w, "  %-7s %s: %s\n", d.scenario, d.key, d.text)
		}
	}
}

// detail is one line under the table: a scenario's errors, secondary
// latencies, extra figures or notes.
type detail struct{ scenario, key, text string }

func details(r Result) []detail {
	var out []detail
	line := func(k, text string) { out = append(out, detail{r.Scenario, k, text}) }
	if len(r.Errors) > 0 {
		line("errors", counts(r.Errors))
	}
	if len(r.Disconnects) > 0 {
		line("disconnects", counts(r.Disconnects))
	}
	if r.AckLatency.Count > 0 {
		line("ack latency", fmt.Sprintf("p50 %s ms, p99 %s ms, max %s ms", ms(r.AckLatency.P50), ms(r.AckLatency.P99), ms(r.AckLatency.Max)))
	}
	if r.CommitLatency.Count > 0 {
		line("commit→delivery", fmt.Sprintf("p50 %s ms, p99 %s ms (1 ms resolution)", ms(r.CommitLatency.P50), ms(r.CommitLatency.P99)))
	}
	if r.PacingLag.Count > 0 && r.PacingLag.P99 > 5 {
		line("pacing lag", fmt.Sprintf("p99 %s ms, %d sends skipped: sends left late (the generator did not get the CPU in time)", ms(r.PacingLag.P99), r.SkippedSends))
	}
	if len(r.Extra) > 0 {
		keys := make([]string, 0, len(r.Extra))
		for k := range r.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " " + extraValue(r.Extra[k])
		}
		line("extra", strings.Join(parts, ", "))
	}
	for _, n := range r.Notes {
		line("note", n)
	}
	if r.Failure != "" {
		line("failure", r.Failure)
	}
	return out
}

// counts lists reason counts, most frequent first.
func counts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s × %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// Markdown is the table in Markdown, for docs/performance.md.
func (rep *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(tableHeader, " | ") + " |\n|")
	for range tableHeader {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, row := range rep.rows() {
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

func extraValue(v float64) string {
	if v >= 1000 || v <= -1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
