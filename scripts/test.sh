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
#   6. web UI tests         (coming: see the marked place below)
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
# WEB UI TESTS — coming. When web/ has its package.json and browser tests
# (Vite + playwright-core driving Debian's Chromium, see DESIGN.md §9), run
# them here, e.g.:
#   begin "web UI tests"
#   (cd web && npm ci && npm test)
#   passed
# ---------------------------------------------------------------------------
