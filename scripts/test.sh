#!/usr/bin/env bash
# test.sh — THE test command of SKER (`make test`, and CI through .ci/run).
#
# Steps, in order; the first failure stops the run with a non-zero exit:
#   1. scripts/services.sh  PostgreSQL, Redis, RabbitMQ and NATS must answer
#                           (started or installed when possible; never skipped)
#   2. gofmt -l             must list no file
#   3. go vet               \
#   4. staticcheck           } over ./..., or the packages in $PKGS
#   5. go test -race        /  (staticcheck is a Go tool of the module)
#   6. web UI tests         npm ci (when needed), vitest, build, browser e2e
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

begin "go test -race ${PKGS[*]} $*"
go test -race -count=1 -timeout 20m "${PKGS[@]}" "$@"
passed

# ---------------------------------------------------------------------------
# WEB UI TESTS (web/, the studio): dependencies, Vitest unit and component
# tests, the production build (embedded by package ui), and the browser
# end-to-end scenarios (web/e2e/studio.e2e.mjs, and web/e2e/ai.e2e.mjs with
# a fake OpenAI-compatible server: playwright-core driving Debian's Chromium
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
	(cd web && CHROMIUM_PATH="$CHROMIUM" node e2e/cluster.e2e.mjs)
	passed
fi
