#!/usr/bin/env bash
# scripts/cluster.sh — `make cluster`: three sker nodes on this machine, one
# cluster, for trying it out. HTTP on ports 3001, 3002 and 3003 (node-1 to
# node-3), NATS routes on 6301-6303, each node with its own data folder in
# data/cluster/node-N and its log in data/cluster/node-N.log. They share
# one PostgreSQL (DATABASE_URL, default the local server's database
# "sker_cluster", created when missing) and one JWT secret (kept in
# data/cluster/jwt_secret), and keep the journal at three copies.
# Ctrl-C stops the three gracefully. See docs/cluster.md.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${CLUSTER_DIR:-data/cluster}
DB=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/sker_cluster?sslmode=disable}
mkdir -p "$BASE"

if [ -z "${DATABASE_URL:-}" ] && command -v psql >/dev/null; then
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='sker_cluster'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc "create database sker_cluster" || {
      echo "cluster: cannot create database sker_cluster; set DATABASE_URL to a PostgreSQL database" >&2; exit 1; }
  fi
fi
if [ ! -s "$BASE/jwt_secret" ]; then
  head -c 48 /dev/urandom | base64 | tr -d '\n' > "$BASE/jwt_secret"
  chmod 600 "$BASE/jwt_secret"
fi
JWT=$(cat "$BASE/jwt_secret")

go build -o bin/sker ./cmd/sker
DATABASE_URL=$DB DATA_DIR=$BASE/node-1 bin/sker migrate

ROUTES=127.0.0.1:6301,127.0.0.1:6302,127.0.0.1:6303
pids=()
stop() {
  echo "cluster: stopping the nodes"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait
}
trap 'stop; exit 0' INT TERM

for n in 1 2 3; do
  NODE_NAME=node-$n PORT=300$n HOST=${HOST:-127.0.0.1} DATA_DIR=$BASE/node-$n \
    DATABASE_URL=$DB JWT_SECRET=$JWT \
    NATS_CLUSTER_LISTEN=127.0.0.1:630$n NATS_CLUSTER_ROUTES=$ROUTES JOURNAL_REPLICAS=3 \
    bin/sker serve >"$BASE/node-$n.log" 2>&1 &
  pids+=($!)
done
for n in 1 2 3; do
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:300$n/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "${pids[$((n-1))]}" 2>/dev/null; then
      echo "cluster: node-$n exited; its log:" >&2; tail -n 30 "$BASE/node-$n.log" >&2; stop; exit 1
    fi
    sleep 0.5
  done
done
echo "cluster: node-1 http://127.0.0.1:3001  node-2 http://127.0.0.1:3002  node-3 http://127.0.0.1:3003"
echo "cluster: the nodes: curl -s http://127.0.0.1:3001/cluster; logs in $BASE/node-N.log; Ctrl-C stops them"
wait
