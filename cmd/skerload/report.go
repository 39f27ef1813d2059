package main

import (
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"time"
)

// Result is one scenario's outcome, as written to the JSON file.
type Result struct {
	Scenario      string         `json:"scenario"`
	Params        map[string]any `json:"params"`
	Started       time.Time      `json:"started"`
	WindowSeconds float64        `json:"window_seconds"`

	Latency       LatencySummary  `json:"latency"`        // send → delivery, every receiver
	CommitLatency LatencySummary  `json:"commit_latency"` // commit (at, ms) → delivery
	AckLatency    LatencySummary  `json:"ack_latency"`    // send → ack
	OpenLatency   *LatencySummary `json:"open_latency,omitempty"`
	PacingLag     LatencySummary  `json:"pacing_lag"` // how late the generator sent

	Sent            int64   `json:"sent"`      // batches sent in the window
	Acked           int64   `json:"acked"`     // their acks
	Delivered       int64   `json:"delivered"` // their deliveries, all receivers
	SentPerSec      float64 `json:"sent_per_s"`
	AcksPerSec      float64 `json:"acks_per_s"`
	AckedOpsPerSec  float64 `json:"acked_ops_per_s"`
	DeliveredPerSec float64 `json:"delivered_per_s"`
	SkippedSends    int64   `json:"skipped_sends"`

	Errors          map[string]int64 `json:"errors"`
	ErrorCount      int64            `json:"error_count"`
	Disconnects     map[string]int64 `json:"disconnects"`
	DisconnectCount int64            `json:"disconnect_count"`

	Server    *ProcWindow `json:"server,omitempty"` // absent when not a local process
	Generator ProcWindow  `json:"generator"`
	// OtherCores is the CPU (in cores) that other processes of the machine
	// used during the window: the run's share of a shared machine.
	OtherCores float64 `json:"other_processes_cpu_cores"`

	Extra    map[string]float64 `json:"extra"`
	Target   Target             `json:"target"`
	Notes    []string           `json:"notes,omitempty"`
	Timeline []Sample           `json:"timeline"`          // one sample a second, set-up included
	Failure  string             `json:"failure,omitempty"` // the run itself failed
}

// ProcWindow is a process's share of a run.
type ProcWindow struct {
	CPUSeconds      float64 `json:"cpu_seconds"`       // inside the window
	CPUCores        float64 `json:"cpu_cores"`         // CPU seconds per window second
	CPUTotalSeconds float64 `json:"cpu_total_seconds"` // the whole run, set-up included (server: start to exit)
	RSSBytes        int64   `json:"rss_bytes"`         // at the window's end
	PeakRSSBytes    int64   `json:"peak_rss_bytes"`
	// WriteCallsPerSec is the write system calls per window second (all
	// of them: sockets, files).
	WriteCallsPerSec float64 `json:"write_calls_per_s"`
}

// Target is where a scenario stands against the goal for it.
type Target struct {
	Goal  string  `json:"goal"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Met   bool    `json:"met"`
}

// Report is the JSON file: when, on what, and the results.
type Report struct {
	Date    time.Time `json:"date"`
	Commit  string    `json:"commit"`
	Machine Machine   `json:"machine"`
	Results []Result  `json:"results"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU       string  `json:"cpu"`
	Cores     int     `json:"cores"`
	MemoryGiB float64 `json:"memory_gib"`
	Kernel    string  `json:"kernel"`
	Go        string  `json:"go"`
}

func thisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryGiB = float64(statusKB(b, "MemTotal:")) / (1 << 20)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// result turns a finished run into its Result.
func (r *Run) result(started time.Time) Result {
	w := r.Window().Seconds()
	per := func(n int64) float64 {
		if w <= 0 {
			return 0
		}
		return float64(n) / w
	}
	res := Result{
		Scenario: r.Name, Params: r.Params, Started: started.UTC(), WindowSeconds: w,
		Latency: Summarize(r.Lat.Merge()), CommitLatency: Summarize(r.Commit.Merge()),
		AckLatency: Summarize(r.Ack.Merge()), PacingLag: Summarize(r.Lag.Merge()),
		Sent: r.C.WinSent.Load(), Acked: r.C.WinAcked.Load(), Delivered: r.C.WinDelivered.Load(),
		SkippedSends: r.Skipped.Load(),
		Errors:       r.Errors.Map(), ErrorCount: r.Errors.Total(),
		Disconnects: r.Disc.Map(), DisconnectCount: r.Disc.Total(),
		Extra: r.Extra, Notes: r.Notes,
	}
	r.mu.Lock()
	res.Timeline = append([]Sample(nil), r.Timeline...)
	r.mu.Unlock()
	res.SentPerSec, res.AcksPerSec = per(res.Sent), per(res.Acked)
	res.AckedOpsPerSec, res.DeliveredPerSec = per(r.C.WinAckedOps.Load()), per(res.Delivered)
	if open := Summarize(r.Open.Merge()); open.Count > 0 {
		res.OpenLatency = &open
	}
	res.Generator = procWindow(r.self0, r.self1, w)
	others := r.busy1 - r.busy0 - res.Generator.CPUSeconds
	if r.hasSrv {
		s := procWindow(r.srv0, r.srv1, w)
		res.Server = &s
		others -= s.CPUSeconds
		// What a frame sent to a client costs the server in system calls
		// (the acks ride with changes or go alone).
		if frames := res.DeliveredPerSec + res.AcksPerSec; frames > 0 && s.WriteCallsPerSec > 0 && res.Scenario != "burst" {
			if res.Extra == nil {
				res.Extra = map[string]float64{}
			}
			res.Extra["server_write_calls_per_frame"] = s.WriteCallsPerSec / frames
		}
		// What one delivery costs the server (all nodes of a cluster):
		// comparable between one node and a cluster at the same load.
		if res.Delivered > 0 && res.Scenario != "burst" && res.Scenario != "cold" {
			if res.Extra == nil {
				res.Extra = map[string]float64{}
			}
			res.Extra["server_cpu_us_per_delivery"] = s.CPUSeconds * 1e6 / float64(res.Delivered)
		}
	}
	if w > 0 {
		res.OtherCores = max(others/w, 0)
	}
	res.Target = target(&res)
	return res
}

func procWindow(a, b ProcStats, w float64) ProcWindow {
	p := ProcWindow{CPUSeconds: b.CPUSeconds - a.CPUSeconds, CPUTotalSeconds: b.CPUSeconds, RSSBytes: b.RSSBytes, PeakRSSBytes: b.PeakRSSBytes}
	if w > 0 {
		p.CPUCores = p.CPUSeconds / w
		p.WriteCallsPerSec = float64(b.WriteCalls-a.WriteCalls) / w
	}
	return p
}

// target compares a result with the goal for its scenario.
func target(res *Result) Target {
	clean := res.ErrorCount == 0 && res.DisconnectCount == 0
	switch res.Scenario {
	case "fanout":
		v := res.Latency.P99
		return Target{Goal: "p99 < 20 ms, no errors", Value: v, Unit: "ms", Met: v < 20 && clean && res.Latency.Count > 0}
	case "spread":
		v := res.Latency.P99
		return Target{Goal: "p99 < 50 ms", Value: v, Unit: "ms", Met: v < 50 && res.Latency.Count > 0}
	case "burst":
		v := res.AckedOpsPerSec
		return Target{Goal: ">= 20,000 durable ops/s", Value: v, Unit: "ops/s", Met: v >= 20_000}
	case "cold":
		if res.OpenLatency == nil {
			return Target{Goal: "open < 200 ms", Unit: "ms"}
		}
		v := res.OpenLatency.Max
		return Target{Goal: "open < 200 ms", Value: v, Unit: "ms", Met: v < 200}
	case "failover":
		// docs/cluster.md: writable again within the lease TTL plus 2 s.
		v, ok := res.Extra["failover_s"]
		return Target{Goal: "writable again < 7 s, no ack lost", Value: v, Unit: "s", Met: ok && v < 7 && clean}
	case "idle":
		v, ok := res.Extra["server_bytes_per_conn"]
		return Target{Goal: "< 20 KiB per connection", Value: v / 1024, Unit: "KiB", Met: ok && v < 20*1024}
	}
	return Target{}
}

// WriteJSON writes the report to path.
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
