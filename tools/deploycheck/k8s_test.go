package deploycheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/skerhq/sker/config"
)

// k8sKinds are the API types the manifests may use, by apiVersion and
// kind. A manifest of another kind fails: add its type here first.
var k8sKinds = map[string]func() any{
	"v1/Namespace":                           func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"apps/v1/StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/Ingress":           func() any { return &networkingv1.Ingress{} },
}

// manifest is one decoded object with the file it came from.
type manifest struct {
	file string
	meta metav1.TypeMeta
	obj  any
}

// decodeManifests reads every YAML document of data strictly into its API
// type: an unknown or duplicated field, a wrong type or a bad quantity is
// an error, as `kubectl apply --validate=strict` would report.
func decodeManifests(file string, data []byte) ([]manifest, error) {
	var out []manifest
	for i, doc := range splitYAMLDocuments(data) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i+1, err)
		}
		if tm.APIVersion == "" && tm.Kind == "" {
			continue // comments only
		}
		newObj, ok := k8sKinds[tm.APIVersion+"/"+tm.Kind]
		if !ok {
			return nil, fmt.Errorf("%s: document %d: %s %s is not a kind these tests know", file, i+1, tm.APIVersion, tm.Kind)
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: document %d (%s): %w", file, i+1, tm.Kind, err)
		}
		out = append(out, manifest{file: file, meta: tm, obj: obj})
	}
	return out, nil
}

// splitYAMLDocuments splits a YAML stream at its "---" lines.
func splitYAMLDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if strings.TrimRight(string(line), " \t\r\n") == "---" {
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	return append(docs, cur.Bytes())
}

// k8sObjects are the manifests of deploy/k8s and deploy/k8s/examples, by
// kind and name.
type k8sObjects struct {
	namespaces   map[string]*corev1.Namespace
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	services     map[string]*corev1.Service
	statefulSets map[string]*appsv1.StatefulSet
	jobs         map[string]*batchv1.Job
	pdbs         map[string]*policyv1.PodDisruptionBudget
	hpas         map[string]*autoscalingv2.HorizontalPodAutoscaler
	ingresses    map[string]*networkingv1.Ingress
	files        []string
}

func loadK8s(t *testing.T) *k8sObjects {
	t.Helper()
	dir := filepath.Join(moduleRoot(t), "deploy", "k8s")
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml", "examples/*.yaml", "examples/*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatalf("glob: %v", err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	o := &k8sObjects{
		namespaces: map[string]*corev1.Namespace{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}, services: map[string]*corev1.Service{},
		statefulSets: map[string]*appsv1.StatefulSet{}, jobs: map[string]*batchv1.Job{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		ingresses: map[string]*networkingv1.Ingress{},
	}
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		o.files = append(o.files, rel)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		ms, err := decodeManifests(rel, data)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(ms) == 0 {
			t.Errorf("%s: holds no object", rel)
		}
		for _, m := range ms {
			o.add(t, m)
		}
	}
	return o
}

// add files m under its kind and name, checking its name and namespace.
func (o *k8sObjects) add(t *testing.T, m manifest) {
	t.Helper()
	var om *metav1.ObjectMeta
	put := func(name string, present bool) {
		if present {
			t.Errorf("%s: a second %s named %q", m.file, m.meta.Kind, name)
		}
	}
	switch v := m.obj.(type) {
	case *corev1.Namespace:
		om = &v.ObjectMeta
		_, dup := o.namespaces[v.Name]
		put(v.Name, dup)
		o.namespaces[v.Name] = v
	case *corev1.ConfigMap:
		om = &v.ObjectMeta
		_, dup := o.configMaps[v.Name]
		put(v.Name, dup)
		o.configMaps[v.Name] = v
	case *corev1.Secret:
		om = &v.ObjectMeta
		_, dup := o.secrets[v.Name]
		put(v.Name, dup)
		o.secrets[v.Name] = v
	case *corev1.Service:
		om = &v.ObjectMeta
		_, dup := o.services[v.Name]
		put(v.Name, dup)
		o.services[v.Name] = v
	case *appsv1.StatefulSet:
		om = &v.ObjectMeta
		_, dup := o.statefulSets[v.Name]
		put(v.Name, dup)
		o.statefulSets[v.Name] = v
	case *batchv1.Job:
		om = &v.ObjectMeta
		_, dup := o.jobs[v.Name]
		put(v.Name, dup)
		o.jobs[v.Name] = v
	case *policyv1.PodDisruptionBudget:
		om = &v.ObjectMeta
		_, dup := o.pdbs[v.Name]
		put(v.Name, dup)
		o.pdbs[v.Name] = v
	case *autoscalingv2.HorizontalPodAutoscaler:
		om = &v.ObjectMeta
		_, dup := o.hpas[v.Name]
		put(v.Name, dup)
		o.hpas[v.Name] = v
	case *networkingv1.Ingress:
		om = &v.ObjectMeta
		_, dup := o.ingresses[v.Name]
		put(v.Name, dup)
		o.ingresses[v.Name] = v
	default:
		t.Fatalf("%s: no place for %T", m.file, m.obj)
	}
	for _, msg := range validation.IsDNS1123Subdomain(om.Name) {
		t.Errorf("%s: %s name %q: %s", m.file, m.meta.Kind, om.Name, msg)
	}
	if m.meta.Kind != "Namespace" && om.Namespace == "" {
		t.Errorf("%s: %s %q names no namespace", m.file, m.meta.Kind, om.Name)
	}
}

// one returns the only value of m, failing when there is not exactly one.
func one[V any](t *testing.T, what string, m map[string]V) V {
	t.Helper()
	if len(m) != 1 {
		t.Fatalf("want exactly one %s in deploy/k8s, got %d (%v)", what, len(m), sortedKeys(m))
	}
	var only V
	for _, v := range m {
		only = v
	}
	return only
}

// TestK8sManifestsDecodeStrictly decodes every manifest against the
// Kubernetes API types with unknown fields refused, and checks that the
// objects live in the namespace the manifests create.
func TestK8sManifestsDecodeStrictly(t *testing.T) {
	o := loadK8s(t)
	ns := one(t, "Namespace", o.namespaces)
	for _, want := range []string{"namespace.yaml", "configmap.yaml", "services.yaml", "statefulset.yaml", "pdb.yaml", "hpa.yaml", "ingress.yaml", "examples/secret.yaml"} {
		if !slices.Contains(o.files, want) {
			t.Errorf("deploy/k8s/%s: missing", want)
		}
	}
	namespaced := []metav1.ObjectMeta{}
	for _, v := range o.configMaps {
		namespaced = append(namespaced, v.ObjectMeta)
	}
	for _, v := range o.secrets {
		namespaced = append(namespaced, v.ObjectMeta)
	}
	for _, v := range o.services {
		namespaced = append(namespaced, v.ObjectMeta)
	}
	for _, v := range o.statefulSets {
		namespaced = append(namespaced, v.ObjectMeta)
	}
	for _, v := range o.pdbs {
		namespaced = append(namespaced, v.ObjectMeta)
	}
	for _, v := range o.hpas {
		namespaced = append(namespaced, v.ObjectMeta)
	}
	for _, v := range o.ingresses {
		namespaced = append(namespaced, v.ObjectMeta)
	}
	for _, om := range namespaced {
		if om.Namespace != ns.Name {
			t.Errorf("%s: in namespace %q; want %q, the one namespace.yaml creates", om.Name, om.Namespace, ns.Name)
		}
	}
}

// TestStrictDecodingRejectsUnknownFields shows that the decoding above can
// fail: a misspelt field and a field at the wrong level are refused.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	for name, doc := range map[string]string{
		"misspelt field":   "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: b}\nspec:\n  selektor: {app: a}\n",
		"wrong level":      "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: a, namespace: b}\nspec:\n  containers: []\n",
		"duplicated field": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: b}\ndata: {A: x}\ndata: {B: y}\n",
		"unknown kind":     "apiVersion: v1\nkind: Servce\nmetadata: {name: a}\n",
		"wrong type":       "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: b}\nspec: {ports: [{port: http}]}\n",
	} {
		if _, err := decodeManifests(name, []byte(doc)); err == nil {
			t.Errorf("%s: decoded without error; want it refused", name)
		}
	}
}

// podEnv is the environment a container of the template gets: its envFrom
// ConfigMaps and Secrets, then its env, with a pod name for fieldRefs.
func podEnv(t *testing.T, o *k8sObjects, where string, c corev1.Container, podName string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := o.configMaps[from.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: envFrom ConfigMap %q: no such ConfigMap in deploy/k8s", where, from.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				env[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			s, ok := o.secrets[from.SecretRef.Name]
			if !ok {
				t.Errorf("%s: envFrom Secret %q: no such Secret in deploy/k8s/examples", where, from.SecretRef.Name)
				continue
			}
			for k, v := range s.StringData {
				env[from.Prefix+k] = v
			}
			for k, v := range s.Data {
				env[from.Prefix+k] = string(v)
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env[e.Name] = podName
		default:
			t.Errorf("%s: env %s: a valueFrom these tests do not resolve", where, e.Name)
		}
	}
	return env
}

// TestK8sStatefulSetFormsACluster checks the StatefulSet against the
// Services, the ConfigMap, the Secret and SKER's settings: every variable
// is a SKER setting and the configuration loads; the routes are the stable
// DNS names of the pods under the headless Service; probes hit /health and
// /ready on the HTTP port; the grace period covers the drain.
func TestK8sStatefulSetFormsACluster(t *testing.T) {
	o := loadK8s(t)
	settings := skerSettings(t)
	sts := one(t, "StatefulSet", o.statefulSets)
	spec := sts.Spec
	where := "statefulset " + sts.Name
	if spec.Replicas == nil || *spec.Replicas != 3 {
		t.Fatalf("%s: replicas %v; want 3", where, spec.Replicas)
	}
	replicas := int(*spec.Replicas)
	if spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("%s: podManagementPolicy %q; want Parallel (a pod is ready only once the cluster has formed)", where, spec.PodManagementPolicy)
	}
	podLabels := labels.Set(spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil || spec.Selector == nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("%s: selector %v does not match the pod labels %v (%v)", where, spec.Selector, podLabels, err)
	}
	pod := spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers; want one, sker", where, len(pod.Containers))
	}
	c := pod.Containers[0]
	env := podEnv(t, o, where+" container "+c.Name, c, sts.Name+"-0")
	checkSettingNames(t, where+" container "+c.Name, settings, env)
	cfg := loadConfig(t, where+" container "+c.Name, env)

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != int32(cfg.Port) {
		t.Errorf("%s: container port http is %d; PORT is %d", where, ports["http"], cfg.Port)
	}

	checkProbe(t, where+" livenessProbe", c.LivenessProbe, "/health", c.Ports, cfg.Port)
	checkProbe(t, where+" readinessProbe", c.ReadinessProbe, "/ready", c.Ports, cfg.Port)
	checkProbe(t, where+" startupProbe", c.StartupProbe, "/health", c.Ports, cfg.Port)
	if sp := c.StartupProbe; sp != nil {
		// A node waits up to two minutes for the NATS cluster to form
		// before it listens on HTTP.
		if window := time.Duration(sp.PeriodSeconds*sp.FailureThreshold) * time.Second; window < 2*time.Minute {
			t.Errorf("%s: startupProbe allows %v; want at least 2m, the wait for the cluster to form", where, window)
		}
	}

	checkCluster(t, o, sts, cfg, ports, replicas)
	checkDrain(t, where, pod, c, cfg)
	checkMigrations(t, o, sts, c, settings)
	checkStorage(t, where, sts, c, cfg)
	checkResources(t, where+" container "+c.Name, c)
	for _, ic := range pod.InitContainers {
		checkResources(t, where+" initContainer "+ic.Name, ic)
	}
}

// checkProbe checks that p is an HTTP GET of path on the port SKER's PORT
// names.
func checkProbe(t *testing.T, where string, p *corev1.Probe, path string, ports []corev1.ContainerPort, port int) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: want an httpGet probe of %s", where, path)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s: probes %q; want %q", where, p.HTTPGet.Path, path)
	}
	if got := resolvePort(p.HTTPGet.Port, ports); got != int32(port) {
		t.Errorf("%s: probes port %s (%d); want %d, PORT", where, p.HTTPGet.Port.String(), got, port)
	}
}

// resolvePort is the container port a name or number refers to, or 0.
func resolvePort(p intstr.IntOrString, ports []corev1.ContainerPort) int32 {
	for _, cp := range ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	return 0
}

// checkCluster checks the embedded NATS cluster's wiring: the headless
// Service, the route listener and the routes, the number of copies.
func checkCluster(t *testing.T, o *k8sObjects, sts *appsv1.StatefulSet, cfg config.Config, ports map[string]int32, replicas int) {
	t.Helper()
	where := "statefulset " + sts.Name
	podLabels := labels.Set(sts.Spec.Template.Labels)
	c := sts.Spec.Template.Spec.Containers[0]
	headless, ok := o.services[sts.Spec.ServiceName]
	if !ok {
		t.Fatalf("%s: serviceName %q: no such Service", where, sts.Spec.ServiceName)
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("service %s: clusterIP %q; want None (headless, for the pods' stable DNS names)", headless.Name, headless.Spec.ClusterIP)
	}
	if !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("service %s: publishNotReadyAddresses false; the pods must find each other before they are ready", headless.Name)
	}
	_, listenPort, ok := strings.Cut(cfg.NatsClusterListen, ":")
	if !ok {
		t.Fatalf("%s: NATS_CLUSTER_LISTEN %q; want host:port", where, cfg.NatsClusterListen)
	}
	routePort, _ := strconv.Atoi(listenPort)
	if ports["routes"] != int32(routePort) {
		t.Errorf("%s: container port routes is %d; NATS_CLUSTER_LISTEN listens on %d", where, ports["routes"], routePort)
	}
	var routesServed bool
	for _, sp := range headless.Spec.Ports {
		if resolvePort(sp.TargetPort, c.Ports) == int32(routePort) && sp.Port == int32(routePort) {
			routesServed = true
		}
	}
	if !routesServed {
		t.Errorf("service %s: no port %d to the routes container port", headless.Name, routePort)
	}
	var want []string
	for i := range replicas {
		want = append(want, fmt.Sprintf("%s-%d.%s.%s.svc.cluster.local:%d", sts.Name, i, headless.Name, sts.Namespace, routePort))
	}
	if !slices.Equal(cfg.NatsClusterRoutes, want) {
		t.Errorf("%s: NATS_CLUSTER_ROUTES %q; want the pods' stable names %q", where, cfg.NatsClusterRoutes, want)
	}
	if cfg.NodeName != sts.Name+"-0" {
		t.Errorf("%s: NODE_NAME on pod %s-0 is %q; want the pod's name", where, sts.Name, cfg.NodeName)
	}
	if cfg.JournalReplicas != 3 || cfg.JournalReplicas > replicas {
		t.Errorf("%s: JOURNAL_REPLICAS %d with %d replicas; want 3", where, cfg.JournalReplicas, replicas)
	}
	if cfg.DatabaseURL == "" {
		t.Errorf("%s: no DATABASE_URL: a cluster shares one PostgreSQL", where)
	}
	if cfg.FileStore != "nats" {
		t.Errorf("%s: FILE_STORE %q; want nats, as the pods share no disk for UPLOAD_PATH", where, cfg.FileStore)
	}
	for _, svc := range o.services {
		if sel := labels.SelectorFromSet(svc.Spec.Selector); len(svc.Spec.Selector) == 0 || !sel.Matches(podLabels) {
			t.Errorf("service %s: selector %v does not select the pods (labels %v)", svc.Name, svc.Spec.Selector, podLabels)
		}
		for _, sp := range svc.Spec.Ports {
			if resolvePort(sp.TargetPort, c.Ports) == 0 {
				t.Errorf("service %s: port %s targets %s, which is no container port", svc.Name, sp.Name, sp.TargetPort.String())
			}
		}
	}
	pdb := one(t, "PodDisruptionBudget", o.pdbs)
	if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("poddisruptionbudget %s: selector does not select the pods (%v)", pdb.Name, err)
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.String() != "1" {
		t.Errorf("poddisruptionbudget %s: maxUnavailable %v; want 1", pdb.Name, pdb.Spec.MaxUnavailable)
	}
	hpa := one(t, "HorizontalPodAutoscaler", o.hpas)
	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "StatefulSet" || ref.Name != sts.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("horizontalpodautoscaler %s: scales %s %s %s; want apps/v1 StatefulSet %s", hpa.Name, ref.APIVersion, ref.Kind, ref.Name, sts.Name)
	}
	if hpa.Spec.MinReplicas == nil || int(*hpa.Spec.MinReplicas) < cfg.JournalReplicas {
		t.Errorf("horizontalpodautoscaler %s: minReplicas %v; want at least JOURNAL_REPLICAS (%d)", hpa.Name, hpa.Spec.MinReplicas, cfg.JournalReplicas)
	}
	checkIngress(t, o, c, cfg)
}

// checkIngress checks that the Ingress reaches the HTTP Service and keeps
// WebSockets open.
func checkIngress(t *testing.T, o *k8sObjects, c corev1.Container, cfg config.Config) {
	t.Helper()
	ing := one(t, "Ingress", o.ingresses)
	where := "ingress " + ing.Name
	for _, key := range []string{"nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"} {
		secs, err := strconv.Atoi(ing.Annotations[key])
		if err != nil || secs < 300 {
			t.Errorf("%s: %s = %q; want seconds, at least 300, so that idle WebSockets stay open", where, key, ing.Annotations[key])
		}
	}
	checkBodyLimit(t, where+" proxy-body-size", ing.Annotations["nginx.ingress.kubernetes.io/proxy-body-size"], cfg)
	var backends int
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			backends++
			b := p.Backend.Service
			if b == nil {
				t.Errorf("%s: path %s has no Service backend", where, p.Path)
				continue
			}
			svc, ok := o.services[b.Name]
			if !ok {
				t.Errorf("%s: path %s: backend Service %q does not exist", where, p.Path, b.Name)
				continue
			}
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				t.Errorf("%s: path %s: backend %s is the headless routes Service", where, p.Path, b.Name)
			}
			var target int32
			for _, sp := range svc.Spec.Ports {
				if (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number) {
					target = resolvePort(sp.TargetPort, c.Ports)
				}
			}
			if target != int32(cfg.Port) {
				t.Errorf("%s: path %s: backend %s port %v does not reach the HTTP port %d", where, p.Path, b.Name, b.Port, cfg.Port)
			}
		}
	}
	if backends == 0 {
		t.Errorf("%s: no backend", where)
	}
}

// uploadSlack is what sker allows an upload's body beyond MAX_FILE_SIZE,
// for a multipart form's boundaries and part headers (docs/files.md).
const uploadSlack = 64 << 10

// checkBodyLimit checks a proxy's body limit in nginx's size syntax (a
// number with k, m or g): large enough for an upload of MAX_FILE_SIZE and
// for BODY_LIMIT, so that sker, not the proxy, answers an oversized body.
func checkBodyLimit(t *testing.T, where, v string, cfg config.Config) {
	t.Helper()
	want := max(cfg.BodyLimit, cfg.MaxFileSize+uploadSlack)
	mult := map[string]int64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
	num := strings.TrimRight(strings.ToLower(v), "kmg")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n*mult[strings.ToLower(v)[len(num):]] < want {
		t.Errorf("%s: %q; want at least %d bytes (MAX_FILE_SIZE %d + %d, BODY_LIMIT %d)", where, v, want, cfg.MaxFileSize, uploadSlack, cfg.BodyLimit)
	}
}

// checkDrain checks that Kubernetes gives a node the time its drain takes
// before it kills it: the preStop sleep plus SHUTDOWN_TIMEOUT, and a margin.
func checkDrain(t *testing.T, where string, pod corev1.PodSpec, c corev1.Container, cfg config.Config) {
	t.Helper()
	var preStop time.Duration
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		t.Errorf("%s: no preStop hook (a pause before SIGTERM for the endpoints to drop the pod)", where)
	} else if s := c.Lifecycle.PreStop.Sleep; s != nil {
		preStop = time.Duration(s.Seconds) * time.Second
	} else {
		t.Errorf("%s: preStop is not a sleep handler; the distroless image has no shell to run one", where)
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatalf("%s: no terminationGracePeriodSeconds", where)
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if need := preStop + cfg.ShutdownTimeout + 10*time.Second; grace < need {
		t.Errorf("%s: terminationGracePeriodSeconds %v; want at least %v (preStop %v + SHUTDOWN_TIMEOUT %v + 10s)", where, grace, need, preStop, cfg.ShutdownTimeout)
	}
}

// checkMigrations checks that `sker migrate` runs before the nodes serve,
// from an init container (or a Job) of the same image and settings.
func checkMigrations(t *testing.T, o *k8sObjects, sts *appsv1.StatefulSet, main corev1.Container, settings map[string]bool) {
	t.Helper()
	migrators := slices.Clone(sts.Spec.Template.Spec.InitContainers)
	for _, j := range o.jobs {
		migrators = append(migrators, j.Spec.Template.Spec.Containers...)
	}
	var found bool
	for _, m := range migrators {
		if !slices.Equal(m.Args, []string{"migrate"}) {
			continue
		}
		found = true
		where := "migration container " + m.Name
		if m.Image != main.Image {
			t.Errorf("%s: image %q; want the nodes' %q", where, m.Image, main.Image)
		}
		env := podEnv(t, o, where, m, sts.Name+"-0")
		checkSettingNames(t, where, settings, env)
		if cfg := loadConfig(t, where, env); cfg.DatabaseURL == "" {
			t.Errorf("%s: no DATABASE_URL to migrate", where)
		}
	}
	if !found {
		t.Errorf("statefulset %s: no init container or Job runs `sker migrate`", sts.Name)
	}
	if !slices.Equal(main.Args, []string{"serve"}) {
		t.Errorf("statefulset %s: container args %q; want [serve]", sts.Name, main.Args)
	}
}

// checkStorage checks that DATA_DIR, where the node's JetStream copy of
// the journal lives, is on the pod's own volume claim.
func checkStorage(t *testing.T, where string, sts *appsv1.StatefulSet, c corev1.Container, cfg config.Config) {
	t.Helper()
	var claim string
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == cfg.DataDir {
			claim = vm.Name
		}
	}
	if claim == "" {
		t.Fatalf("%s: nothing mounted at DATA_DIR %s", where, cfg.DataDir)
	}
	var ok bool
	for _, vct := range sts.Spec.VolumeClaimTemplates {
		ok = ok || vct.Name == claim
	}
	if !ok {
		t.Errorf("%s: DATA_DIR's volume %q is not one of the volumeClaimTemplates", where, claim)
	}
}

// checkResources wants CPU and memory requests and a memory limit.
func checkResources(t *testing.T, where string, c corev1.Container) {
	t.Helper()
	r := c.Resources
	if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() {
		t.Errorf("%s: want cpu and memory requests and a memory limit, got %v", where, r)
	}
}

// TestK8sREADMEListsEveryManifest keeps deploy/k8s/README.md in step with
// the files.
func TestK8sREADMEListsEveryManifest(t *testing.T) {
	o := loadK8s(t)
	readme, err := os.ReadFile(filepath.Join(moduleRoot(t), "deploy", "k8s", "README.md"))
	if err != nil {
		t.Fatalf("read deploy/k8s/README.md: %v", err)
	}
	for _, f := range o.files {
		if !strings.Contains(string(readme), f) {
			t.Errorf("deploy/k8s/README.md does not mention %s", f)
		}
	}
}
