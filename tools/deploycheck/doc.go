// Package deploycheck holds the tests of SKER's deployment files: the
// Kubernetes manifests in deploy/k8s (decoded strictly against the
// Kubernetes API types, and checked against each other and against SKER's
// settings), docker-compose.yml (its services, profiles, dependencies and
// healthchecks), and the Grafana dashboard in deploy/grafana (every metric
// its queries use is one a node exports, and Debian's promtool parses each
// query), with `nginx -t` on the compose cluster's nginx configuration and
// Debian's docker-compose validating docker-compose.yml against its schema.
// The manifests and the compose file are not run, as the test machines
// have no Kubernetes and no Docker engine; the tests catch what a typo or a
// renamed setting or metric would break. The package has no code of its
// own.
package deploycheck
