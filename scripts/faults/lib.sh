# Shared helpers of the fault tests (scripts/faults.sh, docs/faults.md); sourced, not run.
#
# A test script sources this file, sets up its cluster with `cluster_start`, injects its fault,
# asserts with `fail`, and records what it saw with `rep KEY VALUE` and `note TEXT`. The EXIT
# trap installed here writes the test's report (JSON and Markdown) and removes everything the
# test started: node processes, writers, the chain monitor, network namespaces (and with them
# their veth pairs, bridge and iptables rules), then the test's data directory.
#
# Set by scripts/faults.sh (a test script run alone needs them too):
#   FAULTS_TEST         the test's name
#   FAULTS_RUN_DIR      the run's directory, holding chain/ (faults_prepare_chain)
#   FAULTS_REPORT_DIR   where the test's report goes
#   FAULTS_QUICK        1 for the short form run in CI
#   FAULTS_KEEP         1 to keep the test's data directory (logs, databases) at exit
#
# Ports (validator i = 1..5, on 127.0.0.1 or inside validator i's own network namespace):
#   JSON-RPC 31943+i, P2P 31332+i, Prometheus 31614+i, etcd 31378+i: below the kernel's
#   ephemeral ports (32768 and up by default), which an outgoing connection may take while a
#   validator is down between a kill and its restart.
# Validator 5 exists only in the equivocation test: a second node with Alice's session keys.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../env.sh"

REGCHAINCTL="${REGCHAINCTL:-$CARGO_TARGET_DIR/release/regchainctl}"
FAULTS_LIB="$REGCHAIN_ROOT/scripts/faults"
# The interpreter itself, not a version manager's shim (pyenv's costs 0.3 s a call).
PYTHON="${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}"
CHAIN_PY="$FAULTS_LIB/chain.py"
export ETCDCTL_API=3

NAMES=(- Alice Bob Charlie Dave Alice-twin) # NAMES[i] for validator i (1-based)
SEEDS=(- Alice Bob Charlie Dave Alice)      # the secret URI //SEED of validator i's session keys
rpc_port() { echo $((31943 + $1)); }
p2p_port() { echo $((31332 + $1)); }
prometheus_port() { echo $((31614 + $1)); }
etcd_port() { echo $((31378 + $1)); }

# faults_prepare_chain DIR: the run's chain spec and keystores, shared by every test.
#   DIR/chain-spec.json       raw spec of the `local` preset (Alice, Bob, Charlie, Dave), with a
#                             fifth authorized node (node key 0x00…05, owned by Alice) for the
#                             equivocation test's second Alice
#   DIR/validatorI.node-key   node key 0x00…0I; DIR/validatorI.peer-id its peer id
#   DIR/validatorI.etcd-signer  //SEED, the account that signs validator I's etcd writes
#   DIR/validatorI/           a base path holding only validator I's Aura and GRANDPA keys
#   DIR/aura.keys             "NAME PUBLIC_HEX" of each Aura key, to name block authors
faults_prepare_chain() {
	local dir=$1 i peers=()
	mkdir -p "$dir"
	for i in 1 2 3 4 5; do
		printf '%064x' "$i" >"$dir/validator$i.node-key"
		"$REGCHAIN_NODE" key inspect-node-key --file "$dir/validator$i.node-key" >"$dir/validator$i.peer-id" 2>/dev/null
		peers+=("$(cat "$dir/validator$i.peer-id")")
		printf '//%s\n' "${SEEDS[$i]}" >"$dir/validator$i.etcd-signer"
	done
	"$REGCHAIN_NODE" export-chain-spec --chain local --output "$dir/plain.json" >/dev/null 2>&1
	local alice
	alice=$("$REGCHAIN_NODE" key inspect --scheme sr25519 --output-type json //Alice |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["ss58PublicKey"])')
	"$PYTHON" - "$dir/plain.json" "${peers[4]}" "$alice" <<'PY'
import json, sys
path, peer, owner = sys.argv[1:]
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
n = 0
for c in peer:
    n = n * 58 + B58.index(c)
body = n.to_bytes((n.bit_length() + 7) // 8, "big")
raw = list(bytes(len(peer) - len(peer.lstrip("1"))) + body)
spec = json.load(open(path))
nodes = spec["genesis"]["runtimeGenesis"]["patch"]["nodeAuthorization"]["nodes"]
nodes.append([raw, owner])
spec["bootNodes"] = []
json.dump(spec, open(path, "w"), indent=1)
PY
	"$REGCHAIN_NODE" export-chain-spec --chain "$dir/plain.json" --raw --output "$dir/chain-spec.json" >/dev/null 2>&1
	: >"$dir/aura.keys"
	for i in 1 2 3 4 5; do
		"$REGCHAIN_NODE" key insert --base-path "$dir/validator$i" --chain "$dir/chain-spec.json" \
			--scheme sr25519 --suri "//${SEEDS[$i]}" --key-type aura 2>/dev/null
		"$REGCHAIN_NODE" key insert --base-path "$dir/validator$i" --chain "$dir/chain-spec.json" \
			--scheme ed25519 --suri "//${SEEDS[$i]}" --key-type gran 2>/dev/null
		[ "$i" = 5 ] && continue
		echo "${NAMES[$i]} $("$REGCHAIN_NODE" key inspect --scheme sr25519 --output-type json "//${SEEDS[$i]}" |
			"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["publicKey"])')" >>"$dir/aura.keys"
	done
	# The genesis state, built once (about 6 s of runtime execution per node, 20 s when four
	# nodes start together on two cores) and copied: every node's database starts the same.
	"$REGCHAIN_NODE" export-blocks --chain "$dir/chain-spec.json" --base-path "$dir/validator1" \
		--from 0 --to 0 --binary "$dir/genesis.bin" >/dev/null 2>&1
	for i in 2 3 4 5; do cp -a "$dir/validator1/chains/regchain_local/paritydb" "$dir/validator$i/chains/regchain_local/"; done
	date -u +%Y-%m-%dT%H:%M:%SZ >"$dir/prepared"
}

# Everything below is for a test script.
[ -n "${FAULTS_TEST:-}" ] || return 0

TEST=$FAULTS_TEST
QUICK=${FAULTS_QUICK:-0}
KEEP=${FAULTS_KEEP:-0}
RUN_DIR=${FAULTS_RUN_DIR:?FAULTS_RUN_DIR is not set (run the tests through scripts/faults.sh)}
REPORT_DIR=${FAULTS_REPORT_DIR:-$RUN_DIR/reports}
CHAIN=$RUN_DIR/chain
SPEC=$CHAIN/chain-spec.json
DIR=$RUN_DIR/$TEST
# A put is acknowledged once its block is finalized, 0.3 to 1 s on a live chain; etcdctl's own
# default command timeout is 5 s.
PUT_TIMEOUT=${FAULTS_PUT_TIMEOUT:-5}
rm -rf "$DIR" # a fresh chain: databases, logs and writes of an earlier run go
mkdir -p "$DIR" "$DIR/writes" "$REPORT_DIR"
[ -f "$CHAIN/prepared" ] || { echo "faults: $CHAIN is not prepared (run scripts/faults.sh)" >&2; exit 2; }

T0=$EPOCHREALTIME
START=$SECONDS
say() { printf '[%s %4ds] %s\n' "$TEST" $((SECONDS - START)) "$*"; }
ok() { printf '[%s %4ds]   ok: %s\n' "$TEST" $((SECONDS - START)) "$*"; }
FAILURE=""
fail() {
	FAILURE="$*" # printed, and reported, by cleanup
	trap - ERR
	exit 1
}
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.2f\n", b - a }'; } # since T1 [T2]: seconds
plus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", a + b }'; }                     # plus T S: T + S
# qf QUICK FULL: the value for this run's form
qf() { if [ "$QUICK" = 1 ]; then echo "$1"; else echo "$2"; fi; }
# pause SECONDS: sleep, yet let a signal's trap (clean-up) run at once
pause() { sleep "$1" & wait $! || true; }

# ---------------------------------------------------------------------------------------------
# The report: `rep KEY VALUE` (numbers stay numbers; dotted keys nest), `note TEXT` (what was
# observed, in order), `inject TEXT` (what was done to the cluster).
rep() { printf '%s\t%s\n' "$1" "$2" >>"$DIR/report.tsv"; }
note() { printf 'note\t%s\n' "$*" >>"$DIR/report.tsv"; say "  $*"; }
inject() { printf 'inject\t%s\n' "$*" >>"$DIR/report.tsv"; say "inject: $*"; }
: >"$DIR/report.tsv"

report_write() { # report_write STATUS: REPORT_DIR/TEST.json and TEST.md
	"$PYTHON" "$CHAIN_PY" report --tsv "$DIR/report.tsv" --test "$TEST" --status "$1" \
		--mode "$(qf quick full)" --duration "$(since "$T0")" --failure "$FAILURE" \
		--json "$REPORT_DIR/$TEST.json" --md "$REPORT_DIR/$TEST.md" || echo "[$TEST] could not write the report" >&2
}

# ---------------------------------------------------------------------------------------------
# Nodes. NODE_NS[i] is validator i's network namespace ('' on the host's loopback), NODE_ADDR[i]
# the address it listens on for P2P, NODE_ENV[i] environment for its process (faketime),
# NODE_ARGS[i] extra options. NODE_PID[i] is its pid while it runs.
declare -A NODE_NS=() NODE_ADDR=() NODE_ENV=() NODE_ARGS=() NODE_PID=()
FAKETIME_PIDS=()
VALIDATORS=(1 2 3 4) # the validators of the cluster; the twin (5) joins only when started
NAMESPACES=()        # every network namespace this test created, deleted at exit

on() { # on I COMMAND...: run COMMAND in validator I's network namespace
	local i=$1
	shift
	if [ -n "${NODE_NS[$i]:-}" ]; then ip netns exec "${NODE_NS[$i]}" "$@"; else "$@"; fi
}
node_spec() { # node_spec I...: "I:NS:RPC_PORT" arguments of chain.py
	local i
	for i in "$@"; do printf '%s:%s:%s ' "$i" "${NODE_NS[$i]:--}" "$(rpc_port "$i")"; done
}
chain() { "$PYTHON" "$CHAIN_PY" "$@"; }

rpc() { # rpc I METHOD [PARAMS]: the JSON answer
	on "$1" curl -sf -m 5 -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "http://127.0.0.1:$(rpc_port "$1")"
}
finalized() { chain heads --field fin $(node_spec "$1"); }         # finalized number (or "down")
best() { chain heads --field best $(node_spec "$1"); }             # best number
finalized_hash() { chain heads --field finhash $(node_spec "$1"); } # finalized hash
block_at() { chain at --number "$2" $(node_spec "$1"); }           # "HASH STATE_ROOT" of block N on I

node_start() { # node_start I: start validator I with its current NODE_* settings
	local i=$1 j reserved=() base="$DIR/v$1" addr=${NODE_ADDR[$1]:-127.0.0.1}
	[ -d "$base" ] || cp -a "$CHAIN/validator$i" "$base"
	for j in "${VALIDATORS[@]}"; do
		[ "$j" = "$i" ] || reserved+=(--reserved-nodes "/ip4/${NODE_ADDR[$j]:-127.0.0.1}/tcp/$(p2p_port "$j")/p2p/$(cat "$CHAIN/validator$j.peer-id")")
	done
	local env=() args=() extra="FAULTS_NODE_ARGS_$i"
	[ -z "${NODE_ENV[$i]:-}" ] || read -ra env <<<"${NODE_ENV[$i]}"
	read -ra args <<<"${NODE_ARGS[$i]:-} ${!extra:-}" # FAULTS_NODE_ARGS_I: e.g. -lsync=debug
	echo "=== $(date -u +%H:%M:%S.%N) start: ${env[*]} ${args[*]}" >>"$DIR/v$i.log"
	local cmd=(env "${env[@]}")
	[ -z "${NODE_NS[$i]:-}" ] || cmd=(ip netns exec "${NODE_NS[$i]}" "${cmd[@]}")
	# A simple command in the background: its child execs, so $! is the node's own pid.
	"${cmd[@]}" "$REGCHAIN_NODE" --validator --chain "$SPEC" --name "${NAMES[$i]}" \
		--base-path "$base" --node-key-file "$CHAIN/validator$i.node-key" \
		--listen-addr "/ip4/$addr/tcp/$(p2p_port "$i")" \
		--rpc-port "$(rpc_port "$i")" --prometheus-port "$(prometheus_port "$i")" \
		--no-mdns --no-telemetry --network-backend libp2p "${reserved[@]}" \
		--etcd-listen "127.0.0.1:$(etcd_port "$i")" --etcd-signer-file "$CHAIN/validator$i.etcd-signer" \
		"${args[@]}" >>"$DIR/v$i.log" 2>&1 &
	NODE_PID[$i]=$!
	disown $! # no job notice when it is killed on purpose
	# libfaketime may leave a shared-memory segment and a semaphore named after the process
	[[ "${NODE_ENV[$i]:-}" != *FAKETIME* ]] || FAKETIME_PIDS+=("${NODE_PID[$i]}")
}
node_alive() { [ -n "${NODE_PID[$1]:-}" ] && kill -0 "${NODE_PID[$1]}" 2>/dev/null; }
node_kill() { # node_kill I...: kill -9 validators I..., all in one kill(1)
	local i pids=()
	for i in "$@"; do pids+=("${NODE_PID[$i]}"); done
	kill -9 "${pids[@]}" 2>/dev/null || true
	for i in "$@"; do
		for _ in $(seq 50); do kill -0 "${NODE_PID[$i]}" 2>/dev/null || break; sleep 0.1; done
		unset 'NODE_PID[$i]'
	done
}
node_stop() { # node_stop I: SIGTERM, then -9 after 10 s
	local i=$1 pid=${NODE_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	unset 'NODE_PID[$i]'
}
node_ready() { # node_ready I: answers RPC, finalized >= 1, etcd /health true
	local i=$1 fin
	node_alive "$i" || fail "validator $i (${NAMES[$i]}) exited; see $DIR/v$i.log: $(tail -n 3 "$DIR/v$i.log" | tr '\n' ' ' | cut -c1-300)"
	fin=$(finalized "$i") || return 1
	[ "$fin" != down ] && [ "$fin" -ge 1 ] || return 1
	[ "$(on "$i" curl -s -m 2 "http://127.0.0.1:$(etcd_port "$i")/health" 2>/dev/null)" = '{"health":"true"}' ]
}
wait_until() { # wait_until SECONDS WHAT COMMAND...: polls every 0.25 s
	local limit=$1 what=$2 t0=$SECONDS
	shift 2
	until "$@"; do
		[ $((SECONDS - t0)) -lt "$limit" ] || fail "$what: not within $limit s"
		sleep 0.25
	done
}
all_ready() { local i; for i in "$@"; do node_ready "$i" || return 1; done; }
ports_free() {
	local i p low high
	read -r low high </proc/sys/net/ipv4/ip_local_port_range
	for i in "$@"; do
		for p in $(rpc_port "$i") $(p2p_port "$i") $(prometheus_port "$i") $(etcd_port "$i"); do
			! ss -Htln "( sport = :$p )" | grep -q . || fail "port $p is taken (another fault test running?)"
			[ "$p" -lt "$low" ] || [ "$p" -gt "$high" ] ||
				fail "port $p is in the kernel's ephemeral range ($low-$high, net.ipv4.ip_local_port_range): an outgoing connection could take it while its validator is down"
		done
	done
}
cluster_start() { # cluster_start: the four validators, until each finalizes and serves etcd
	local i t=$EPOCHREALTIME
	[ -n "${NODE_NS[1]:-}" ] || ports_free "${VALIDATORS[@]}"
	for i in "${VALIDATORS[@]}"; do node_start "$i"; done
	wait_until 180 "the validators finalize and serve the etcd API" all_ready "${VALIDATORS[@]}"
	ok "validators ${VALIDATORS[*]} finalize (#$(finalized 1)) and serve etcd, $(since "$t") s after start"
	rep cluster_start_s "$(since "$t")"
}

# ---------------------------------------------------------------------------------------------
# Network namespaces: validator i in "rcf$$-vI", joined by a veth pair (eth0 inside, vI outside)
# to a bridge in the namespace "rcf$$-br"; addresses 10.77.0.I/24, used nowhere else. Nothing
# is created in the host's own namespace.
NS_PREFIX="${FAULTS_NS_PREFIX:-rcf$$}-$TEST"
netns_setup() { # netns_setup I...: a namespace per validator, on one bridge
	local i ns br="$NS_PREFIX-br"
	ip netns add "$br"
	NAMESPACES+=("$br")
	ip -n "$br" link add br0 type bridge
	ip -n "$br" link set br0 up
	ip -n "$br" link set lo up
	for i in "$@"; do
		ns="$NS_PREFIX-v$i"
		ip netns add "$ns"
		NAMESPACES+=("$ns")
		ip -n "$ns" link set lo up
		ip link add eth0 netns "$ns" type veth peer name "v$i" netns "$br"
		ip -n "$br" link set "v$i" master br0 up
		ip -n "$ns" addr add "10.77.0.$i/24" dev eth0
		ip -n "$ns" link set eth0 up
		NODE_NS[$i]=$ns
		NODE_ADDR[$i]=10.77.0.$i
	done
}

# ---------------------------------------------------------------------------------------------
# Write load: writer W puts unique keys /faults/TEST/wW/NNNNNN, each once, with etcdctl through
# one validator's etcd API, until $DIR/load.stop exists. Each attempt is a line of
# $DIR/writes/wW.tsv: key, value, validator, start, end (epoch seconds), etcdctl's exit status,
# its error. A put is acknowledged when etcdctl exits 0.
WRITER_PIDS=()
writer() { # writer W I
	local w=$1 i=$2 n=0 key val t0 t1 rc err
	local out="$DIR/writes/w$w.tsv" errf="$DIR/writes/w$w.err"
	# Stops too when the test's shell is gone (killed without its clean-up) or its directory is.
	while [ ! -e "$DIR/load.stop" ] && [ -d "$DIR/writes" ] && kill -0 $$ 2>/dev/null; do
		n=$((n + 1))
		key=$(printf '/faults/%s/w%02d/%06d' "$TEST" "$w" "$n")
		val="$TEST-w$w-$n-$SRANDOM"
		t0=$EPOCHREALTIME
		rc=0
		on "$i" timeout -k 2 $((PUT_TIMEOUT + 5)) etcdctl --endpoints="127.0.0.1:$(etcd_port "$i")" \
			--dial-timeout=2s --command-timeout="${PUT_TIMEOUT}s" put "$key" "$val" >/dev/null 2>"$errf" || rc=$?
		t1=$EPOCHREALTIME
		err=""
		# etcdctl's last word is "Error: ..." (its retries log JSON lines before it)
		[ "$rc" = 0 ] || err=$({ grep -m1 '^Error:' "$errf" || tail -n 1 "$errf"; } | head -c 200 | tr '\t\n' '  ')
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$val" "$i" "$t0" "$t1" "$rc" "$err" >>"$out"
		[ "$rc" = 0 ] || sleep 0.3
		[ -z "${WRITE_PAUSE:-}" ] || sleep "$WRITE_PAUSE"
	done
}
load_start() { # load_start I...: one writer per argument, through validator I
	local w=${#WRITER_PIDS[@]} i
	rm -f "$DIR/load.stop"
	for i in "$@"; do
		w=$((w + 1))
		: >"$DIR/writes/w$w.tsv"
		writer "$w" "$i" &
		WRITER_PIDS+=($!)
	done
	say "write load: ${#WRITER_PIDS[@]} etcdctl put loops, through validators $*"
}
load_stop() { # load_stop: the writers finish the put under way (bounded), then stop
	local pid
	touch "$DIR/load.stop"
	for pid in "${WRITER_PIDS[@]}"; do
		for _ in $(seq $((10 * (PUT_TIMEOUT + 10)))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	WRITER_PIDS=()
}
writes() { cat "$DIR"/writes/w*.tsv 2>/dev/null || true; }
acked_between() { # acked_between T1 T2: puts acknowledged (ended with exit 0) in [T1, T2]
	writes | awk -F'\t' -v a="$1" -v b="$2" '$6 == 0 && $5 >= a && $5 <= b' | wc -l | tr -d ' '
}
started_and_acked_between() { # puts both started and acknowledged in [T1, T2]
	writes | awk -F'\t' -v a="$1" -v b="$2" '$6 == 0 && $4 >= a && $5 <= b' | wc -l | tr -d ' '
}
latency() { # latency T1 T2 [VALIDATORS]: "count p50 p90 p99 max" of acknowledged puts started in [T1, T2]
	writes | chain latency --from "$1" --to "$2" --nodes "${3:-}"
}

# verify_writes I...: read every key of this test back through each validator's etcd API
# (etcdctl get --prefix, a linearizable read), and check that every acknowledged put is there
# with its value. Records writes.* in the report; fails on any acknowledged write missing.
verify_writes() {
	local i files=()
	for i in "$@"; do
		local t0=$SECONDS
		until on "$i" etcdctl --endpoints="127.0.0.1:$(etcd_port "$i")" --dial-timeout=2s --command-timeout=20s \
			get --prefix "/faults/$TEST/" -w json >"$DIR/readback.$i.json" 2>"$DIR/readback.$i.err"; do
			[ $((SECONDS - t0)) -lt 60 ] || fail "reading back through validator $i's etcd API: $(head -c 300 "$DIR/readback.$i.err")"
			sleep 1
		done
		files+=("$i=$DIR/readback.$i.json")
	done
	writes >"$DIR/writes.all.tsv"
	chain verify --writes "$DIR/writes.all.tsv" --report "$DIR/report.tsv" "${files[@]}" >"$DIR/verify.out" ||
		fail "acknowledged writes missing: $(cat "$DIR/verify.out")"
	say "  $(cat "$DIR/verify.out")"
}

# ---------------------------------------------------------------------------------------------
# The chain monitor: every 0.25 s, each validator's best and finalized block, in
# $DIR/heads.tsv (time, validator, best, finalized, finalized hash; "down" when it does not
# answer). `chain stall` and `chain progress` read it.
MONITOR_PID=""
monitor_start() {
	"$PYTHON" "$CHAIN_PY" monitor --out "$DIR/heads.tsv" --interval 0.25 --parent $$ $(node_spec "$@") &
	MONITOR_PID=$!
}
monitor_stop() {
	[ -n "$MONITOR_PID" ] || return 0
	kill "$MONITOR_PID" 2>/dev/null || true
	wait "$MONITOR_PID" 2>/dev/null || true
	MONITOR_PID=""
}
fin_progress() { # fin_progress I T1 T2: how many blocks validator I finalized between T1 and T2
	chain progress --heads "$DIR/heads.tsv" --node "$1" --from "$2" --to "$3"
}
fin_stall() { # fin_stall I T1 T2: the longest time validator I's finalized head stood still in [T1, T2]
	chain stall --heads "$DIR/heads.tsv" --node "$1" --from "$2" --to "$3"
}
# What "finality continues" means while one validator of four is down or cut off: at least
# MIN_FIN_PER_S blocks finalized a second, and no stall longer than MAX_FIN_STALL_S. With three
# authors of four, a healthy chain finalizes 3 blocks a second (4 with all four) and its longest
# stall is about half a second here; the bounds leave room for a loaded machine, and a chain
# that stalls for a GRANDPA catch-up (seconds to minutes) fails them.
MIN_FIN_PER_S=1.5
MAX_FIN_STALL_S=5
finality_kept() { # finality_kept I T1 T2 WHAT: fail unless validator I kept finalizing in [T1, T2]
	local i=$1 t1=$2 t2=$3 what=$4 p s need
	p=$(fin_progress "$i" "$t1" "$t2")
	s=$(fin_stall "$i" "$t1" "$t2")
	need=$(awk -v a="$t1" -v b="$t2" -v r="$MIN_FIN_PER_S" 'BEGIN { printf "%d\n", (b - a) * r }')
	[ "$p" != none ] && [ "$p" -ge "$need" ] ||
		fail "${NAMES[$i]} finalized $p blocks in $(since "$t1" "$t2") s $what (at least $need expected: $MIN_FIN_PER_S a second)"
	[ "$s" != none ] && awk -v s="$s" -v m="$MAX_FIN_STALL_S" 'BEGIN { exit !(s <= m) }' ||
		fail "${NAMES[$i]}'s finalized head stood still for $s s $what (at most $MAX_FIN_STALL_S s expected)"
}
put_errors() { # put_errors T1 T2: the errors of puts that failed in [T1, T2], counted
	writes | chain errors --from "$1" --to "$2"
}
first_fin_after() { # first_fin_after I T: when validator I's finalized head first rose after T (epoch), or "none"
	chain first-rise --heads "$DIR/heads.tsv" --node "$1" --after "$2"
}
wait_finalized_above() { # wait_finalized_above I N SECONDS
	local i=$1 n=$2
	above() { local f; f=$(finalized "$i") && [ "$f" != down ] && [ "$f" -gt "$n" ]; }
	wait_until "$3" "validator $i finalizes beyond #$n" above
}
all_finalized_ge() { # all_finalized_ge N I...: every validator I has finalized block N
	local n=$1 i f
	shift
	for i in "$@"; do
		f=$(finalized "$i")
		[ "$f" != down ] && [ "$f" -ge "$n" ] || return 1
	done
}
# same_finalized I...: all validators agree on the block at the lowest of their finalized
# heights; prints "NUMBER HASH STATE_ROOT"
same_finalized() {
	local i low="" f line first=""
	for i in "$@"; do
		f=$(finalized "$i")
		[ "$f" != down ] || fail "validator $i does not answer"
		[ -z "$low" ] || [ "$f" -lt "$low" ] && low=$f
	done
	for i in "$@"; do
		line=$(block_at "$i" "$low")
		[ -z "$first" ] && first=$line
		[ "$line" = "$first" ] || fail "validators disagree at finalized block #$low: ${NAMES[$1]} $first, ${NAMES[$i]} $line"
	done
	echo "$low $first"
}

# ---------------------------------------------------------------------------------------------
# Clean-up: everything this test started, by pid; its namespaces; its data unless FAULTS_KEEP.
cleanup() {
	local rc=$? i pid status=passed t_clean=$EPOCHREALTIME
	trap - EXIT INT TERM
	set +e
	if [ "$rc" = 0 ]; then
		FAILURE=""
	else
		status=failed
		case "$rc" in
			130) FAILURE=${FAILURE:-interrupted (SIGINT)} ;;
			143) FAILURE=${FAILURE:-terminated (SIGTERM: the time limit, or faults.sh interrupted)} ;;
			*) [ -n "$FAILURE" ] || FAILURE=${LAST_ERR:-exit status $rc} ;;
		esac
	fi
	[ "$rc" = 0 ] || printf '[%s %4ds] FAILED: %s\n' "$TEST" $((SECONDS - START)) "$FAILURE" >&2
	if [ "${#WRITER_PIDS[@]}" -gt 0 ]; then
		touch "$DIR/load.stop"
		for pid in "${WRITER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	fi
	monitor_stop
	for i in "${!NODE_PID[@]}"; do kill "${NODE_PID[$i]}" 2>/dev/null; done
	for _ in $(seq 30); do
		local alive=0
		for i in "${!NODE_PID[@]}"; do kill -0 "${NODE_PID[$i]}" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for i in "${!NODE_PID[@]}"; do kill -9 "${NODE_PID[$i]}" 2>/dev/null; done
	for pid in "${WRITER_PIDS[@]}"; do
		kill -9 $(pgrep -P "$pid") "$pid" 2>/dev/null
	done
	kill $(jobs -p) 2>/dev/null # a pause's sleep
	wait 2>/dev/null
	for i in "${NAMESPACES[@]}"; do ip netns del "$i" 2>/dev/null; done
	for pid in "${FAKETIME_PIDS[@]}"; do rm -f "/dev/shm/faketime_shm_$pid" "/dev/shm/sem.faketime_sem_$pid"; done
	[ "$status" = passed ] || for i in 1 2 3 4 5; do
		[ -f "$DIR/v$i.log" ] || continue
		echo "----- last lines of $DIR/v$i.log" >&2
		tail -n 6 "$DIR/v$i.log" | cut -c1-250 >&2
	done
	local t_stopped=$EPOCHREALTIME
	report_write "$status"
	local t_reported=$EPOCHREALTIME
	if [ "$KEEP" = 1 ]; then
		say "kept $DIR"
	else
		rm -rf "$DIR"
	fi
	say "$status ($(since "$T0") s, of which clean-up $(since "$t_clean") s: processes $(since "$t_clean" "$t_stopped")," \
		"report $(since "$t_stopped" "$t_reported"), files $(since "$t_reported") s); report $REPORT_DIR/$TEST.md"
	exit "$rc"
}
# The command that failed, for the report, when set -e ends the test without fail().
set -E
LAST_ERR=""
trap 'LAST_ERR="command failed (status $?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
