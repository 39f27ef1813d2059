package deploycheck

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// debianTools are the programs these tests run, with the Debian package
// of each.
var debianTools = map[string]string{"promtool": "prometheus", "nginx": "nginx", "docker-compose": "docker-compose"}

// TestMain installs the missing debianTools in one apt-get run before the
// tests, when it runs as root on Debian (as SKER's test machines do): one
// short hold of apt's lock rather than one per test, since the e2e tests
// install packages of their own and apt refuses a second holder.
func TestMain(m *testing.M) {
	var missing []string
	for bin, pkg := range debianTools {
		if findTool(bin) == "" {
			missing = append(missing, pkg)
		}
	}
	if len(missing) > 0 {
		if err := aptInstall(missing); err != nil {
			fmt.Fprintln(os.Stderr, "deploycheck:", err)
		}
	}
	os.Exit(m.Run())
}

// findTool is bin's path in PATH, /usr/sbin or /usr/bin, or "".
func findTool(bin string) string {
	if p, err := exec.LookPath(bin); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin"} {
		if st, err := os.Stat(filepath.Join(d, bin)); err == nil && st.Mode()&0o111 != 0 {
			return filepath.Join(d, bin)
		}
	}
	return ""
}

// aptInstall installs Debian packages as root, waiting for apt's lock
// when another install holds it, with `apt-get update` only when the
// package lists do not have them.
func aptInstall(pkgs []string) error {
	_, debErr := os.Stat("/etc/debian_version")
	if _, err := exec.LookPath("apt-get"); err != nil || debErr != nil || os.Geteuid() != 0 {
		return fmt.Errorf("not root on Debian: install %s yourself (apt-get install -y %s)", strings.Join(pkgs, ", "), strings.Join(pkgs, " "))
	}
	apt := func(tries int, args ...string) error {
		var out []byte
		var err error
		for try := range tries { // update has no lock timeout of its own
			cmd := exec.Command("apt-get", append([]string{"-o", "DPkg::Lock::Timeout=300"}, args...)...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err = cmd.CombinedOutput(); err == nil {
				return nil
			}
			time.Sleep(time.Duration(try+1) * 5 * time.Second)
		}
		return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	install := append([]string{"install", "-y", "-qq", "--no-install-recommends"}, pkgs...)
	if apt(1, install...) == nil {
		return nil
	}
	if err := apt(3, "update", "-qq"); err != nil {
		return err
	}
	return apt(3, install...)
}

// debianTool is the path of bin, one of debianTools, which TestMain
// installed when it was missing.
func debianTool(t *testing.T, bin, pkg string) string {
	t.Helper()
	if p := findTool(bin); p != "" {
		return p
	}
	t.Fatalf("%s is not installed: install Debian's package as root (apt-get install -y %s)", bin, pkg)
	return ""
}

// TestGrafanaQueriesParse has promtool parse every query of the dashboard,
// each written as a recording rule with Grafana's variables filled in, so
// that a query Prometheus would refuse fails here.
func TestGrafanaQueriesParse(t *testing.T) {
	promtool := debianTool(t, "promtool", "prometheus")
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "deploy", "grafana", "sker-dashboard.json"))
	if err != nil {
		t.Fatalf("read the dashboard: %v", err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("the dashboard: %v", err)
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$instance", ".*")
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				rules = append(rules, rule{Record: fmt.Sprintf("sker_dashboard:panel_%d_%s", p.ID, tg.RefID), Expr: vars.Replace(tg.Expr)})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if len(rules) == 0 {
		t.Fatalf("the dashboard has no queries")
	}
	file := map[string]any{"groups": []any{map[string]any{"name": "sker-dashboard", "rules": rules}}}
	body, err := json.Marshal(file) // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's %d queries: %v\n%s", len(rules), err, out)
	}
}

// TestComposeNginxConfParses runs `nginx -t` on the cluster profile's
// nginx configuration, with the nodes' service names (which resolve only
// on the compose network) replaced by 127.0.0.1.
func TestComposeNginxConfParses(t *testing.T) {
	nginx := debianTool(t, "nginx", "nginx")
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "deploy", "nginx", "sker-compose-cluster.conf"))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	site := regexp.MustCompile(`server sker-[0-9]+:`).ReplaceAllString(string(data), "server 127.0.0.1:")
	if site == string(data) {
		t.Fatalf("sker-compose-cluster.conf: no `server sker-N:` line in its upstream")
	}
	// listen 80 needs no privilege for -t, but keep clear of the port.
	site = strings.Replace(site, "listen 80;", "listen 127.0.0.1:1;", 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if os.Geteuid() == 0 {
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, "worker_processes 1;\npid %s;\nerror_log %s warn;\nevents { worker_connections 64; }\nhttp {\n",
		filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))
	fmt.Fprintf(&b, "    access_log off;\n")
	out, err := exec.Command(nginx, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -V: %v\n%s", err, out)
	}
	for _, m := range regexp.MustCompile(`--http-([a-z-]+)-temp-path=`).FindAllStringSubmatch(string(out), -1) {
		name := strings.ReplaceAll(m[1], "-", "_")
		fmt.Fprintf(&b, "    %s_temp_path %s;\n", name, filepath.Join(dir, "tmp-"+name))
	}
	fmt.Fprintf(&b, "    include %s;\n}\n", filepath.Join(dir, "site.conf"))
	main := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(main, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-t", "-p", dir+"/", "-c", main, "-e", filepath.Join(dir, "error.log"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("nginx -t on deploy/nginx/sker-compose-cluster.conf: %v\n%s", err, out)
	}
}

// TestComposeConfigValidates has Debian's docker-compose (1.29, the
// Python one: `docker compose` v2 is not packaged) validate
// docker-compose.yml against the Compose schema, with and without the
// cluster profile. It needs no Docker engine.
func TestComposeConfigValidates(t *testing.T) {
	dc := debianTool(t, "docker-compose", "docker-compose")
	file := filepath.Join(moduleRoot(t), "docker-compose.yml")
	for _, args := range [][]string{{"-f", file, "config", "-q"}, {"-f", file, "--profile", "cluster", "config", "-q"}} {
		if out, err := exec.Command(dc, args...).CombinedOutput(); err != nil {
			t.Errorf("docker-compose %s: %v\n%s", strings.Join(args[2:], " "), err, out)
		}
	}
}
