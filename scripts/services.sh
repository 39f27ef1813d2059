#!/usr/bin/env bash
# services.sh — make sure the services SKER's tests talk to answer on
# loopback: PostgreSQL (5432), Redis (6379), RabbitMQ (5672) and NATS with
# JetStream (4222), as on SKER's development and CI machines (Debian
# packages, started by the commands below). README.md, "Quick start".
#
# For each service: answers → one "ok" line. Installed but down → start it
# (as root) and wait for it. Missing → install it from Debian's packages
# when running as root on Debian. Otherwise stop with a message that says
# what is missing and how to get it. Safe to run any number of times.
#
# SERVICES_WAIT (seconds, default 60) bounds the wait for each start.
set -euo pipefail

PATH="$PATH:/usr/sbin:/sbin"
WAIT="${SERVICES_WAIT:-60}"
APT_UPDATED=0
PROBLEMS=()

say() { printf 'services: %s\n' "$*"; }

is_root() { [ "$(id -u)" -eq 0 ]; }
is_debian() { [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

# tcp_up PORT: something accepts TCP connections on 127.0.0.1:PORT.
tcp_up() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# --- checks ------------------------------------------------------------------

postgres_up() {
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h 127.0.0.1 -p 5432 -t 1
	else
		tcp_up 5432
	fi
}

redis_up() {
	if command -v redis-cli >/dev/null 2>&1; then
		[ "$(timeout 2 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]
	else
		tcp_up 6379
	fi
}

rabbitmq_up() { tcp_up 5672; }
nats_up() { tcp_up 4222; }

# --- installed? --------------------------------------------------------------

pg_versions() { ls /etc/postgresql 2>/dev/null || true; }
postgres_installed() { command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(pg_versions)" ]; }
redis_installed() { command -v redis-server >/dev/null 2>&1; }
rabbitmq_installed() { command -v rabbitmq-server >/dev/null 2>&1; }
nats_installed() { [ -x /usr/sbin/nats-server ]; }

# --- start commands (the same as on the development and CI machines) ---------

postgres_start_cmd() {
	echo 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
}
postgres_start() {
	local v
	for v in $(pg_versions); do
		[ -d "/etc/postgresql/$v/main" ] || continue
		pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
	done
}

redis_start_cmd() {
	echo 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'
}
redis_start() {
	mkdir -p /var/lib/redis /var/log/redis
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
}

rabbitmq_start_cmd() { echo 'rabbitmq-server -detached'; }
rabbitmq_start() { rabbitmq-server -detached; }

nats_start_cmd() {
	echo 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log'
}
nats_start() {
	mkdir -p /var/lib/nats-server
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
		-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
}

postgres_log() { echo /var/log/postgresql/; }
redis_log() { echo /var/log/redis/ci.log; }
rabbitmq_log() { echo /var/log/rabbitmq/; }
nats_log() { echo /var/log/nats-server.log; }

# --- install -----------------------------------------------------------------

apt_install() {
	if [ "$APT_UPDATED" -eq 0 ]; then
		say "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		APT_UPDATED=1
	fi
	say "apt-get install -y $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# A PostgreSQL this script has just installed is on a development or CI
# machine: set it up like those (trust on loopback and the socket, a
# superuser role "root", databases "test" and "root"). An existing
# installation is never touched.
postgres_after_install() {
	local v hba
	for v in $(pg_versions); do
		hba="/etc/postgresql/$v/main/pg_hba.conf"
		[ -f "$hba" ] || continue
		cat >"$hba" <<'EOF'
# Written by SKER's scripts/services.sh on a fresh development/CI machine.
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
host    all   all   ::1/128       trust
EOF
		pg_ctlcluster --skip-systemctl-redirect "$v" main reload 2>/dev/null || true
	done
}

postgres_after_start() {
	local sql
	for sql in "CREATE ROLE root SUPERUSER LOGIN" "CREATE DATABASE test" "CREATE DATABASE root OWNER root"; do
		psql -q -h 127.0.0.1 -U postgres -d postgres -c "$sql" >/dev/null 2>&1 || true
	done
}

# --- one service -------------------------------------------------------------

# wait_up NAME: poll NAME_up once a second for up to $WAIT seconds.
wait_up() {
	local name=$1 i
	for ((i = 0; i < WAIT; i++)); do
		"${name}_up" && return 0
		sleep 1
	done
	return 1
}

# ensure NAME LABEL PORT PACKAGE
ensure() {
	local name=$1 label=$2 port=$3 pkg=$4 installed_now=0
	if "${name}_up"; then
		say "$label ok (127.0.0.1:$port)"
		return
	fi
	if ! "${name}_installed"; then
		if ! is_root || ! is_debian; then
			PROBLEMS+=("$label is not installed (want it on 127.0.0.1:$port; Debian package $pkg)")
			return
		fi
		apt_install "$pkg"
		installed_now=1
		if [ "$name" = postgres ]; then postgres_after_install; fi
		if "${name}_up"; then # the package's own scripts may have started it
			if [ "$name" = postgres ]; then postgres_after_start; fi
			say "$label installed and running (127.0.0.1:$port)"
			return
		fi
	fi
	if ! is_root; then
		PROBLEMS+=("$label is installed but not running; start it as root with: $("${name}_start_cmd")")
		return
	fi
	say "$label is down; starting: $("${name}_start_cmd")"
	"${name}_start" >/dev/null 2>&1 || true
	if ! wait_up "$name"; then
		PROBLEMS+=("$label did not answer on 127.0.0.1:$port within ${WAIT}s after: $("${name}_start_cmd") (log: $("${name}_log"))")
		return
	fi
	if [ "$name" = postgres ] && [ "$installed_now" -eq 1 ]; then postgres_after_start; fi
	say "$label started (127.0.0.1:$port)"
}

ensure postgres PostgreSQL 5432 postgresql
ensure redis Redis 6379 redis-server
ensure rabbitmq RabbitMQ 5672 rabbitmq-server
ensure nats NATS 4222 nats-server

if [ "${#PROBLEMS[@]}" -gt 0 ]; then
	{
		echo
		echo "services: SKER's tests need PostgreSQL, Redis, RabbitMQ and NATS (with JetStream)"
		echo "services: on 127.0.0.1 at their standard ports (5432, 6379, 5672, 4222). Not ready:"
		for p in "${PROBLEMS[@]}"; do echo "  - $p"; done
		echo
		echo "Get them one of these ways:"
		echo "  Debian/Ubuntu: run this script as root (sudo bash scripts/services.sh); it installs"
		echo "                 postgresql redis-server rabbitmq-server nats-server with apt-get and starts them"
		echo "  Docker:        docker compose up -d postgres redis rabbitmq nats"
	} >&2
	exit 1
fi
