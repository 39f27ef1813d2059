package deploycheck

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// exportedMetrics are the metric names SKER's Go code registers, found
// without starting a node: every string literal of the form sker_… in a
// non-test file that imports client_golang's prometheus package (the
// Name of an Opts, or a name passed to a helper that makes one, as the
// bridge's counters are). The value is true for histograms (the Name of a
// HistogramOpts), which are queried through _bucket, _sum and _count.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	root := moduleRoot(t)
	metrics := map[string]bool{}
	name := regexp.MustCompile(`^sker_[a-z0-9_]*[a-z0-9]$`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(f.Imports, func(s *ast.ImportSpec) bool {
			return s.Path.Value == `"github.com/prometheus/client_golang/prometheus"`
		}) {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && name.MatchString(s) {
					if _, ok := metrics[s]; !ok {
						metrics[s] = false
					}
				}
			case *ast.CompositeLit:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "HistogramOpts" {
					for _, e := range n.Elts {
						kv, ok := e.(*ast.KeyValueExpr)
						if k, _ := kv.Key.(*ast.Ident); ok && k != nil && k.Name == "Name" {
							if lit, ok := kv.Value.(*ast.BasicLit); ok {
								if s, err := strconv.Unquote(lit.Value); err == nil {
									metrics[s] = true
								}
							}
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("scan the Go sources for metric names: %v", err)
	}
	// Series every node has: an empty or broken scan must fail here.
	for m, hist := range map[string]bool{"sker_http_requests_total": false, "sker_ws_connections": false, "sker_journal_append_seconds": true} {
		if got, ok := metrics[m]; !ok || got != hist {
			t.Fatalf("the scan of the Go sources found %d metrics; %s missing or of the wrong kind (histogram %v)", len(metrics), m, hist)
		}
	}
	return metrics
}

// grafanaPanel is the part of a dashboard panel the test reads.
type grafanaPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's
}

type grafanaDashboard struct {
	UID        string         `json:"uid"`
	Title      string         `json:"title"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// promMetric finds the metric names in a PromQL expression: SKER's, and
// Prometheus's own `up`. Label values in quotes are left out.
var (
	promQuoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promSker   = regexp.MustCompile(`\bsker_[a-zA-Z0-9_:]+`)
	promUp     = regexp.MustCompile(`\bup\s*[{\[]`)
)

// queryMetrics returns the sker_ metric names expr uses and whether it
// uses any metric at all.
func queryMetrics(expr string) (names []string, any bool) {
	bare := promQuoted.ReplaceAllString(expr, `""`)
	names = promSker.FindAllString(bare, -1)
	return names, len(names) > 0 || promUp.MatchString(bare)
}

// metricProblem says what is wrong with a metric name a query uses, or
// "" when SKER exports it: histograms only through their _bucket, _sum
// and _count series.
func metricProblem(m string, exported map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(m, suffix); ok && exported[base] {
			return ""
		}
	}
	hist, ok := exported[m]
	switch {
	case !ok:
		return "uses " + m + ", which no node exports (metric names in the Go sources)"
	case hist:
		return "uses the histogram " + m + " bare; query its _bucket, _sum or _count"
	}
	return ""
}

// checkMetricName fails for a name metricProblem refuses.
func checkMetricName(t *testing.T, where, m string, exported map[string]bool) {
	t.Helper()
	if p := metricProblem(m, exported); p != "" {
		t.Errorf("%s: %s", where, p)
	}
}

// TestGrafanaDashboardUsesRealMetrics parses deploy/grafana's dashboard
// and checks every query against the metrics SKER exports, and the
// dashboard's own consistency: unique panel ids, a datasource on every
// panel with queries, a place on the grid.
func TestGrafanaDashboardUsesRealMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	path := filepath.Join(moduleRoot(t), "deploy", "grafana", "sker-dashboard.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("deploy/grafana/sker-dashboard.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard: uid %q, title %q; want both", d.UID, d.Title)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
		if v.Type == "query" {
			names, _ := queryMetrics(v.Definition + string(v.Query))
			for _, m := range names {
				checkMetricName(t, "variable "+v.Name, m, exported)
			}
		}
	}
	ids := map[int]string{}
	used := map[string]bool{}
	cells := map[[2]int]string{} // grid cell → the panel on it
	var queries int
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			where := "panel " + strconv.Quote(p.Title)
			if prev, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("%s: id %d, also %q's (or zero)", where, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: gridPos %+v; want a place within the 24 columns", where, p.GridPos)
			}
			if g := p.GridPos; g != nil {
				for y := g.Y; y < g.Y+g.H; y++ {
					for x := g.X; x < g.X+g.W; x++ {
						if other, taken := cells[[2]int{x, y}]; taken {
							t.Errorf("%s: overlaps panel %q at column %d, row %d", where, other, x, y)
							x, y = g.X+g.W, g.Y+g.H // once per pair is enough
						} else {
							cells[[2]int{x, y}] = p.Title
						}
					}
				}
			}
			if p.Type != "row" && p.Type != "text" && len(p.Targets) == 0 {
				t.Errorf("%s: a %s panel with no query", where, p.Type)
			}
			if len(p.Targets) > 0 && !strings.Contains(string(p.Datasource), "${datasource}") {
				t.Errorf("%s: datasource %s; want the ${datasource} variable", where, p.Datasource)
			}
			for _, tg := range p.Targets {
				queries++
				names, anyMetric := queryMetrics(tg.Expr)
				if !anyMetric {
					t.Errorf("%s query %s: %q uses no metric", where, tg.RefID, tg.Expr)
				}
				for _, m := range names {
					checkMetricName(t, where+" query "+tg.RefID, m, exported)
					used[m] = true
				}
				for _, ref := range regexp.MustCompile(`\$([a-z_]+)`).FindAllStringSubmatch(tg.Expr, -1) {
					if !strings.HasPrefix(ref[1], "__") && !slices.Contains(vars, ref[1]) {
						t.Errorf("%s query %s: uses $%s, which is no dashboard variable (%v)", where, tg.RefID, ref[1], vars)
					}
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if queries == 0 {
		t.Fatalf("dashboard: no queries")
	}
	// The series the operations issue asked for, where they exist.
	for _, want := range []string{"sker_http_requests_total", "sker_ws_connections", "sker_journal_append_seconds_bucket",
		"sker_canvases_active", "sker_canvas_claims_total", "sker_canvas_ownership_lost_total",
		"sker_cluster_route_retries_total", "sker_bridge_lag", "sker_login_limits_shared"} {
		if !used[want] {
			t.Errorf("dashboard: no panel shows %s", want)
		}
	}
}

// TestGrafanaMetricCheckCanFail shows that a misspelt metric, a bare
// histogram and a suffix on a counter are refused.
func TestGrafanaMetricCheckCanFail(t *testing.T) {
	exported := map[string]bool{"sker_ws_connections": false, "sker_journal_append_seconds": true}
	for _, m := range []string{"sker_ws_conections", "sker_journal_append_seconds", "sker_ws_connections_bucket"} {
		if metricProblem(m, exported) == "" {
			t.Errorf("%s: accepted; want it refused", m)
		}
	}
	if names, _ := queryMetrics(`sum(rate(sker_a_total{code="sker_not_a_metric"}[5m]))`); !slices.Equal(names, []string{"sker_a_total"}) {
		t.Errorf("queryMetrics: got %q; want the metric only, not the label value", names)
	}
}
