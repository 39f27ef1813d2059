# Makefile — SKER's everyday commands. A fresh clone needs only two:
#   make run    build the web UI when there is one, then serve on :3000
#   make test   THE test command (scripts/test.sh; CI runs it via .ci/run)

GO      ?= go
BIN     ?= bin/sker
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run test build lint migrate seed bench clean web cluster chaos

## run: build the web UI if needed, then `sker serve` (http://localhost:3000)
run: web
	$(GO) run ./cmd/sker serve

## test: services check, gofmt, vet, staticcheck, go test -race (scripts/test.sh)
test:
	bash scripts/test.sh

## build: a static binary in bin/sker, with the version from git
build: web
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sker

## lint: gofmt, go vet and staticcheck without running the tests
lint:
	@unformatted=$$(find . \( -path ./.git -o -path ./web/node_modules -o -name testdata \) -prune \
		-o -type f -name '*.go' -print | xargs -r gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt: not formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## migrate: apply the database migrations (DATABASE_URL, or SQLite in DATA_DIR)
migrate:
	$(GO) run ./cmd/sker migrate

## seed: create the demo user and a demo canvas (prints the password)
seed:
	$(GO) run ./cmd/sker seed

## bench: the load harness's standard set (fanout, spread, burst, cold, idle)
##   against a fresh sker per scenario, 1 to 3 minutes: bench/results.json,
##   bench/results.svg and a dated summary appended to docs/performance.md.
##   Sizes: BENCH_FLAGS (see `bin/skerload -h`). Go micro-benchmarks:
##   go test -run '^$$' -bench . -benchmem ./...
BENCH_FLAGS ?= -warmup 2s -duration 10s -drain 10s -timeout 150s
bench:
	$(GO) build -o bin/sker ./cmd/sker
	$(GO) build -o bin/skerload ./cmd/skerload
	bin/skerload -server-bin bin/sker -commit $(VERSION) $(BENCH_FLAGS) \
		-out bench/results.json -plot bench/results.svg -doc docs/performance.md bench

## cluster: three nodes of one cluster on this machine (HTTP 3001-3003), on
##   PostgreSQL (DATABASE_URL, or the local server's sker_cluster); Ctrl-C
##   stops them (scripts/cluster.sh, docs/cluster.md)
cluster:
	bash scripts/cluster.sh

## chaos: the cluster chaos run for CHAOS_DURATION (default 5m): nodes
##   killed, paused and restarted while clients write, then every
##   acknowledged change checked (make test runs it for 60 s)
CHAOS_DURATION ?= 5m
chaos:
	CHAOS_DURATION=$(CHAOS_DURATION) $(GO) test -count=1 -v -timeout 60m -run '^TestClusterChaos$$' ./e2e/

## clean: remove build output (never DATA_DIR: ./data holds your canvases)
clean:
	rm -rf bin ui/dist/app

# The web UI is built only when web/package.json exists, and only when
# its output (ui/dist/app, embedded by package ui) is missing or older than
# a source file; a tree without web/ skips it.
ifneq ($(wildcard web/package.json),)
WEB_SOURCES := $(shell find web \( -path web/node_modules -o -path web/e2e -o -name '*.test.ts' -o -name '*.test.tsx' \) -prune -o -type f -print)
WEB_STAMP   := ui/dist/app/index.html

# Without npm (a machine with Go only) sker still runs: the binary serves a
# placeholder page at / that says how to build the studio.
web:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(WEB_STAMP); \
	else echo "make: npm not found: running without the studio UI (install Node.js 20.19+ to build it)"; fi

web/node_modules/.installed: web/package.json $(wildcard web/package-lock.json)
	cd web && if [ -f package-lock.json ]; then npm ci; else npm install; fi
	mkdir -p web/node_modules && touch $@

$(WEB_STAMP): web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build
	touch $@
else
web:
	@true
endif
