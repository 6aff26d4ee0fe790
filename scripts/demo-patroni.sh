#!/usr/bin/env bash
# PostgreSQL high availability with Patroni, on regchain's etcd v3 API (docs/demo-patroni.md).
#
#   scripts/demo-patroni.sh [--kill-validator replica|primary|idle|1-4|none] [--keep]
#
# Starts four regchain validators (Alice, Bob, Charlie, Dave) as plain processes on 127.0.0.1,
# each serving the etcd v3 API, then two PostgreSQL 15 members under Patroni 3.0.2 whose DCS is
# that API (`etcd3:`). A client INSERTs rows in a loop through whichever member is primary. The
# script kills one validator (-9), then the primary's Patroni and postgres (-9), checks that the
# replica is promoted within Patroni's TTL and that no acknowledged row is lost, lets the old
# primary rejoin as a replica, and shows with `regchainctl history` which validator account held
# and renewed the leader key, block by block.
#
#   --kill-validator W   the validator killed (-9) while the client writes, before the primary is
#                        killed, and left down to the end: `replica` (the default), the one the
#                        replica's Patroni talks to, which must then move to another validator
#                        and take the leader lock from there; `primary`, the one the primary's
#                        Patroni talks to; `idle`, one neither member talks to; 1 to 4 (Alice,
#                        Bob, Charlie, Dave); or `none`.
#   --keep               keep the temporary directory (logs, data) at exit. Processes are
#                        stopped either way.
#
# Environment: DEMO_TTL (20), DEMO_LOOP_WAIT (2), DEMO_RETRY_TIMEOUT (5): Patroni's timing;
# DEMO_PATRONI_LOG_LEVEL (INFO; DEBUG logs every etcd request); PG_BIN_DIR
# (/usr/lib/postgresql/15/bin).
#
# Needs root (Patroni and PostgreSQL run as the `postgres` user), the release binaries in
# $CARGO_TARGET_DIR/release (it never builds), and the Debian packages patroni and postgresql
# (installed with apt-get when missing). Every process listens on 127.0.0.1 only, on ports away
# from scripts/testnet.sh's and scripts/containers.sh's:
#   validator i (1-4): JSON-RPC 29943+i, P2P 26332+i, Prometheus 29614+i, etcd 22378+i
#   PostgreSQL pg1 25432, pg2 25433; Patroni REST API pg1 28008, pg2 28009
# Every wait is bounded. On exit, failure or Ctrl-C, everything started here is stopped by pid
# and the temporary directory is removed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

REGCHAINCTL="${REGCHAINCTL:-$CARGO_TARGET_DIR/release/regchainctl}"
PG_BIN_DIR="${PG_BIN_DIR:-/usr/lib/postgresql/15/bin}"
TEMPLATE="$REGCHAIN_ROOT/scripts/patroni/patroni.yml.in"
INIT="$REGCHAIN_ROOT/docker/init.sh"

# Patroni's timing (bootstrap.dcs). Patroni's rules: loop_wait + 2 * retry_timeout <= ttl; later
# Patroni releases document minimums of 20 (ttl), 1 (loop_wait) and 3 (retry_timeout). 3.0.2 also
# accepts a shorter ttl (DEMO_TTL=10 works).
TTL="${DEMO_TTL:-20}"
LOOP_WAIT="${DEMO_LOOP_WAIT:-2}"
RETRY_TIMEOUT="${DEMO_RETRY_TIMEOUT:-5}"
LOG_LEVEL="${DEMO_PATRONI_LOG_LEVEL:-INFO}"
SCOPE=regchain-demo
LEADER_KEY="/service/$SCOPE/leader"

NAMES=(Alice Bob Charlie Dave)
rpc_port() { echo $((29943 + $1)); }
p2p_port() { echo $((26332 + $1)); }
prometheus_port() { echo $((29614 + $1)); }
etcd_port() { echo $((22378 + $1)); }
MEMBERS=(pg1 pg2)
declare -A PG_PORT=([pg1]=25432 [pg2]=25433)
declare -A REST_PORT=([pg1]=28008 [pg2]=28009)

KILL_VALIDATOR=replica
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
		--kill-validator) KILL_VALIDATOR="${2:-}"; shift 2 ;;
		--keep) KEEP=1; shift ;;
		-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		*) echo "demo: unknown option $1 (usage: demo-patroni.sh [--kill-validator WHICH] [--keep])" >&2; exit 2 ;;
	esac
done
[[ "$KILL_VALIDATOR" =~ ^([1-4]|replica|primary|idle|none)$ ]] ||
	{ echo "demo: --kill-validator takes replica, primary, idle, 1 to 4 or none" >&2; exit 2; }

START=$SECONDS
say() { printf '[demo %3ds] %s\n' $((SECONDS - START)) "$*"; }
ok() { printf '[demo %3ds]   ok: %s\n' $((SECONDS - START)) "$*"; }
fail() {
	printf '[demo %3ds] FAILED: %s\n' $((SECONDS - START)) "$*" >&2
	exit 1
}
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }

# ---------------------------------------------------------------------------------------------
# Clean-up: everything started here, by pid.
DIR=""
NODE_PIDS=()
declare -A PATRONI_PID=()
WRITER_PID=""
cleanup() {
	local rc=$? pid name i
	trap - EXIT INT TERM
	set +e
	[ "$rc" = 0 ] || { [ -n "$DIR" ] && [ -d "$DIR" ] && show_logs; }
	echo "[demo] cleaning up"
	if [ -n "$WRITER_PID" ]; then
		[ -n "$DIR" ] && touch "$DIR/writer.stop"
		for _ in $(seq 30); do kill -0 "$WRITER_PID" 2>/dev/null || break; sleep 0.1; done
		kill $(pgrep -P "$WRITER_PID") "$WRITER_PID" 2>/dev/null # and its psql, if any
		wait "$WRITER_PID" 2>/dev/null
	fi
	# Patroni stops its postgres on SIGTERM (fast shutdown).
	for name in "${!PATRONI_PID[@]}"; do kill "${PATRONI_PID[$name]}" 2>/dev/null; done
	for _ in $(seq 100); do
		local alive=0
		for name in "${!PATRONI_PID[@]}"; do kill -0 "${PATRONI_PID[$name]}" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for name in "${!PATRONI_PID[@]}"; do kill -9 "${PATRONI_PID[$name]}" 2>/dev/null; done
	# Any postmaster still running (a Patroni killed before it stopped its postgres).
	for name in "${MEMBERS[@]}"; do
		[ -n "$DIR" ] && [ -f "$DIR/$name/data/postmaster.pid" ] || continue
		pid=$(head -1 "$DIR/$name/data/postmaster.pid")
		if [[ "$pid" =~ ^[0-9]+$ ]] && grep -qa -- "$DIR/$name/data" "/proc/$pid/cmdline" 2>/dev/null; then
			kill -9 "$pid" $(pgrep -P "$pid") 2>/dev/null
		fi
	done
	for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for _ in $(seq 100); do
		local alive=0
		for pid in "${NODE_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for pid in "${NODE_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "$DIR" ] && [ -d "$DIR" ]; then
		if [ "$KEEP" = 1 ]; then
			echo "[demo] kept $DIR (logs: validator*.log, pg1/patroni.log, pg2/patroni.log, writer.*)"
		else
			rm -rf "$DIR"
		fi
	fi
	echo "[demo] stopped everything it started"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_logs() {
	local f
	for f in "$DIR"/pg1/patroni.log "$DIR"/pg2/patroni.log; do
		[ -f "$f" ] || continue
		echo "----- last lines of $f" >&2
		tail -n 15 "$f" >&2
	done
}

# ---------------------------------------------------------------------------------------------
# Helpers.
rpc() { # rpc PORT METHOD [PARAMS]
	curl -sf -m 5 -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "http://127.0.0.1:$1"
}
json() { python3 -c "import json,sys; r=json.load(sys.stdin)['result']; print($1)"; }
finalized_number() { # finalized_number PORT
	local hash
	hash=$(rpc "$1" chain_getFinalizedHead | json r) || return 1
	rpc "$1" chain_getHeader "[\"$hash\"]" | json 'int(r["number"], 16)'
}
http_code() { # http_code URL: the HTTP status of a GET, 000 when nothing answers
	curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}
is_primary() { [ "$(http_code "http://127.0.0.1:${REST_PORT[$1]}/primary")" = 200 ]; }
is_replica() { [ "$(http_code "http://127.0.0.1:${REST_PORT[$1]}/replica")" = 200 ]; }
is_sync_standby() { [ "$(http_code "http://127.0.0.1:${REST_PORT[$1]}/sync")" = 200 ]; }
primary_member() { # the member whose REST API answers 200 on GET /primary, if any
	local m
	for m in "${MEMBERS[@]}"; do is_primary "$m" && { echo "$m"; return 0; }; done
	return 1
}
psql_on() { # psql_on MEMBER SQL: one statement, unaligned output
	PGCONNECT_TIMEOUT=3 timeout 10 "$PG_BIN_DIR/psql" -X -q -At -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "${PG_PORT[$1]}" -U postgres -d postgres -c "$2"
}
patronictl_list() {
	patronictl -c "$DIR/pg1/patroni.yml" list 2>/dev/null | sed 's/^/    /' || true
}
etcd_validators_of() { # etcd_validators_of MEMBER: the validators (1-4) whose etcd port its Patroni is connected to
	local pid=${PATRONI_PID[$1]} i
	for i in 1 2 3 4; do
		if ss -Htnp state established "( dport = :$(etcd_port "$i") )" 2>/dev/null | grep -q "pid=$pid,"; then
			echo "$i"
		fi
	done
}
etcd_hosts_of() { # etcd_hosts_of MEMBER: the same, for people
	local i out=""
	for i in $(etcd_validators_of "$1"); do out+="${out:+, }${NAMES[$((i - 1))]} (127.0.0.1:$(etcd_port "$i"))"; done
	echo "${out:-none}"
}
wait_until() { # wait_until SECONDS WHAT COMMAND...: polls every 0.2 s
	local limit=$1 what=$2 t0=$SECONDS
	shift 2
	until "$@"; do
		[ $((SECONDS - t0)) -lt "$limit" ] || fail "$what: not within $limit s"
		sleep 0.2
	done
}
account_name() { # replaces SS58 accounts by the validators' names on stdin
	local args=() i
	for i in 1 2 3 4; do args+=(-e "s/${ACCOUNT[$i]}/${NAMES[$((i - 1))]}/g"); done
	sed "${args[@]}"
}

# ---------------------------------------------------------------------------------------------
say "step 0: preflight"
[ "$(id -u)" = 0 ] || fail "run as root: Patroni and PostgreSQL are started as the postgres user"
[ -x "$REGCHAIN_NODE" ] && [ -x "$REGCHAINCTL" ] ||
	fail "missing $REGCHAIN_NODE or $REGCHAINCTL: build them first (scripts/test.sh or cargo build --release)"
if ! command -v patroni >/dev/null 2>&1 || [ ! -x "$PG_BIN_DIR/postgres" ]; then
	say "installing the Debian packages patroni and postgresql"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patroni postgresql >/dev/null ||
		fail "apt-get install patroni postgresql failed"
fi
[ -x "$PG_BIN_DIR/postgres" ] || fail "no PostgreSQL 15 in $PG_BIN_DIR (set PG_BIN_DIR)"
for tool in curl python3 ss setpriv patronictl; do
	command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing"
done
id postgres >/dev/null 2>&1 || fail "no postgres user"
python3 -c "assert $LOOP_WAIT + 2 * $RETRY_TIMEOUT <= $TTL" 2>/dev/null ||
	fail "Patroni needs loop_wait + 2 * retry_timeout <= ttl ($LOOP_WAIT, $RETRY_TIMEOUT, $TTL)"
for port in $(for i in 1 2 3 4; do echo "$(rpc_port "$i") $(p2p_port "$i") $(prometheus_port "$i") $(etcd_port "$i")"; done) \
	"${PG_PORT[@]}" "${REST_PORT[@]}"; do
	! ss -Htln "( sport = :$port )" | grep -q . || fail "port 127.0.0.1:$port is taken (another demo, testnet or test running?)"
done
ok "$(patroni --version), PostgreSQL $("$PG_BIN_DIR/postgres" --version | awk '{print $3}'), $("$REGCHAIN_NODE" --version)"
say "  Patroni: ttl $TTL s, loop_wait $LOOP_WAIT s, retry_timeout $RETRY_TIMEOUT s, synchronous_mode on"

DIR=$(mktemp -d /tmp/regchain-patroni.XXXXXX)
chmod 755 "$DIR" # the postgres user reaches its own directories below

# ---------------------------------------------------------------------------------------------
say "step 1: four regchain validators on 127.0.0.1, each serving the etcd v3 API"
REGCHAIN_INIT_NODE="$REGCHAIN_NODE" sh "$INIT" "$DIR/chain" >"$DIR/init.log" 2>&1 ||
	fail "docker/init.sh failed: $(tail -3 "$DIR/init.log")"
declare -A ACCOUNT=()
for i in 1 2 3 4; do
	ACCOUNT[$i]=$("$REGCHAIN_NODE" key inspect --scheme sr25519 --output-type json "//${NAMES[$((i - 1))]}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["ss58PublicKey"])')
done
PEERS=()
for i in 1 2 3 4; do PEERS+=("$(cat "$DIR/chain/validator$i.peer-id")"); done
for i in 1 2 3 4; do
	# As scripts/testnet.sh and scripts/containers.sh: every other validator as a reserved peer,
	# on the libp2p backend (docs/guide.md, "Validator connectivity"); plus the etcd API, whose
	# writes this validator's own account signs.
	reserved=()
	for j in 1 2 3 4; do
		[ "$j" = "$i" ] || reserved+=(--reserved-nodes "/ip4/127.0.0.1/tcp/$(p2p_port "$j")/p2p/${PEERS[$((j - 1))]}")
	done
	"$REGCHAIN_NODE" --validator --chain "$DIR/chain/chain-spec.json" --name "${NAMES[$((i - 1))]}" \
		--base-path "$DIR/chain/validator$i" --node-key-file "$DIR/chain/validator$i.node-key" \
		--listen-addr "/ip4/127.0.0.1/tcp/$(p2p_port "$i")" \
		--rpc-port "$(rpc_port "$i")" --prometheus-port "$(prometheus_port "$i")" \
		--no-mdns --no-telemetry --network-backend libp2p "${reserved[@]}" \
		--etcd-listen "127.0.0.1:$(etcd_port "$i")" \
		--etcd-signer-file "$DIR/chain/validator$i.etcd-signer" \
		>"$DIR/validator$i.log" 2>&1 &
	NODE_PIDS+=($!)
	disown $! # no job notice when it is killed on purpose
done
chain_ready() {
	local i fin
	for i in 1 2 3 4; do
		kill -0 "${NODE_PIDS[$((i - 1))]}" 2>/dev/null || fail "validator $i exited; see its log"
		fin=$(finalized_number "$(rpc_port "$i")" 2>/dev/null) || return 1
		[ "$fin" -ge 3 ] || return 1
		[ "$(curl -s -m 2 "http://127.0.0.1:$(etcd_port "$i")/health" 2>/dev/null)" = '{"health":"true"}' ] || return 1
	done
}
wait_until 180 "the four validators finalize and serve the etcd API" chain_ready
for i in 1 2 3 4; do
	say "  validator $i ${NAMES[$((i - 1))]} (pid ${NODE_PIDS[$((i - 1))]}): etcd 127.0.0.1:$(etcd_port "$i")," \
		"RPC ws://127.0.0.1:$(rpc_port "$i"), account ${ACCOUNT[$i]}"
done
ok "all four finalize (block #$(finalized_number "$(rpc_port 1)")) and answer GET /health on their etcd port;" \
	"GET /version: $(curl -s -m 2 "http://127.0.0.1:$(etcd_port 1)/version")"

# ---------------------------------------------------------------------------------------------
say "step 2: two PostgreSQL 15 members under Patroni, with regchain's etcd API as their DCS"
hosts=""
for i in 1 2 3 4; do hosts+="${hosts:+, }127.0.0.1:$(etcd_port "$i")"; done
for m in "${MEMBERS[@]}"; do
	mkdir -p "$DIR/$m"
	sed -e "s|@SCOPE@|$SCOPE|g; s|@NAME@|$m|g; s|@LOG_LEVEL@|$LOG_LEVEL|g" \
		-e "s|@REST_PORT@|${REST_PORT[$m]}|g; s|@PG_PORT@|${PG_PORT[$m]}|g" \
		-e "s|@ETCD_HOSTS@|[$hosts]|g; s|@TTL@|$TTL|g; s|@LOOP_WAIT@|$LOOP_WAIT|g" \
		-e "s|@RETRY_TIMEOUT@|$RETRY_TIMEOUT|g; s|@DATA_DIR@|$DIR/$m/data|g" \
		-e "s|@BIN_DIR@|$PG_BIN_DIR|g; s|@MEMBER_DIR@|$DIR/$m|g" "$TEMPLATE" >"$DIR/$m/patroni.yml"
	! grep -q '@[A-Z_]*@' "$DIR/$m/patroni.yml" || fail "unfilled placeholder in $DIR/$m/patroni.yml"
	chown -R postgres:postgres "$DIR/$m"
	chmod 700 "$DIR/$m"
	say "  $m: PostgreSQL 127.0.0.1:${PG_PORT[$m]}, REST API 127.0.0.1:${REST_PORT[$m]}, etcd3 hosts [$hosts]"
done
start_patroni() { # start_patroni MEMBER: as the postgres user; setpriv execs, so $! is Patroni's pid
	setpriv --reuid=postgres --regid=postgres --init-groups \
		env HOME=/var/lib/postgresql patroni "$DIR/$1/patroni.yml" >>"$DIR/$1/patroni.log" 2>&1 &
	PATRONI_PID[$1]=$!
	disown $!
}
patroni_alive() { kill -0 "${PATRONI_PID[$1]}" 2>/dev/null || fail "Patroni of $1 exited; see $DIR/$1/patroni.log"; }
start_patroni pg1
wait_until 120 "pg1 bootstraps the cluster and becomes primary" eval 'patroni_alive pg1 && is_primary pg1'
ok "pg1 bootstrapped the cluster and holds the leader lock (GET /primary on :${REST_PORT[pg1]} is 200)"
start_patroni pg2
wait_until 120 "pg2 joins as the synchronous standby" eval 'patroni_alive pg2 && is_replica pg2 && is_sync_standby pg2'
ok "pg2 cloned pg1 and streams from it as the synchronous standby (GET /sync on :${REST_PORT[pg2]} is 200)"
patronictl_list
for m in "${MEMBERS[@]}"; do say "  $m's Patroni (pid ${PATRONI_PID[$m]}) talks to etcd on: $(etcd_hosts_of "$m")"; done
say "  the cluster's keys, read back through regchainctl (the registry's own JSON-RPC):"
"$REGCHAINCTL" --endpoint "ws://127.0.0.1:$(rpc_port 1)" get --prefix "/service/$SCOPE/" --output json |
	python3 -c 'import json,sys
for line in sys.stdin:
    r = json.loads(line)
    for kv in r.get("kvs", []):
        print("    %s  lease %s  mod_revision %s" % (bytes.fromhex(kv["key"][2:]).decode(), kv.get("lease", 0), kv["mod_revision"]))'
[ "$("$REGCHAINCTL" --endpoint "ws://127.0.0.1:$(rpc_port 1)" get "$LEADER_KEY")" = "$LEADER_KEY"$'\n'"pg1" ] ||
	fail "$LEADER_KEY does not read pg1 on the chain"
ok "$LEADER_KEY = pg1 on the chain"

# ---------------------------------------------------------------------------------------------
say "step 3: a client INSERTs rows in a loop through whichever member is primary"
psql_on pg1 "CREATE TABLE demo_writes (id bigint PRIMARY KEY, via text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())" ||
	fail "CREATE TABLE on pg1"
# The writer: row i is attempted once, through the member that answers GET /primary (asked
# again after any failure). A row is acknowledged when psql's INSERT returned success: with
# synchronous_mode, once the synchronous standby flushed it too.
writer() {
	local i=0 member="" rc
	exec >"$DIR/writer.out" 2>&1
	while [ ! -e "$DIR/writer.stop" ]; do
		i=$((i + 1))
		[ -n "$member" ] || member=$(primary_member) || member=""
		if [ -z "$member" ]; then
			echo "$i $(now) none" >>"$DIR/writer.nopri"
			sleep 0.2
			continue
		fi
		rc=0
		psql_on "$member" "INSERT INTO demo_writes (id, via) VALUES ($i, '$member')" || rc=$?
		if [ "$rc" = 0 ]; then
			echo "$i $(now) $member" >>"$DIR/writer.acked"
		else
			echo "$i $(now) $member rc=$rc" >>"$DIR/writer.failed"
			member=""
		fi
		sleep 0.05
	done
	echo "$i" >"$DIR/writer.last"
}
touch "$DIR/writer.acked" "$DIR/writer.failed" "$DIR/writer.nopri"
writer &
WRITER_PID=$!
count() { wc -l <"$1" | tr -d ' '; }
acked_via() { awk -v m="$1" '$3 == m' "$DIR/writer.acked" | wc -l | tr -d ' '; }
sleep 5
[ "$(count "$DIR/writer.acked")" -gt 0 ] || fail "no INSERT acknowledged by pg1 after 5 s; see $DIR/writer.out"
ok "$(count "$DIR/writer.acked") rows acknowledged by pg1 in 5 s"

# ---------------------------------------------------------------------------------------------
LIVE_RPC=$(rpc_port 1)
KILLED=""
VKILL_BLOCK=0
if [ "$KILL_VALIDATOR" != none ]; then
	case "$KILL_VALIDATOR" in
		replica) KILLED=$(etcd_validators_of pg2 | head -1) ;;
		primary) KILLED=$(etcd_validators_of pg1 | head -1) ;;
		idle)
			used=" $(etcd_validators_of pg1 | tr '\n' ' ') $(etcd_validators_of pg2 | tr '\n' ' ') "
			for i in 4 3 2 1; do [[ "$used" == *" $i "* ]] || { KILLED=$i; break; }; done
			;;
		*) KILLED=$KILL_VALIDATOR ;;
	esac
	[ -n "$KILLED" ] || fail "no validator matches --kill-validator $KILL_VALIDATOR (Patroni not connected to any?)"
	kname=${NAMES[$((KILLED - 1))]}
	users=""
	for m in "${MEMBERS[@]}"; do
		if etcd_validators_of "$m" | grep -qx "$KILLED"; then users+="${users:+, }$m"; fi
	done
	say "step 4: kill -9 validator $KILLED ($kname, etcd 127.0.0.1:$(etcd_port "$KILLED")) while the client writes;" \
		"Patroni members connected to it: ${users:-none}"
	kill -9 "${NODE_PIDS[$((KILLED - 1))]}"
	VKILL_BLOCK=$(rpc "$(rpc_port $((KILLED % 4 + 1)))" chain_getHeader | json 'int(r["number"], 16)')
	for i in 1 2 3 4; do [ "$i" = "$KILLED" ] || { LIVE_RPC=$(rpc_port "$i"); break; }; done
	before_acked=$(count "$DIR/writer.acked")
	fin0=$(finalized_number "$LIVE_RPC")
	sleep $((TTL > 10 ? TTL : 10))
	fin1=$(finalized_number "$LIVE_RPC")
	[ "$fin1" -gt "$fin0" ] || fail "finality stopped with one validator down (#$fin0 -> #$fin1)"
	ok "the three others still finalize (#$fin0 -> #$fin1 in $((TTL > 10 ? TTL : 10)) s)"
	is_primary pg1 && is_replica pg2 ||
		fail "the cluster changed after the validator was killed: GET /primary on pg1 $(http_code "http://127.0.0.1:${REST_PORT[pg1]}/primary"), GET /replica on pg2 $(http_code "http://127.0.0.1:${REST_PORT[pg2]}/replica")"
	[ "$(count "$DIR/writer.acked")" -gt "$before_acked" ] || fail "no write acknowledged after the validator was killed"
	ok "pg1 still primary and pg2 replica, a full TTL later; $(($(count "$DIR/writer.acked") - before_acked)) more rows acknowledged"
	for m in "${MEMBERS[@]}"; do
		say "  $m's Patroni now talks to etcd on: $(etcd_hosts_of "$m")"
		! etcd_validators_of "$m" | grep -qx "$KILLED" || fail "$m is still connected to the dead validator"
	done
	grep -h "Retrying on\|Request to server" "$DIR"/pg*/patroni.log | cut -c1-200 | sed 's/^/    /' | head -4 || true
else
	say "step 4: skipped (--kill-validator none)"
fi

# ---------------------------------------------------------------------------------------------
OLD=$(primary_member) || fail "no primary before the failover"
NEW=pg2
[ "$OLD" = pg1 ] || fail "expected pg1 to be primary, found $OLD"
say "step 5: kill -9 the primary $OLD: its Patroni and its postgres"
PM_PID=$(head -1 "$DIR/$OLD/data/postmaster.pid")
victims=("${PATRONI_PID[$OLD]}" "$PM_PID" $(pgrep -P "$PM_PID" || true))
acked_before_kill=$(count "$DIR/writer.acked")
T_KILL=$(now)
kill -9 "${victims[@]}"
KILL_BLOCK=$(rpc "$LIVE_RPC" chain_getHeader | json 'int(r["number"], 16)')
say "  killed pids ${victims[*]} at block #$KILL_BLOCK; $acked_before_kill rows acknowledged so far"
say "  $NEW's Patroni talks to etcd on: $(etcd_hosts_of "$NEW")"
unset 'PATRONI_PID[$OLD]'
promoted() { is_primary "$NEW"; }
wait_until $((TTL + LOOP_WAIT + 2 * RETRY_TIMEOUT + 20)) "$NEW promoted" promoted
T_PROMOTED=$(now)
FAILOVER=$(elapsed "$T_KILL" "$T_PROMOTED")
python3 -c "assert $FAILOVER <= $TTL + $LOOP_WAIT + $RETRY_TIMEOUT" ||
	fail "$NEW was promoted $FAILOVER s after the kill: more than ttl + loop_wait + retry_timeout"
ok "$NEW answers GET /primary $FAILOVER s after the kill (ttl $TTL s)"
first_new_ack() { [ "$(acked_via "$NEW")" -gt 0 ]; }
wait_until 30 "the client's first write acknowledged by $NEW" first_new_ack
T_FIRST_NEW=$(awk -v m="$NEW" '$3 == m {print $2; exit}' "$DIR/writer.acked")
T_LAST_OLD=$(awk -v m="$OLD" '$3 == m {t = $2} END {print t}' "$DIR/writer.acked")
WRITE_GAP=$(elapsed "$T_LAST_OLD" "$T_FIRST_NEW")
ok "writes continue on $NEW: first acknowledged $(elapsed "$T_KILL" "$T_FIRST_NEW") s after the kill (no write acknowledged for $WRITE_GAP s)"
patronictl_list
sleep 5

# ---------------------------------------------------------------------------------------------
say "step 6: the client stops; every acknowledged row must be on the new primary $NEW"
touch "$DIR/writer.stop"
for _ in $(seq 150); do kill -0 "$WRITER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$WRITER_PID" 2>/dev/null && fail "the client did not stop within 15 s"
wait "$WRITER_PID" || true
WRITER_PID=""
psql_on "$NEW" "SELECT id FROM demo_writes ORDER BY id" >"$DIR/found.ids" || fail "SELECT on $NEW"
ATTEMPTED=$(($(count "$DIR/writer.acked") + $(count "$DIR/writer.failed")))
ACKED=$(count "$DIR/writer.acked")
FAILED=$(count "$DIR/writer.failed")
NOPRI=$(count "$DIR/writer.nopri")
FOUND=$(count "$DIR/found.ids")
awk '{print $1}' "$DIR/writer.acked" | sort -n >"$DIR/acked.ids"
LOST=$(comm -23 <(sort "$DIR/acked.ids") <(sort "$DIR/found.ids") | wc -l | tr -d ' ')
UNACKED_FOUND=$(comm -13 <(sort "$DIR/acked.ids") <(sort "$DIR/found.ids") | wc -l | tr -d ' ')
say "  INSERTs attempted $ATTEMPTED: acknowledged $ACKED (by pg1 $(acked_via pg1), by pg2 $(acked_via pg2)), failed $FAILED;" \
	"$NOPRI rounds found no primary and sent nothing"
say "  rows found on $NEW: $FOUND; acknowledged but missing: $LOST; found although the INSERT failed: $UNACKED_FOUND"
awk -v t0="$T_KILL" '{ printf "    failed: row %s, %.1f s after the kill, through %s (psql %s)\n", $1, $2 - t0, $3, $4 }' \
	"$DIR/writer.failed" | head -5
[ "$LOST" = 0 ] || fail "$LOST acknowledged rows are missing on $NEW"
[ "$FOUND" -ge "$ACKED" ] || fail "fewer rows than acknowledged writes"
[ "$(acked_via pg2)" -gt 0 ] || fail "no write acknowledged by pg2"
ok "writes lost: 0 (every one of the $ACKED acknowledged rows is on $NEW)"

# ---------------------------------------------------------------------------------------------
say "step 7: the old primary $OLD restarts and rejoins as a replica of $NEW"
start_patroni "$OLD"
wait_until 120 "$OLD rejoins as a replica" eval "patroni_alive $OLD && is_replica $OLD"
rejoined_rows() { [ "$(psql_on "$OLD" "SELECT count(*) FROM demo_writes" 2>/dev/null)" = "$FOUND" ]; }
wait_until 30 "$OLD replays every row" rejoined_rows
ok "$OLD is a replica of $NEW again and holds the same $FOUND rows"
patronictl_list

# ---------------------------------------------------------------------------------------------
say "step 8: who held and renewed $LEADER_KEY, from the chain"
say "  \$ regchainctl --endpoint ws://127.0.0.1:$LIVE_RPC history key $LEADER_KEY   (accounts shown by name)"
"$REGCHAINCTL" --endpoint "ws://127.0.0.1:$LIVE_RPC" history key "$LEADER_KEY" --output json >"$DIR/history.json" ||
	fail "regchainctl history failed"
"$REGCHAINCTL" --endpoint "ws://127.0.0.1:$LIVE_RPC" history key "$LEADER_KEY" | account_name | sed 's/^/    /'
# Checks: pg1 put by a validator's account, deleted by the chain (its lease ran out) after the
# kill, then pg2 put by the account of a live validator (not the one killed).
KILLED_ACCOUNT=none
[ -z "$KILLED" ] || KILLED_ACCOUNT=${ACCOUNT[$KILLED]}
python3 - "$DIR/history.json" "$KILL_BLOCK" "$OLD" "$NEW" "$KILLED_ACCOUNT" "${ACCOUNT[@]}" >"$DIR/history.check" <<'PY' ||
import json, sys
path, kill_block, old, new, killed, accounts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
items = [json.loads(l) for l in open(path) if l.strip()]
items = [i for r in items for i in (r.get("items") if isinstance(r, dict) and "items" in r else [r])]
val = lambda i: bytes.fromhex(i["value"][2:]).decode() if i.get("value") else ""
puts_old = [i for i in items if i["kind"] == "put" and val(i) == old]
assert puts_old and puts_old[0]["who"] in accounts, "no put of pg1 by a validator's account"
after = [i for i in items if i["block_number"] >= kill_block]
dels = [i for i in after if i["kind"] == "delete"]
assert dels and dels[0]["who"] is None, "no delete of the leader key by the chain (lease expiry) after the kill"
puts_new = [i for i in after if i["kind"] == "put" and val(i) == new and i["block_number"] >= dels[0]["block_number"]]
assert puts_new, "no put of the new leader after the lease expired"
assert puts_new[0]["who"] in accounts and puts_new[0]["who"] != killed, "the new leader's put is not by a live validator's account"
print(dels[0]["block_number"], dels[0]["time_ms"], puts_new[0]["block_number"], puts_new[0]["time_ms"], puts_new[0]["who"],
      puts_old[0]["block_number"], puts_old[0]["who"])
PY
	fail "the leader key's history is not as expected: $(tail -1 "$DIR/history.check")"
read -r DEL_BLOCK DEL_MS PUT_BLOCK PUT_MS PUT_WHO OLD_BLOCK OLD_WHO <"$DIR/history.check"
PUT_NAME=$(echo "$PUT_WHO" | account_name)
OLD_NAME=$(echo "$OLD_WHO" | account_name)
EXPIRED=$(elapsed "$T_KILL" "$(python3 -c "print($DEL_MS / 1000)")")
HANDOVER=$(elapsed "$T_KILL" "$(python3 -c "print($PUT_MS / 1000)")")
ok "$OLD took the key at block #$OLD_BLOCK through $OLD_NAME's validator; the chain deleted it at block #$DEL_BLOCK when its lease ran out" \
	"($EXPIRED s after the kill, block time); $NEW took it at block #$PUT_BLOCK through $PUT_NAME's validator ($HANDOVER s after the kill)"
# A keep-alive sent just before the kill may land in a block up to about a second later.
python3 -c "assert $EXPIRED <= $TTL + $LOOP_WAIT and $HANDOVER <= $TTL + $LOOP_WAIT + 2" ||
	fail "the leader key outlived its ttl: expired $EXPIRED s, taken over $HANDOVER s after the kill (ttl $TTL s)"
say "  block by block: the leader key, its lease, and the lease's renewals (registry_range and registry_lease at each block)"
FIRST_BLOCK=$((KILL_BLOCK - 4 * TTL))
[ "$VKILL_BLOCK" = 0 ] || [ "$VKILL_BLOCK" -gt "$FIRST_BLOCK" ] || FIRST_BLOCK=$((VKILL_BLOCK - 8))
python3 - "$LIVE_RPC" "$LEADER_KEY" "$FIRST_BLOCK" "$((PUT_BLOCK + 4 * 3 * LOOP_WAIT + 4))" "$KILL_BLOCK" \
	"$VKILL_BLOCK" "${KILLED:+${NAMES[$((KILLED - 1))]}}" >"$DIR/blocks.txt" <<'PY' ||
import json, sys, urllib.request
port, key, first, last, kill_block = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
vkill_block, vkill_name = int(sys.argv[6]), sys.argv[7]
def rpc(method, params):
    req = urllib.request.Request(f"http://127.0.0.1:{port}", json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(), {"Content-Type": "application/json"})
    r = json.load(urllib.request.urlopen(req, timeout=5))
    if "error" in r:
        raise SystemExit(f"{method}: {r['error']}")
    return r["result"]
prev = None
for n in range(max(first, 1), last + 1):
    h = rpc("chain_getBlockHash", [n])
    kvs = rpc("registry_range", [{"key": "0x" + key.encode().hex()}, h])["kvs"]
    if kvs:
        kv = kvs[0]
        holder, lease_id = bytes.fromhex(kv["value"][2:]).decode(), kv.get("lease", 0)
        lease = rpc("registry_lease", [lease_id, h])["lease"] if lease_id else None
        state = (holder, lease_id, lease and lease["expires_at_ms"], lease and lease["last_kept_alive_by"])
        left = lease and lease["remaining_ms"]
    else:
        state, left = (None, None, None, None), None
    mark = "   <- primary killed" if n == kill_block else ""
    if n == vkill_block:
        mark += f"   <- validator {vkill_name} killed"
    if state != prev or mark:
        holder, lease_id, exp, by = state
        left_s = "lease gone" if left is None else f"{left / 1000:.2f} s left"
        if holder is None:
            what = "no leader key"
        elif state == prev:
            what = f"{holder}, lease {lease_id} ({left_s})"
        elif prev and prev[0] == holder and prev[1] == lease_id:
            what = f"{holder}, lease {lease_id} renewed by {by} ({left_s})"
        else:
            what = f"{holder}, lease {lease_id} (granted or last renewed by {by}, {left_s})"
        print(f"    block #{n}: {what}{mark}")
    prev = state
PY
	fail "reading the leader key block by block failed: $(tail -1 "$DIR/blocks.txt")"
account_name <"$DIR/blocks.txt"

# ---------------------------------------------------------------------------------------------
say "summary: lease expired $EXPIRED s and leader key taken over $HANDOVER s after kill -9 of the primary (ttl $TTL s);" \
	"$NEW promoted after $FAILOVER s; no write acknowledged for $WRITE_GAP s;" \
	"INSERTs attempted $ATTEMPTED, acknowledged $ACKED, found $FOUND, lost 0;" \
	"validator killed: $([ -n "$KILLED" ] && echo "${NAMES[$((KILLED - 1))]} (--kill-validator $KILL_VALIDATOR)" || echo none)"
say "demo passed"
