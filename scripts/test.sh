#!/usr/bin/env bash
# test.sh — THE test command of SKER (`make test`, and CI through .ci/run).
#
# Steps, in order; the first failure stops the run with a non-zero exit:
#   1. scripts/services.sh  PostgreSQL, Redis, RabbitMQ and NATS must answer
#                           (started or installed when possible; never skipped)
#   2. examples/ai-worker   npm ci (when needed): the example AI worker that
#                           the Go end-to-end tests run
#   3. gofmt -l             must list no file
#   4. go vet               \
#   5. staticcheck           } over ./..., or the packages in $PKGS
#   6. go test -race        /  (staticcheck is a Go tool of the module)
#   7. web UI tests         npm ci (when needed), vitest, build, browser e2e
#                           (see the marked place below; SKIP_WEB=1 skips)
#
# Extra arguments go to `go test`, e.g.
#   bash scripts/test.sh -run TestJournal
#   PKGS=./embednats/... bash scripts/test.sh -v
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

read -ra PKGS <<<"${PKGS:-./...}"
SUMMARY=()
STEP=""
STEP_T0=$SECONDS
T0=$SECONDS

begin() {
	STEP=$1
	STEP_T0=$SECONDS
	printf '\n==> %s\n' "$STEP"
}

passed() {
	SUMMARY+=("ok    $STEP ($((SECONDS - STEP_T0))s)")
	STEP=""
}

finish() {
	local rc=$?
	printf '\n==> summary\n'
	local line
	for line in "${SUMMARY[@]}"; do printf '  %s\n' "$line"; done
	if [ "$rc" -ne 0 ]; then
		printf '  FAIL  %s (exit %d)\n' "${STEP:-test.sh}" "$rc"
		printf 'test.sh: FAILED after %ds\n' "$((SECONDS - T0))"
	else
		printf 'test.sh: all passed in %ds\n' "$((SECONDS - T0))"
	fi
	exit "$rc"
}
trap finish EXIT

begin "services (scripts/services.sh)"
bash scripts/services.sh
passed

# The example AI worker (examples/ai-worker, Node with amqplib) runs in the
# Go end-to-end tests: its dependencies first, npm ci only when missing or
# when its package-lock.json changed.
begin "examples: the AI worker's dependencies (npm ci when needed)"
if ! command -v npm >/dev/null 2>&1; then
	echo "test.sh: npm is not installed; the example AI worker needs Node.js 20+ with npm" >&2
	exit 1
fi
WORKER_SUM=$(sha256sum examples/ai-worker/package-lock.json | cut -d' ' -f1)
if [ ! -d examples/ai-worker/node_modules ] || [ "$(cat examples/ai-worker/node_modules/.lock-sum 2>/dev/null)" != "$WORKER_SUM" ]; then
	(cd examples/ai-worker && npm ci --no-audit --no-fund)
	echo "$WORKER_SUM" >examples/ai-worker/node_modules/.lock-sum
else
	echo "examples/ai-worker/node_modules is current"
fi
passed

begin "gofmt"
mapfile -t GOFILES < <(find . \( -path ./.git -o -path ./web/node_modules -o -name testdata \) -prune \
	-o -type f -name '*.go' -print)
if [ "${#GOFILES[@]}" -gt 0 ]; then
	UNFORMATTED=$(gofmt -l "${GOFILES[@]}")
	if [ -n "$UNFORMATTED" ]; then
		echo "gofmt: these files are not formatted (fix with gofmt -w <file>):"
		sed 's/^/  /' <<<"$UNFORMATTED"
		exit 1
	fi
fi
passed

begin "go vet ${PKGS[*]}"
go vet "${PKGS[@]}"
passed

begin "staticcheck ${PKGS[*]}"
go tool staticcheck "${PKGS[@]}"
passed

# The end-to-end tests of several nodes (e2e, TestCluster…, TestBridgeCluster…,
# TestRedisCluster…, TestFilesCluster…) take about as long as every other
# test together, and spend much of it waiting on leases, pauses and
# elections: they run as one `go test` beside a second that runs the rest a
# package at a time, so that at most two test binaries share the machine.
# With $PKGS or extra arguments, one plain `go test` runs what was asked.
CLUSTER_TESTS='^(TestCluster|TestBridgeCluster|TestRedisCluster|TestFilesCluster)'
begin "go test -race ${PKGS[*]} $*"
if [ "${PKGS[*]}" = "./..." ] && [ $# -eq 0 ]; then
	LOGS=$(mktemp -d)
	go test -race -count=1 -timeout 20m -run "$CLUSTER_TESTS" ./e2e >"$LOGS/cluster" 2>&1 &
	CLUSTER_PID=$!
	set +e
	mapfile -t OTHERS < <(go list ./... | grep -v '/e2e$')
	{
		go test -race -count=1 -timeout 20m -p 1 "${OTHERS[@]}" &&
			go test -race -count=1 -timeout 20m -skip "$CLUSTER_TESTS" ./e2e
	} 2>&1 | tee "$LOGS/rest"
	REST_RC=${PIPESTATUS[0]}
	wait "$CLUSTER_PID"
	CLUSTER_RC=$?
	set -e
	echo "--- the several-node end-to-end tests (go test -run '$CLUSTER_TESTS' ./e2e):"
	cat "$LOGS/cluster"
	rm -rf "$LOGS"
	if [ "$REST_RC" -ne 0 ] || [ "$CLUSTER_RC" -ne 0 ]; then
		exit 1
	fi
else
	go test -race -count=1 -timeout 20m "${PKGS[@]}" "$@"
fi
passed

# ---------------------------------------------------------------------------
# WEB UI TESTS (web/, the studio): dependencies, Vitest unit and component
# tests, the production build (embedded by package ui), and the browser
# end-to-end scenarios (web/e2e/studio.e2e.mjs, web/e2e/files.e2e.mjs for
# image and file cards, web/e2e/comments.e2e.mjs for comments between an
# owner and a viewer, web/e2e/history.e2e.mjs for version history
# (preview, restore, undo), web/e2e/offline.e2e.mjs for offline editing
# (a reload while the server is down, the edits committed once on its
# return, a refused one rolled back), web/e2e/ai.e2e.mjs with
# a fake OpenAI-compatible server, web/e2e/cluster.e2e.mjs,
# web/e2e/bridge.e2e.mjs with the machine's RabbitMQ and the AI worker's
# amqplib, and web/e2e/nginx.e2e.mjs through Debian's nginx with
# deploy/nginx/sker.conf: playwright-core driving Debian's Chromium
# against the real sker binary on a free port).
# SKIP_WEB=1 skips them (for quick Go-only runs; CI never sets it).
# ---------------------------------------------------------------------------
if [ -f web/package.json ] && [ "${SKIP_WEB:-}" != 1 ]; then
	begin "web UI: dependencies (npm ci when needed)"
	if ! command -v npm >/dev/null 2>&1; then
		echo "test.sh: npm is not installed; the studio needs Node.js 20.19+ with npm" >&2
		exit 1
	fi
	# npm ci only when node_modules is missing or package-lock.json changed.
	LOCK_SUM=$(sha256sum web/package-lock.json | cut -d' ' -f1)
	if [ ! -d web/node_modules ] || [ "$(cat web/node_modules/.lock-sum 2>/dev/null)" != "$LOCK_SUM" ]; then
		(cd web && npm ci --no-audit --no-fund)
		echo "$LOCK_SUM" >web/node_modules/.lock-sum
	else
		echo "web/node_modules is current"
	fi
	passed

	begin "web UI: unit and component tests (vitest)"
	(cd web && npm test)
	passed

	begin "web UI: production build"
	(cd web && npm run build)
	passed

	begin "web UI: browser end-to-end (playwright-core + Debian's Chromium)"
	CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
	if [ ! -x "$CHROMIUM" ]; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "installing Debian's chromium package"
			apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
		else
			echo "test.sh: no Chromium at $CHROMIUM. Install Debian's package as root" >&2
			echo "  (apt-get install -y chromium) or set CHROMIUM_PATH; a downloaded browser is never used." >&2
			exit 1
		fi
	fi
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/studio.e2e.mjs)
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/ai.e2e.mjs)
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/files.e2e.mjs)
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/comments.e2e.mjs)
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/history.e2e.mjs)
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/offline.e2e.mjs)
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/cluster.e2e.mjs)
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/bridge.e2e.mjs)
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/nginx.e2e.mjs)
	passed
fi
