package deploycheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/skerhq/sker/config"
)

// composeFile is docker-compose.yml's top level. Keys other than these
// must be extension fields (x-…), as in the Compose specification.
var composeTopLevel = []string{"name", "services", "volumes", "networks", "configs", "secrets"}

// composeService holds the service fields docker-compose.yml may use,
// decoded strictly: a misspelt field (depend_on, healthcheck.intervall)
// fails the test instead of being ignored by a reader of the file. A new
// Compose field needs adding here first.
type composeService struct {
	Image           string          `json:"image"`
	Build           json.RawMessage `json:"build"`
	Command         json.RawMessage `json:"command"`
	Entrypoint      json.RawMessage `json:"entrypoint"`
	Restart         string          `json:"restart"`
	Environment     json.RawMessage `json:"environment"`
	EnvFile         json.RawMessage `json:"env_file"`
	Ports           []string        `json:"ports"`
	Expose          []string        `json:"expose"`
	Volumes         []string        `json:"volumes"`
	DependsOn       json.RawMessage `json:"depends_on"`
	Healthcheck     *composeHealth  `json:"healthcheck"`
	Profiles        []string        `json:"profiles"`
	StopGracePeriod string          `json:"stop_grace_period"`
	ContainerName   string          `json:"container_name"`
	Networks        json.RawMessage `json:"networks"`
	Labels          json.RawMessage `json:"labels"`
	User            string          `json:"user"`
	WorkingDir      string          `json:"working_dir"`
	PullPolicy      string          `json:"pull_policy"`
	Deploy          json.RawMessage `json:"deploy"`
	Ulimits         map[string]any  `json:"ulimits"`
}

type composeHealth struct {
	Test          []string `json:"test"`
	Interval      string   `json:"interval"`
	Timeout       string   `json:"timeout"`
	Retries       int      `json:"retries"`
	StartPeriod   string   `json:"start_period"`
	StartInterval string   `json:"start_interval"`
	Disable       bool     `json:"disable"`
}

type composeDep struct {
	Condition string `json:"condition"`
	Restart   bool   `json:"restart"`
	Required  *bool  `json:"required"`
}

// compose is the decoded file: services by name, with their dependencies,
// environment and command read from Compose's short and long forms.
type compose struct {
	services map[string]*composeService
	deps     map[string]map[string]composeDep
	env      map[string]map[string]string // after ${VAR:-default} interpolation with no variable set
	command  map[string][]string
	volumes  map[string]bool
}

func loadCompose(t *testing.T) *compose {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatalf("read docker-compose.yml: %v", err)
	}
	c, err := decodeCompose(data)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// decodeCompose decodes a Compose file (YAML anchors and merge keys
// resolved) and checks its top-level keys.
func decodeCompose(data []byte) (*compose, error) {
	var top map[string]json.RawMessage
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	for k := range top {
		if !slices.Contains(composeTopLevel, k) && !strings.HasPrefix(k, "x-") {
			return nil, fmt.Errorf("top-level key %q: not a Compose key nor an x- extension", k)
		}
	}
	c := &compose{deps: map[string]map[string]composeDep{}, env: map[string]map[string]string{},
		command: map[string][]string{}, volumes: map[string]bool{}}
	if err := strictJSON(top["services"], &c.services); err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	if len(c.services) == 0 {
		return nil, fmt.Errorf("no services")
	}
	var vols map[string]json.RawMessage
	if len(top["volumes"]) > 0 {
		if err := json.Unmarshal(top["volumes"], &vols); err != nil {
			return nil, fmt.Errorf("volumes: %w", err)
		}
	}
	for v := range vols {
		c.volumes[v] = true
	}
	for name, s := range c.services {
		deps, err := decodeDeps(s.DependsOn)
		if err != nil {
			return nil, fmt.Errorf("service %s: depends_on: %w", name, err)
		}
		c.deps[name] = deps
		env, err := decodeEnv(s.Environment)
		if err != nil {
			return nil, fmt.Errorf("service %s: environment: %w", name, err)
		}
		c.env[name] = env
		if c.command[name], err = decodeCommand(s.Command); err != nil {
			return nil, fmt.Errorf("service %s: command: %w", name, err)
		}
	}
	return c, nil
}

// strictJSON decodes data into v refusing unknown fields.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// decodeDeps reads depends_on in its list form (condition
// service_started) or its map form.
func decodeDeps(raw json.RawMessage) (map[string]composeDep, error) {
	deps := map[string]composeDep{}
	if len(raw) == 0 || string(raw) == "null" {
		return deps, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		for _, d := range list {
			deps[d] = composeDep{Condition: "service_started"}
		}
		return deps, nil
	}
	var m map[string]composeDep
	if err := strictJSON(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// composeVar matches ${VAR}, ${VAR:-default}, ${VAR-default} and
// ${VAR:?error}.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate substitutes variables as Compose does with none of them
// set: their defaults, or empty.
func interpolate(v string) (string, error) {
	var err error
	out := composeVar.ReplaceAllStringFunc(strings.ReplaceAll(v, "$$", "\x00"), func(m string) string {
		g := composeVar.FindStringSubmatch(m)
		switch {
		case strings.HasSuffix(g[2], "-"):
			return g[3]
		case strings.HasSuffix(g[2], "?"):
			err = fmt.Errorf("%s is required: %s", g[1], g[3])
		}
		return ""
	})
	return strings.ReplaceAll(out, "\x00", "$"), err
}

// decodeEnv reads environment in its map or its KEY=value list form.
func decodeEnv(raw json.RawMessage) (map[string]string, error) {
	env := map[string]string{}
	if len(raw) == 0 || string(raw) == "null" {
		return env, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err == nil {
		for k, v := range m {
			s := ""
			if v != nil {
				s = fmt.Sprint(v)
			}
			env[k] = s
		}
	} else {
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("neither a map nor a list of KEY=value")
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	for k, v := range env {
		s, err := interpolate(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		env[k] = s
	}
	return env, nil
}

// decodeCommand reads command as a list, or a string split on spaces.
func decodeCommand(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return strings.Fields(s), nil
}

// oneShot reports a service that runs to completion: a restart policy of
// "no" and no healthcheck to wait for.
func (c *compose) oneShot(name string) bool {
	return c.services[name].Restart == "no"
}

// isSker reports a service that runs SKER's image.
func (c *compose) isSker(name string) bool {
	return c.services[name].Image == "sker:local"
}

// TestComposeStructure checks that every dependency, profile, volume and
// restart policy in docker-compose.yml refers to what exists and makes
// sense: Compose itself would refuse some of these, and the rest would
// start a node before its database is ready or migrated.
func TestComposeStructure(t *testing.T) {
	c := loadCompose(t)
	root := moduleRoot(t)
	conditions := []string{"service_started", "service_healthy", "service_completed_successfully"}
	for _, name := range sortedKeys(c.services) {
		s := c.services[name]
		if s.Image == "" {
			t.Errorf("service %s: no image", name)
		}
		if !c.oneShot(name) && !slices.Contains([]string{"always", "unless-stopped", "on-failure"}, strings.Split(s.Restart, ":")[0]) {
			t.Errorf("service %s: restart %q; want unless-stopped (or always, on-failure) for a long-running service", name, s.Restart)
		}
		if c.oneShot(name) && s.Healthcheck != nil {
			t.Errorf("service %s: a one-shot service with a healthcheck", name)
		}
		if h := s.Healthcheck; h != nil && !h.Disable {
			if len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") {
				t.Errorf("service %s: healthcheck test %q; want [CMD, …] or [CMD-SHELL, …]", name, h.Test)
			}
		}
		for _, dep := range sortedKeys(c.deps[name]) {
			d := c.deps[name][dep]
			target, ok := c.services[dep]
			if !ok {
				t.Errorf("service %s: depends on %s, which is no service", name, dep)
				continue
			}
			if !slices.Contains(conditions, d.Condition) {
				t.Errorf("service %s: depends on %s with condition %q; want one of %v", name, dep, d.Condition, conditions)
			}
			if d.Condition == "service_healthy" && (target.Healthcheck == nil || target.Healthcheck.Disable) {
				t.Errorf("service %s: waits for %s to be healthy, which has no healthcheck", name, dep)
			}
			if d.Condition == "service_completed_successfully" && !c.oneShot(dep) {
				t.Errorf("service %s: waits for %s to complete, which is not a one-shot (restart: \"no\")", name, dep)
			}
			if d.Condition != "service_completed_successfully" && c.oneShot(dep) {
				t.Errorf("service %s: depends on the one-shot %s with %q; want service_completed_successfully", name, dep, d.Condition)
			}
			if len(target.Profiles) > 0 && !slices.ContainsFunc(s.Profiles, func(p string) bool { return slices.Contains(target.Profiles, p) }) {
				t.Errorf("service %s (profiles %v): depends on %s of profiles %v; it would not start without them", name, s.Profiles, dep, target.Profiles)
			}
		}
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			switch {
			case !ok:
				t.Errorf("service %s: volume %q; want source:target", name, v)
			case strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/"):
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("service %s: mounts %s, which is not in the repository: %v", name, src, err)
				}
			case !c.volumes[src]:
				t.Errorf("service %s: volume %s is not declared under volumes", name, src)
			}
		}
	}
	checkDependencyCycles(t, c)
}

// checkDependencyCycles fails for a cycle of depends_on.
func checkDependencyCycles(t *testing.T, c *compose) {
	t.Helper()
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string, []string)
	visit = func(n string, path []string) {
		switch state[n] {
		case 1:
			t.Errorf("depends_on cycle: %s", strings.Join(append(path, n), " → "))
			return
		case 2:
			return
		}
		state[n] = 1
		for _, d := range sortedKeys(c.deps[n]) {
			if _, ok := c.services[d]; ok {
				visit(d, append(path, n))
			}
		}
		state[n] = 2
	}
	for _, n := range sortedKeys(c.services) {
		visit(n, nil)
	}
}

// TestComposeSkerServices checks the services that run SKER's image: their
// variables are SKER settings that its loader accepts, each node serves
// only after a one-shot `sker migrate` of its own database succeeded.
func TestComposeSkerServices(t *testing.T) {
	c := loadCompose(t)
	settings := skerSettings(t)
	var nodes int
	for _, name := range sortedKeys(c.services) {
		if !c.isSker(name) {
			continue
		}
		where := "docker-compose.yml service " + name
		env := c.env[name]
		checkSettingNames(t, where, settings, env)
		cfg := loadConfig(t, where, env)
		switch cmd := c.command[name]; {
		case slices.Equal(cmd, []string{"migrate"}):
			if !c.oneShot(name) {
				t.Errorf("%s: runs migrate without restart: \"no\"", where)
			}
			if cfg.DatabaseURL == "" {
				t.Errorf("%s: migrates no DATABASE_URL", where)
			}
		case slices.Equal(cmd, []string{"serve"}):
			nodes++
			if !slices.Contains([]string{"always", "unless-stopped"}, c.services[name].Restart) {
				t.Errorf("%s: restart %q; want unless-stopped", where, c.services[name].Restart)
			}
			var migrated bool
			for dep, d := range c.deps[name] {
				if c.isSker(dep) && slices.Equal(c.command[dep], []string{"migrate"}) &&
					d.Condition == "service_completed_successfully" && c.env[dep]["DATABASE_URL"] == env["DATABASE_URL"] {
					migrated = true
				}
			}
			if !migrated {
				t.Errorf("%s: does not wait for a one-shot `sker migrate` of its DATABASE_URL (%s) to succeed", where, env["DATABASE_URL"])
			}
		default:
			t.Errorf("%s: command %q; want [serve] or [migrate]", where, cmd)
		}
	}
	if nodes == 0 {
		t.Fatalf("docker-compose.yml: no service runs sker serve")
	}
}

// TestComposeClusterProfile checks the cluster profile: three nodes of
// one embedded NATS cluster, routes to each other's service names, three
// copies of the journal, one database and one JWT secret, and an nginx
// whose upstream lists exactly those nodes.
func TestComposeClusterProfile(t *testing.T) {
	c := loadCompose(t)
	var nodes []string
	for _, name := range sortedKeys(c.services) {
		if slices.Contains(c.services[name].Profiles, "cluster") && c.isSker(name) && slices.Equal(c.command[name], []string{"serve"}) {
			nodes = append(nodes, name)
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("profile cluster: sker serve nodes %v; want three", nodes)
	}
	var wantRoutes, upstream []string
	shared := map[string]string{}
	for _, n := range nodes {
		cfg := loadConfig(t, "service "+n, c.env[n])
		_, port, ok := strings.Cut(cfg.NatsClusterListen, ":")
		if !ok {
			t.Fatalf("service %s: NATS_CLUSTER_LISTEN %q; want host:port", n, cfg.NatsClusterListen)
		}
		wantRoutes = append(wantRoutes, n+":"+port)
		upstream = append(upstream, n+":"+strconv.Itoa(cfg.Port))
		if cfg.NodeName != n {
			t.Errorf("service %s: NODE_NAME %q; want the service's name", n, cfg.NodeName)
		}
		if cfg.JournalReplicas != 3 {
			t.Errorf("service %s: JOURNAL_REPLICAS %d; want 3", n, cfg.JournalReplicas)
		}
		if cfg.NatsURL != "" {
			t.Errorf("service %s: NATS_URL set; the cluster profile runs embedded NATS", n)
		}
		if cfg.FileStore != "nats" {
			t.Errorf("service %s: FILE_STORE %q; want nats, as the nodes share no UPLOAD_PATH", n, cfg.FileStore)
		}
		for _, k := range []string{"DATABASE_URL", "JWT_SECRET", "NATS_CLUSTER_ROUTES", "NATS_CLUSTER_NAME", "REDIS_URL"} {
			v := c.env[n][k]
			if v == "" {
				t.Errorf("service %s: %s is empty; the nodes need one value of it", n, k)
			}
			if prev, ok := shared[k]; ok && prev != v {
				t.Errorf("service %s: %s %q differs from another node's %q", n, k, v, prev)
			}
			shared[k] = v
		}
	}
	for _, n := range nodes {
		if got := splitComma(c.env[n]["NATS_CLUSTER_ROUTES"]); !slices.Equal(got, wantRoutes) {
			t.Errorf("service %s: NATS_CLUSTER_ROUTES %q; want %q", n, got, wantRoutes)
		}
	}
	checkComposeNginx(t, c, nodes, upstream, loadConfig(t, "service "+nodes[0], c.env[nodes[0]]))
}

// checkComposeNginx finds the cluster profile's nginx and compares the
// upstream of the configuration it mounts with the nodes.
func checkComposeNginx(t *testing.T, c *compose, nodes, want []string, cfg config.Config) {
	t.Helper()
	var conf string
	for _, name := range sortedKeys(c.services) {
		s := c.services[name]
		if !slices.Contains(s.Profiles, "cluster") || !strings.HasPrefix(s.Image, "nginx:") {
			continue
		}
		for _, n := range nodes {
			if _, ok := c.deps[name][n]; !ok {
				t.Errorf("service %s: does not depend on %s; nginx resolves its upstream at start", name, n)
			}
		}
		for _, v := range s.Volumes {
			if src, dst, _ := strings.Cut(v, ":"); strings.HasPrefix(dst, "/etc/nginx/") {
				conf = src
			}
		}
	}
	if conf == "" {
		t.Fatalf("profile cluster: no nginx service mounting a configuration in /etc/nginx/")
	}
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), conf))
	if err != nil {
		t.Fatalf("read %s: %v", conf, err)
	}
	if m := regexp.MustCompile(`(?m)^\s*client_max_body_size\s+([0-9]+[kKmMgG]?);`).FindStringSubmatch(string(data)); m == nil {
		t.Errorf("%s: no client_max_body_size (nginx's default 1m refuses uploads)", conf)
	} else {
		checkBodyLimit(t, conf+" client_max_body_size", m[1], cfg)
	}
	got := nginxUpstream(string(data))
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s: upstream servers %q; want the cluster nodes %q", conf, got, want)
	}
}

// nginxUpstream lists the server addresses of the upstream blocks of an
// nginx configuration.
func nginxUpstream(conf string) []string {
	var out []string
	var in bool
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(strings.TrimSpace(strings.SplitN(line, "#", 2)[0]))
		switch {
		case len(f) >= 2 && f[0] == "upstream":
			in = true
		case in && len(f) > 0 && f[0] == "}":
			in = false
		case in && len(f) >= 2 && f[0] == "server":
			out = append(out, strings.TrimSuffix(f[1], ";"))
		}
	}
	return out
}

// splitComma splits a comma-separated setting as SKER does.
func splitComma(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// TestComposeDecodingCanFail shows that the checks above refuse a
// misspelt field, a dependency on a missing service and an unknown
// top-level key.
func TestComposeDecodingCanFail(t *testing.T) {
	for name, doc := range map[string]string{
		"misspelt field":     "services:\n  a:\n    image: x\n    depend_on: [b]\n",
		"misspelt health":    "services:\n  a:\n    image: x\n    healthcheck: {test: [CMD, true], intervall: 5s}\n",
		"unknown top level":  "service:\n  a: {image: x}\n",
		"bad depends_on map": "services:\n  a:\n    image: x\n    depends_on: {b: {conditon: service_healthy}}\n",
	} {
		if _, err := decodeCompose([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error; want it refused", name)
		}
	}
}
