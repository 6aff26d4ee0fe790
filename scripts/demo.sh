#!/usr/bin/env bash
# The native-registry demo (docs/demo.md): services kept registered by `regchainctl agent`, a
# controller elected with `regchainctl elect campaign` that keeps three replicas running and
# fences what it does with its term, and a client that finds the replicas in the registry; then
# a replica, the leading controller and a validator fail, and the script checks what follows.
#
#   scripts/demo.sh [--short] [--keep]
#
#   --short   for CI: 3 s leases, health checks every second, the controllers' loop every 0.5 s,
#             the killed validator left down (1.5 to 2.5 minutes on a loaded 2-core machine,
#             the image already built; most of it is the containers' start).
#             Without it: 10 s leases, health checks every 2 s, and the killed validator is
#             started again at the end and must catch up (2.5 to 4.5 minutes).
#   --keep    keep the temporary directory (events, logs, the validators' data) at exit.
#             Processes and containers are stopped either way.
#
# What runs, all on 127.0.0.1:
#   - four validators (Alice, Bob, Charlie, Dave) in Podman containers, by scripts/containers.sh
#     up (JSON-RPC 19943+i, P2P 20332+i, etcd 12378+i), with their data in the demo's directory;
#   - two controllers, ctl-1 signing as Alice through Alice's validator and ctl-2 as Bob through
#     Bob's, campaigning in the election `web-controller`. The leader keeps 3 replicas of the
#     service `web` registered; each action, and a status record at every round, is a put
#     fenced by its term (`regchainctl put --fence web-controller:TERM`);
#   - the replicas: a tiny HTTP server that answers its instance id (port 18100+n), and its
#     sidecar `regchainctl agent`, through a validator chosen in turn and signing as its
#     account; the leader starts them;
#   - a client, through Dave's validator: `regchainctl service list web --health passing`
#     every second, round-robin GETs with curl, one retry on the next instance.
# Then: kill -9 a replica (its instance must leave the registry within its TTL and a new one
# show up passing); kill -9 the leading controller (the other must lead with a higher term, and
# the old term's fenced write be refused); SIGSTOP the new leader for longer than its lease,
# then SIGCONT it (its own next fenced write must be refused and it must step down); kill the
# container of Charlie's validator (finality, registrations and discovery must go on); stop
# everything gracefully (the agents must deregister at once).
#
# Environment: DEMO_TTL (replicas' lease TTL), DEMO_CTL_TTL (controllers' lease TTL),
# REGCHAIN_CONTAINERS_DIR is set by the script (the validators' data go under its directory).
#
# Needs root (Podman and scripts/containers.sh) and the release binaries in
# $CARGO_TARGET_DIR/release: it never builds them (scripts/test.sh does). It installs curl,
# python3, util-linux (flock, setsid), iproute2 (ss) and procps (pgrep) with apt-get when one is
# missing; scripts/containers.sh installs podman and runc, and makes the base and regchain
# images, when they are missing. Ports away from scripts/testnet.sh, scripts/demo-patroni.sh and the fault
# tests: the containers' (above) and the replicas' 18101-18140. Every wait is bounded. On exit,
# failure or Ctrl-C, everything started here is stopped (by process group id, then the
# containers with scripts/containers.sh down) and the temporary directory is removed.
#
# Internal: `demo.sh _controller NAME`, `_replica ...` and `_client` are the helpers, which the
# script starts itself (each in its own session: setsid).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

SELF="$REGCHAIN_ROOT/scripts/demo.sh"
REGCHAINCTL="${REGCHAINCTL:-$CARGO_TARGET_DIR/release/regchainctl}"
CONTAINERS="$REGCHAIN_ROOT/scripts/containers.sh"

SERVICE=web
ELECTION=web-controller
PREFIX=/demo/web        # the leader's fenced records: $PREFIX/controller, $PREFIX/actions/<id>
DESIRED=3
PORT_BASE=18100         # replica n listens on PORT_BASE + n
VNAMES=(Alice Bob Charlie Dave)
CONTROLLERS=(ctl-1 ctl-2)
declare -A CTL_KEY=([ctl-1]=//Alice [ctl-2]=//Bob)
declare -A CTL_VALIDATOR=([ctl-1]=1 [ctl-2]=2)
CLIENT_VALIDATOR=4      # the client discovers through Dave's validator
KILL_VALIDATOR=3        # step 5 kills Charlie's
MAIN_VALIDATOR=1        # this script reads through Alice's

rpc_port() { echo $((19943 + $1)); }
ws() { echo "ws://127.0.0.1:$(rpc_port "$1")"; }

# The timing: --short, or DEMO_SHORT=1 in the helpers started below (they inherit it).
configure() {
	if [ "${DEMO_SHORT:-0}" = 1 ]; then
		TTL=${DEMO_TTL:-3} CTL_TTL=${DEMO_CTL_TTL:-3} HEALTH_INTERVAL=1 PERIOD=0.5
	else
		TTL=${DEMO_TTL:-10} CTL_TTL=${DEMO_CTL_TTL:-10} HEALTH_INTERVAL=2 PERIOD=1
	fi
	START_GRACE=$((TTL + 20)) # a replica started but not registered after this is given up
}

# python3, resolved once (a pyenv shim takes a noticeable time at every start on a loaded machine).
PY=${DEMO_PYTHON:-python3}
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'; }
event() { # event WHO TEXT...: one line in the events log, which the narration shows
	local who=$1
	shift
	printf '%s %s: %s\n' "$EPOCHREALTIME" "$who" "$*" >>"$DIR/events.log"
}

# The registry's instances of the service, read at the finalized block of validator $1, one
# line each: ID ADDRESS HEALTH VIA OWNER LEASE. regchainctl's text output is tab-separated (service,
# id, address, health, lease, owner, [tags]); the sidecar's validator is the tag via=NAME.
# (Text, not JSON: this runs several times a second, and python3 may be slow to start.)
instances() { # instances VALIDATOR [passing]
	"$REGCHAINCTL" --endpoint "$(ws "$1")" service list "$SERVICE" ${2:+--health "$2"} |
		awk -F'\t' 'NF >= 6 { via = "-"; if (match($7, /via=[A-Za-z]+/)) via = substr($7, RSTART + 4, RLENGTH - 4)
			sub(/^lease /, "", $5); print $2, $3, $4, via, $6, $5 }'
}

# ---------------------------------------------------------------------------------------------
# The helpers: processes of their own (each its own session and process group, so that a kill
# of one is a crash of one), started by this script as `demo.sh _controller|_replica|_client`.

# A service replica: the HTTP server and its sidecar. Stops the server when the sidecar exits
# (its lease lost); on SIGTERM, stops the sidecar (which deregisters), then the server.
replica() { # replica ID PORT VALIDATOR KEY CONTROLLER TERM
	local id=$1 port=$2 v=$3 key=$4 ctl=$5 term=$6 spid apid t0=$SECONDS
	echo $$ >"$DIR/replicas/$id.pgid"
	"$PY" -c '
import http.server, sys
ident, port = sys.argv[1].encode() + b"\n", int(sys.argv[2])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(ident)))
        self.end_headers()
        self.wfile.write(ident)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()' "$id" "$port" &
	spid=$!
	until curl -fs -m 1 -o /dev/null "http://127.0.0.1:$port/health"; do
		if ! kill -0 "$spid" 2>/dev/null || [ $((SECONDS - t0)) -ge 10 ]; then
			event "$id" "the HTTP server did not start on 127.0.0.1:$port"
			kill "$spid" 2>/dev/null
			exit 1
		fi
		sleep 0.1
	done
	# The sidecar's own lines (registered, health changes, deregistered, errors) go to the events.
	"$REGCHAINCTL" --endpoint "$(ws "$v")" --key "$key" agent \
		--service "$SERVICE" --instance "$id" --address "127.0.0.1:$port" --ttl "$TTL" \
		--health-cmd "curl -fs -m 1 -o /dev/null http://127.0.0.1:$port/health" \
		--health-interval "$HEALTH_INTERVAL" \
		--tag "via=${VNAMES[$((v - 1))]}" --meta "started-by=$ctl" --meta "term=$term" \
		> >(while IFS= read -r line; do
			echo "$line" >>"$DIR/replicas/$id.agent"
			event "$id" "sidecar: $line"
		done) 2>&1 &
	apid=$!
	echo "$spid $apid" >"$DIR/replicas/$id.pids"
	trap 'kill -TERM "$apid" 2>/dev/null; wait "$apid"; kill "$spid" 2>/dev/null; wait; rm -f "$DIR/replicas/$id.pgid"; exit 0' TERM INT
	wait -n "$spid" "$apid"
	if ! kill -0 "$apid" 2>/dev/null; then
		event "$id" "sidecar exited; stopping its HTTP server"
	else
		event "$id" "HTTP server exited; stopping its sidecar"
	fi
	kill -TERM "$apid" "$spid" 2>/dev/null
	wait
	rm -f "$DIR/replicas/$id.pgid"
}

# The controller: campaigns; while it leads, every PERIOD: reads the service's instances, writes
# its status fenced by its term, then starts (or stops) replicas to keep DESIRED, each action
# recorded first with a fenced put. A refused fenced write means another controller leads in a
# later term: it stops acting at once and campaigns again.
controller() { # controller NAME
	local name=$1 key=${CTL_KEY[$1]} v=${CTL_VALIDATOR[$1]} ep cpid="" out term n=0 k rc lost_said
	ep=$(ws "$v")
	declare -A pending=() stopping=()
	echo $$ >"$DIR/ctl/$name.pgid"
	# Asked to stop: the campaign resigns (and revokes its lease) on SIGTERM. (Not a bare
	# `wait`: the replicas this controller started are its children too.)
	trap '[ -z "$cpid" ] || { kill -TERM "$cpid" 2>/dev/null; wait "$cpid"; }; exit 0' TERM INT

	fence() { # fence KEY VALUE: 0 written, 1 refused (fenced out), 2 failed otherwise
		local err
		err=$("$REGCHAINCTL" --endpoint "$ep" --key "$key" --timeout 20 \
			put --fence "$ELECTION:$term" "$1" "$2" 2>&1 >/dev/null) && return 0
		if [[ "$err" == *"fenced write refused"* ]]; then
			event "$name" "FENCED OUT: its write of $1 with term $term was refused ($err); steps down"
			return 1
		fi
		event "$name" "write of $1 failed, so it does nothing this round: $err"
		return 2
	}

	start_one() { # starts replica NAME-tTERM-K: records it (fenced), then starts it
		local seq port id rv rkey i
		seq=$(flock "$DIR/seq.lock" sh -c 'n=$(($(cat "$1" 2>/dev/null || echo 0) + 1)); echo $n >"$1"; echo $n' - "$DIR/seq")
		port=$((PORT_BASE + seq))
		k=$((k + 1))
		id="$SERVICE-t$term-$k"
		# The sidecar's validator: in turn, skipping any that does not answer.
		rv=""
		for i in 0 1 2 3; do
			rv=$(((seq - 1 + i) % 4 + 1))
			curl -sf -m 1 -H 'Content-Type: application/json' \
				-d '{"jsonrpc":"2.0","id":1,"method":"system_health","params":[]}' \
				"http://127.0.0.1:$(rpc_port "$rv")" >/dev/null && break
			rv=""
		done
		[ -n "$rv" ] || { event "$name" "no validator answers; cannot start a replica"; return 2; }
		# It signs as that validator's account. Processes sharing an account then share a
		# validator too, whose pool sees all their transactions and refuses a second one at the
		# same nonce straight away (the client signs it again). Through two validators, each
		# pool would take one, and only a block would settle which: a keep-alive can lose that
		# race several times in a row, and its lease with it.
		rkey="//${VNAMES[$((rv - 1))]}"
		fence "$PREFIX/actions/$id" "$name (term $term) starts $id at 127.0.0.1:$port, sidecar via ${VNAMES[$((rv - 1))]}, signing as ${rkey#//}: $count of $DESIRED registered" ||
			return $?
		setsid "$SELF" _replica "$id" "$port" "$rv" "$rkey" "$name" "$term" </dev/null >>"$DIR/replicas/$id.log" 2>&1 &
		pending[$id]=$SECONDS
		event "$name" "term $term: started $id at 127.0.0.1:$port (sidecar via ${VNAMES[$((rv - 1))]}, signs as ${rkey#//}); $count of $DESIRED were registered"
	}

	stop_one() { # stop_one ID: records it (fenced), then SIGTERM: the sidecar deregisters
		local id=$1 pgid
		fence "$PREFIX/actions/$id" "$name (term $term) stops $id: $count of $DESIRED registered" || return $?
		pgid=$(cat "$DIR/replicas/$id.pgid" 2>/dev/null) && kill -TERM "$pgid" 2>/dev/null
		stopping[$id]=$SECONDS
		event "$name" "term $term: stopped $id; $count of $DESIRED were registered"
	}

	# One round as leader; non-zero when it no longer leads.
	reconcile() {
		local list id count passing running extra
		list=$(instances "$v") || { event "$name" "cannot read the registry"; return 0; }
		count=$(grep -c . <<<"$list")
		passing=$(awk '$3 == "passing"' <<<"$list" | grep -c .)
		for id in "${!pending[@]}"; do
			if grep -q "^$id " <<<"$list" || [ $((SECONDS - pending[$id])) -ge "$START_GRACE" ]; then
				unset "pending[$id]"
			fi
		done
		for id in "${!stopping[@]}"; do
			grep -q "^$id " <<<"$list" && [ $((SECONDS - stopping[$id])) -lt "$START_GRACE" ] || unset "stopping[$id]"
		done
		fence "$PREFIX/controller" "$name term $term: $count of $DESIRED registered, $passing passing, ${#pending[@]} starting" ||
			{ rc=$?; [ "$rc" = 1 ] && return 1; return 0; }
		# Only the fence decides. The campaign keeps the leadership's lease alive; if it ended
		# (the lease lost, or its node gone), the chain moves the term on when the lease ends,
		# and the next fenced write is refused. Until then this controller still leads.
		if [ -z "$lost_said" ] && ! kill -0 "$cpid" 2>/dev/null; then
			lost_said=1
			event "$name" "its campaign ended ($(tail -1 "$out.err")); it acts only while its fenced writes are accepted"
		fi
		running=$((count + ${#pending[@]} - ${#stopping[@]}))
		while [ "$running" -lt "$DESIRED" ]; do
			start_one || { rc=$?; [ "$rc" = 1 ] && return 1; return 0; }
			running=$((running + 1))
		done
		if [ "$running" -gt "$DESIRED" ] && [ "${#pending[@]}" = 0 ]; then
			# Too many (a start by a deposed leader that it did not see register): stop the newest.
			for extra in $(awk '{print $1}' <<<"$list" | sort -V | tail -n $((running - DESIRED))); do
				stop_one "$extra" || { rc=$?; [ "$rc" = 1 ] && return 1; return 0; }
			done
		fi
	}

	while :; do
		n=$((n + 1))
		# A name of this process's own, made before the campaign starts (a background job's
		# redirection happens in the child, later).
		out="$DIR/ctl/$name.$$.campaign$n"
		: >"$out"
		"$REGCHAINCTL" --endpoint "$ep" --key "$key" --output json \
			elect campaign "$ELECTION" "$name" --ttl "$CTL_TTL" >>"$out" 2>"$out.err" &
		cpid=$!
		event "$name" "campaigns in $ELECTION as ${key#//}, through ${VNAMES[$((v - 1))]}'s validator"
		until grep -q '"term"' "$out"; do
			if ! kill -0 "$cpid" 2>/dev/null; then
				event "$name" "campaign failed: $(tail -1 "$out.err")"
				cpid=""
				sleep 1
				continue 2
			fi
			sleep 0.1
		done
		term=$(grep -o '"term":[0-9]*' "$out" | head -1 | cut -d: -f2)
		if ! [[ "$term" =~ ^[0-9]+$ ]]; then
			event "$name" "cannot read its term from the campaign's output: $(head -c 200 "$out")"
			kill -TERM "$cpid" 2>/dev/null
			wait "$cpid" 2>/dev/null
			cpid=""
			continue
		fi
		event "$name" "LEADS $ELECTION in term $term"
		k=0
		lost_said=""
		pending=()
		stopping=()
		while reconcile; do sleep "$PERIOD"; done
		kill -TERM "$cpid" 2>/dev/null
		wait "$cpid" 2>/dev/null
		cpid=""
	done
}

# The client: discovers the passing instances every second through its validator, and sends
# GET / to them in turn; an instance answers its own id. A failed request is tried once more
# on the next instance. Log lines: TIME ok|fail ID, TIME lost (both tries failed), TIME none
# (nothing passing), TIME discovery-failed.
client() {
	local v=$CLIENT_VALIDATOR list=() fresh last=0 i=0 n id addr body try t
	echo $$ >"$DIR/client.pgid"
	while [ ! -e "$DIR/client.stop" ]; do
		t=${EPOCHREALTIME/./} # microseconds
		if [ $((t - last)) -ge 1000000 ]; then
			last=$t
			if fresh=$(instances "$v" passing 2>/dev/null); then
				mapfile -t list < <(awk 'NF {print $1, $2}' <<<"$fresh")
			else
				echo "$EPOCHREALTIME discovery-failed" >>"$DIR/client.log"
			fi
		fi
		n=${#list[@]}
		if [ "$n" = 0 ]; then
			echo "$EPOCHREALTIME none" >>"$DIR/client.log"
			sleep 0.2
			continue
		fi
		i=$(((i + 1) % n))
		for try in 0 1; do
			read -r id addr <<<"${list[$(((i + try) % n))]}"
			body=$(curl -s -m 1 "http://$addr/" 2>/dev/null) || body=""
			if [ "$body" = "$id" ]; then
				echo "$EPOCHREALTIME ok $id" >>"$DIR/client.log"
				break
			fi
			echo "$EPOCHREALTIME fail $id" >>"$DIR/client.log"
			[ "$try" = 0 ] || echo "$EPOCHREALTIME lost" >>"$DIR/client.log"
		done
		sleep 0.1
	done
}

if [[ "${1:-}" == _* ]]; then
	[ -n "${DEMO_DIR:-}" ] && [ -d "$DEMO_DIR" ] || { echo "demo: $1 is started by demo.sh itself" >&2; exit 2; }
	DIR=$DEMO_DIR
	configure
	set +e
	case "$1" in
		_replica) shift; replica "$@" ;;
		_controller) shift; controller "$@" ;;
		_client) client ;;
		*) echo "demo: unknown helper $1" >&2; exit 2 ;;
	esac
	exit
fi

# ---------------------------------------------------------------------------------------------
# The demo.
KEEP=0
DEMO_SHORT=0
while [ $# -gt 0 ]; do
	case "$1" in
		--short) DEMO_SHORT=1; shift ;;
		--keep) KEEP=1; shift ;;
		-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		*) echo "demo: unknown option $1 (usage: demo.sh [--short] [--keep])" >&2; exit 2 ;;
	esac
done
configure
export DEMO_SHORT DEMO_TTL=$TTL DEMO_CTL_TTL=$CTL_TTL

START=$SECONDS
T0=$EPOCHREALTIME
say() { printf '[demo %3ds] %s\n' $((SECONDS - START)) "$*"; }
ok() { printf '[demo %3ds]   ok: %s\n' $((SECONDS - START)) "$*"; }
fail() {
	printf '[demo %3ds] FAILED: %s\n' $((SECONDS - START)) "$*" >&2
	exit 1
}

# Clean-up: everything started here, by process group id, then the containers.
DIR=""
CONTAINERS_UP=0
kill_groups() { # kill_groups SIGNAL: every helper's process group still alive
	local f pgid
	for f in "$DIR"/client.pgid "$DIR"/ctl/*.pgid "$DIR"/replicas/*.pgid; do
		[ -f "$f" ] || continue
		pgid=$(cat "$f")
		[[ "$pgid" =~ ^[0-9]+$ ]] && kill "-$1" -- "-$pgid" 2>/dev/null
	done
	return 0
}
groups_alive() {
	local f pgid
	for f in "$DIR"/client.pgid "$DIR"/ctl/*.pgid "$DIR"/replicas/*.pgid; do
		[ -f "$f" ] || continue
		pgid=$(cat "$f")
		[[ "$pgid" =~ ^[0-9]+$ ]] && pgrep -g "$pgid" >/dev/null && return 0
	done
	return 1
}
cleanup() {
	local rc=$? t0=$SECONDS t1 t2
	trap - EXIT INT TERM
	set +e
	if [ -n "$DIR" ] && [ -d "$DIR" ]; then
		if [ "$rc" != 0 ]; then
			echo "----- last events" >&2
			tail -n 25 "$DIR/events.log" 2>/dev/null | show_lines >&2
		fi
		echo "[demo] cleaning up"
		touch "$DIR/client.stop"
		kill_groups CONT
		kill_groups TERM
		for _ in $(seq 50); do groups_alive || break; sleep 0.1; done
		kill_groups KILL
	fi
	t1=$SECONDS
	if [ "$CONTAINERS_UP" = 1 ]; then
		# All four at once (`down` stops them one after the other, up to 20 s each).
		podman stop -t 10 regchain-alice regchain-bob regchain-charlie regchain-dave 2>&1 |
			grep -v 'unable to get systemd connection\|^regchain-' | sed 's/^/    /'
		REGCHAIN_CONTAINERS_DIR="$DIR/chain" "$CONTAINERS" down 2>&1 |
			{ if [ "$KEEP" = 1 ]; then cat; else grep -v 'logs and data kept under'; fi; } | sed 's/^/    /'
	fi
	t2=$SECONDS
	if [ -n "$DIR" ] && [ -d "$DIR" ]; then
		if [ "$KEEP" = 1 ]; then
			echo "[demo] kept $DIR (events.log, client.log, ctl/, replicas/, chain/ with the validators' logs)"
		else
			rm -rf "$DIR"
		fi
	fi
	echo "[demo] stopped everything it started in $((SECONDS - t0)) s" \
		"(processes $((t1 - t0)) s, containers $((t2 - t1)) s, files $((SECONDS - t2)) s)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The events log, shown with times since the start and accounts by name.
EV_SEEN=0
show_lines() {
	awk -v t0="$T0" '{ t = $1 - t0; $1 = ""; printf "    %6.1fs %s\n", t, substr($0, 2) }' | names
}
show_events() { # the events logged since the last call
	local total
	total=$(wc -l <"$DIR/events.log")
	[ "$total" -gt "$EV_SEEN" ] || return 0
	sed -n "$((EV_SEEN + 1)),${total}p" "$DIR/events.log" | show_lines
	EV_SEEN=$total
}
declare -A ACCOUNT=()
names() { # replaces the development accounts' SS58 addresses by their names on stdin
	local args=(-e s/x/x/) name
	for name in "${!ACCOUNT[@]}"; do args+=(-e "s/${ACCOUNT[$name]}/$name/g"); done
	sed "${args[@]}"
}
wait_until() { # wait_until SECONDS WHAT COMMAND...: polls every 0.2 s
	local limit=$1 what=$2 t0=$SECONDS
	shift 2
	until "$@"; do
		[ $((SECONDS - t0)) -lt "$limit" ] || { show_events; fail "$what: not within $limit s"; }
		sleep 0.2
	done
}
finalized_number() { # finalized_number VALIDATOR
	"$REGCHAINCTL" --endpoint "$(ws "$1")" --output json status | grep -o '"finalized":[0-9]*' | cut -d: -f2
}
ctl() { "$REGCHAINCTL" --endpoint "$(ws "$MAIN_VALIDATOR")" "$@"; }
lease_expiry() { # lease_expiry ID: when the lease expires (chain time, s), as of the finalized block
	ctl --output json lease ttl "$1" | grep -o '"expires_at_ms":[0-9]*' | cut -d: -f2 |
		awk '{ printf "%.3f", $1 / 1000 }'
}
election_state() { # LEADER TERM CANDIDATES: the leader's value (- if none), the term, how many candidates
	ctl --output json elect leader "$ELECTION" | "$PY" -c '
import json, sys
e = json.load(sys.stdin)["election"]
h = lambda x: bytes.fromhex(x[2:]).decode(errors="replace")
print(h(e["leader"]["value"]) if e and e["leader"] else "-", e["term"] if e else 0, len(e["candidates"]) if e else 0)'
}
leader_is() { # leader_is NAME [MIN_TERM]
	local l t c
	read -r l t c < <(election_state) || return 1
	[ "$l" = "$1" ] && [ "$t" -ge "${2:-0}" ]
}
candidates_are() { # candidates_are N
	local l t c
	read -r l t c < <(election_state) || return 1
	[ "$c" = "$1" ]
}
passing_count() { instances "$MAIN_VALIDATOR" passing | grep -c . || true; }
registered_count() { instances "$MAIN_VALIDATOR" | grep -c . || true; }
desired_passing() { # exactly DESIRED registered, all passing
	[ "$(registered_count)" = "$DESIRED" ] && [ "$(passing_count)" = "$DESIRED" ]
}
show_instances() {
	instances "$MAIN_VALIDATOR" | awk '{ printf "    %-10s %-16s %-8s sidecar via %-8s owner %s\n", $1, $2, $3, $4, $5 }' | names
}
client_count() { # client_count KIND [FROM [TO]]: client log lines of KIND in [FROM, TO)
	awk -v k="$1" -v a="${2:-0}" -v b="${3:-1e18}" '$2 == k && $1 >= a && $1 < b' "$DIR/client.log" | wc -l | tr -d ' '
}
client_summary() { # client_summary FROM [TO]
	local by
	by=$(awk -v a="$1" -v b="${2:-1e18}" '$2 == "ok" && $1 >= a && $1 < b { n[$3]++ } END { for (i in n) printf "%s %d, ", i, n[i] }' "$DIR/client.log")
	echo "$(client_count ok "$@") answered (${by%, }), $(client_count fail "$@") failed tries, $(client_count lost "$@") unanswered after the retry, $(client_count none "$@") rounds with nothing passing"
}
# History items of the chain, as JSON lines (one per item).
history_items() { # history_items KIND NAME
	ctl --output json history "$1" "$2" | "$PY" -c '
import json, sys
for item in json.load(sys.stdin)["items"]:
    print(json.dumps(item))'
}

# ---------------------------------------------------------------------------------------------
say "step 0: preflight ($([ "$DEMO_SHORT" = 1 ] && echo short || echo full) form: replicas' lease TTL $TTL s, controllers' $CTL_TTL s)"
[ "$(id -u)" = 0 ] || fail "run as root: scripts/containers.sh runs Podman and chowns the validators' data"
[ -x "$REGCHAIN_NODE" ] && [ -x "$REGCHAINCTL" ] ||
	fail "missing $REGCHAIN_NODE or $REGCHAINCTL: build them first (scripts/test.sh); this demo never builds"
missing=()
for tool in curl:curl python3:python3 flock:util-linux setsid:util-linux ss:iproute2 pgrep:procps; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if ((${#missing[@]})); then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	say "installing ${missing[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
		fail "apt-get install ${missing[*]} failed"
fi
if command -v podman >/dev/null 2>&1; then
	for name in init alice bob charlie dave; do
		! podman container exists "regchain-$name" 2>/dev/null ||
			fail "container regchain-$name exists: another cluster is running (scripts/containers.sh down, or compose-down)"
	done
fi
for port in $(for i in 1 2 3 4; do echo "$(rpc_port "$i") $((20332 + i)) $((19614 + i)) $((12378 + i))"; done) \
	$(seq $((PORT_BASE + 1)) $((PORT_BASE + 40))); do
	! ss -Htln "( sport = :$port )" | grep -q . || fail "port 127.0.0.1:$port is taken (another demo, cluster or test running?)"
done
PY=$(python3 -c 'import sys; print(sys.executable)')
export DEMO_PYTHON=$PY
for name in "${VNAMES[@]}"; do
	ACCOUNT[$name]=$("$REGCHAIN_NODE" key inspect --scheme sr25519 --output-type json "//$name" |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin)["ss58PublicKey"])')
done
DIR=$(mktemp -d /tmp/regchain-demo.XXXXXX)
mkdir -p "$DIR/ctl" "$DIR/replicas"
touch "$DIR/events.log" "$DIR/client.log"
export DEMO_DIR=$DIR
ok "$("$REGCHAINCTL" --version), $("$REGCHAIN_NODE" --version); working directory $DIR"

# ---------------------------------------------------------------------------------------------
say "step 1: four validators in Podman containers (scripts/containers.sh up)"
CONTAINERS_UP=1
REGCHAIN_CONTAINERS_DIR="$DIR/chain" "$CONTAINERS" up 2>&1 | sed 's/^/    /'
for i in 1 2 3 4; do
	[ "$(finalized_number "$i")" -gt 0 ] || fail "validator $i does not finalize"
done
ok "the four validators finalize (Alice's at #$(finalized_number 1))"

# ---------------------------------------------------------------------------------------------
say "step 2: two controllers campaign in the election $ELECTION; the leader starts $DESIRED replicas of $SERVICE"
start_controller() {
	setsid "$SELF" _controller "$1" </dev/null >>"$DIR/ctl/$1.log" 2>&1 &
	disown $! # no job notice when it is killed on purpose
	wait_until 10 "$1 starts" test -s "$DIR/ctl/$1.pgid"
}
start_controller ctl-1
wait_until 30 "ctl-1 leads" leader_is ctl-1
start_controller ctl-2
wait_until 30 "ctl-2 campaigns" candidates_are 2
read -r _ TERM1 _ < <(election_state)
wait_until $((TTL + 60)) "$DESIRED replicas registered and passing" desired_passing
show_events
ok "ctl-1 leads in term $TERM1, ctl-2 waits as a candidate; $DESIRED instances passing:"
show_instances
say "  the client discovers them through Dave's validator and sends round-robin GETs (each instance answers its id)"
setsid "$SELF" _client </dev/null >>"$DIR/client.err" 2>&1 &
disown $!
T_CLIENT=$(now)
all_answered() { [ "$(awk '$2 == "ok" { print $3 }' "$DIR/client.log" | sort -u | grep -c .)" -ge "$DESIRED" ]; }
wait_until 20 "the client gets answers from all $DESIRED instances" all_answered
sleep 1
ok "client: $(client_summary "$T_CLIENT")"
[ "$(client_count lost "$T_CLIENT")" = 0 ] || fail "requests went unanswered with every replica up"

# ---------------------------------------------------------------------------------------------
mapfile -t BEFORE < <(instances "$MAIN_VALIDATOR" | awk '{print $1}')
VICTIM=$(instances "$MAIN_VALIDATOR" | awk -v k="${VNAMES[$((KILL_VALIDATOR - 1))]}" '$4 != k {print $1; exit}')
[ -n "$VICTIM" ] || fail "no replica to kill"
VICTIM_PIDS=$(cat "$DIR/replicas/$VICTIM.pids")
VICTIM_LEASE=$(instances "$MAIN_VALIDATOR" | awk -v v="$VICTIM" '$1 == v {print $6}')
say "step 3: kill -9 the replica $VICTIM: its HTTP server and its sidecar (pids $VICTIM_PIDS), as a crash would"
DUE=$(lease_expiry "$VICTIM_LEASE")
T_KILL=$(now)
kill -9 -- "-$(cat "$DIR/replicas/$VICTIM.pgid")"
rm "$DIR/replicas/$VICTIM.pgid"
victim_gone() { ! instances "$MAIN_VALIDATOR" | grep -q "^$VICTIM "; }
wait_until $((TTL + 15)) "$VICTIM leaves the registry" victim_gone
T_GONE=$(now)
SEEN_GONE=$(since "$T_KILL" "$T_GONE")
REMOVED_MS=$(history_items service "$SERVICE" | "$PY" -c '
import json, sys
victim = "0x" + sys.argv[1].encode().hex()
for line in sys.stdin:
    i = json.loads(line)
    if i["kind"] == "removed" and i["instance_id"] == victim and i["who"] is None:
        print(i["time_ms"])' "$VICTIM" | tail -1)
[ -n "$REMOVED_MS" ] || fail "no removal of $VICTIM by the chain (lease expiry) in the service's history"
REMOVED=$(since "$T_KILL" "$(awk -v m="$REMOVED_MS" 'BEGIN { printf "%.3f", m / 1000 }')")
ok "$VICTIM left the registry: the chain removed it when its lease ran out, $REMOVED s after the kill (block time);" \
	"finalized reads stopped listing it $SEEN_GONE s after the kill (lease TTL $TTL s; the last keep-alive finalized" \
	"before the kill was $(since "$(awk -v d="$DUE" -v t="$TTL" 'BEGIN { printf "%.3f", d - t }')" "$T_KILL") s before it)"
# The last keep-alive may still land in the block after the kill; finality adds a block or two.
awk -v r="$REMOVED" -v s="$SEEN_GONE" -v t="$TTL" 'BEGIN { exit !(r <= t + 1 && s <= t + 3) }' ||
	fail "$VICTIM outlived its TTL: removed $REMOVED s, gone from reads $SEEN_GONE s after the kill (TTL $TTL s)"
replaced() {
	local list new
	list=$(instances "$MAIN_VALIDATOR")
	new=$(awk '{print $1}' <<<"$list" | grep -vxF -f <(printf '%s\n' "${BEFORE[@]}") | head -1)
	[ -n "$new" ] && desired_passing && NEW_ID=$new
}
NEW_ID=""
wait_until 60 "a new replica replaces $VICTIM" replaced
T_REPLACED=$(now)
show_events
ok "$NEW_ID replaced it, passing $(since "$T_KILL" "$T_REPLACED") s after the kill; the registry again lists $DESIRED:"
show_instances
sleep 1
LAST_VICTIM_TRY=$(awk -v v="$VICTIM" '$3 == v {t = $1} END {print t}' "$DIR/client.log")
ok "client since the kill: $(client_summary "$T_KILL");" \
	"its last try on $VICTIM $(since "$T_KILL" "${LAST_VICTIM_TRY:-$T_KILL}") s after the kill"
[ "$(client_count lost "$T_KILL")" = 0 ] || fail "requests went unanswered after one replica was killed"
[ "$(client_count ok "$T_REPLACED")" -gt 0 ] || fail "no answer since the replacement"
awk -v l="${LAST_VICTIM_TRY:-0}" -v g="$T_GONE" 'BEGIN { exit !(l <= g + 2.5) }' ||
	fail "the client still sent to $VICTIM $(since "$T_GONE" "$LAST_VICTIM_TRY") s after it left the registry"

# ---------------------------------------------------------------------------------------------
read -r LEADER TERM1 _ < <(election_state)
[ "$LEADER" = ctl-1 ] || fail "expected ctl-1 to lead, found $LEADER"
say "step 4: kill -9 the leading controller ctl-1 (term $TERM1): its loop and its campaign"
count_actions() { history_items prefix "$PREFIX/actions/" | grep -c . || true; }
ACTIONS_BEFORE=$(count_actions)
CTL_LEASE=$(ctl --output json elect leader "$ELECTION" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["election"]["leader"]["lease"])')
DUE=$(lease_expiry "$CTL_LEASE")
T_KILL=$(now)
kill -9 -- "-$(cat "$DIR/ctl/ctl-1.pgid")"
wait_until $((CTL_TTL + 20)) "ctl-2 takes over" leader_is ctl-2 $((TERM1 + 1))
T_TOOK=$(now)
read -r _ TERM2 _ < <(election_state)
CHANGED_MS=$(history_items election "$ELECTION" | "$PY" -c '
import json, sys
for line in sys.stdin:
    i = json.loads(line)
    if i["kind"] == "leader_changed" and i["term"] == int(sys.argv[1]):
        print(i["time_ms"], i["who"] or "the chain")' "$TERM2" | tail -1)
read -r CHANGED_MS CHANGED_BY <<<"$CHANGED_MS"
TAKEOVER=$(since "$T_KILL" "$(awk -v m="$CHANGED_MS" 'BEGIN { printf "%.3f", m / 1000 }')")
sleep 1
show_events
ok "ctl-2 leads in term $TERM2 (ctl-1 led in term $TERM1): the chain changed the leader $TAKEOVER s after the kill" \
	"(by $CHANGED_BY, when ctl-1's lease ran out: TTL $CTL_TTL s, last keep-alive finalized before the kill" \
	"$(since "$(awk -v d="$DUE" -v t="$CTL_TTL" 'BEGIN { printf "%.3f", d - t }')" "$T_KILL") s before it);" \
	"seen at the finalized block $(since "$T_KILL" "$T_TOOK") s after the kill"
awk -v r="$TAKEOVER" -v t="$CTL_TTL" 'BEGIN { exit !(r <= t + 1.5) }' ||
	fail "the takeover took $TAKEOVER s, more than the TTL ($CTL_TTL s)"
say "  what ctl-1 would write if it were still running with its old term:"
say "  \$ regchainctl --key //Alice put --fence $ELECTION:$TERM1 $PREFIX/controller 'ctl-1 term $TERM1: ...'"
if OUT=$(ctl --key //Alice put --fence "$ELECTION:$TERM1" "$PREFIX/controller" "ctl-1 term $TERM1: a deposed leader's write" 2>&1); then
	fail "the deposed leader's fenced write was accepted: $OUT"
fi
echo "    $OUT"
[[ "$OUT" == *"fenced write refused"* ]] || fail "the write failed, but not because of the fence: $OUT"
STATUS=$(ctl get "$PREFIX/controller" | tail -1)
[[ "$STATUS" == "ctl-2 term $TERM2:"* ]] || fail "$PREFIX/controller is not ctl-2's: $STATUS"
ok "refused; $PREFIX/controller is still ctl-2's: \"$STATUS\""
say "  ctl-1 is started again (as its supervisor would) and waits as a candidate"
rm -f "$DIR/ctl/ctl-1.pgid"
start_controller ctl-1
wait_until 30 "ctl-1 campaigns again" candidates_are 2
show_events
leader_is ctl-2 "$TERM2" || fail "ctl-2 no longer leads after ctl-1 came back"
desired_passing || fail "not $DESIRED replicas passing after the takeover"
ok "ctl-2 leads, ctl-1 waits; still $DESIRED replicas passing"

say "step 4b: pause the leader ctl-2 (SIGSTOP, as a long GC pause or a frozen VM would) for longer than its lease"
T_STOP=$(now)
CTL2_PGID=$(cat "$DIR/ctl/ctl-2.pgid")
kill -STOP -- "-$CTL2_PGID"
wait_until $((CTL_TTL + 20)) "ctl-1 takes over from the paused ctl-2" leader_is ctl-1 $((TERM2 + 1))
read -r _ TERM3 _ < <(election_state)
sleep 0.5
show_events
ok "ctl-1 leads in term $TERM3, $(since "$T_STOP") s after ctl-2 was paused"
EV_MARK=$(wc -l <"$DIR/events.log")
say "  ctl-2 resumes (SIGCONT), still believing it leads in term $TERM2"
kill -CONT -- "-$CTL2_PGID"
stepped_down() { tail -n +"$((EV_MARK + 1))" "$DIR/events.log" | grep -q "ctl-2: FENCED OUT"; }
wait_until 30 "ctl-2 steps down" stepped_down
wait_until 30 "ctl-2 campaigns again" candidates_are 2
sleep 1
show_events
ok "ctl-2's next write after the pause, fenced by term $TERM2, was refused; it stepped down and campaigns again"
tail -n +"$((EV_MARK + 1))" "$DIR/events.log" | grep "ctl-2: term $TERM2: started\|ctl-2: term $TERM2: stopped" &&
	fail "ctl-2 acted after its term was over"
wait_until 30 "$DESIRED replicas passing" desired_passing
ACTIONS_NOW=$(count_actions)
ok "no replica was started or stopped by the controllers' changes (actions recorded: $ACTIONS_BEFORE before, $ACTIONS_NOW now); $DESIRED passing"
[ "$ACTIONS_NOW" = "$ACTIONS_BEFORE" ] || fail "the controllers acted while the leadership changed"

# ---------------------------------------------------------------------------------------------
KNAME=${VNAMES[$((KILL_VALIDATOR - 1))]}
mapfile -t BEFORE < <(instances "$MAIN_VALIDATOR" | awk '{print $1}')
mapfile -t ON_KILLED < <(instances "$MAIN_VALIDATOR" | awk -v k="$KNAME" '$4 == k {print $1}')
say "step 5: kill the container of $KNAME's validator (podman kill: SIGKILL); sidecars connected to it: ${ON_KILLED[*]:-none}"
T_KILL=$(now)
podman kill "regchain-${KNAME,,}" 2>&1 | grep -v 'unable to get systemd connection' | sed 's/^/    /' || true
[ "$(podman inspect --format '{{.State.Running}}' "regchain-${KNAME,,}" 2>/dev/null)" = false ] ||
	fail "regchain-${KNAME,,} still runs"
ok "regchain-${KNAME,,} is down ($(since "$T_KILL") s for podman kill)"
declare -A FIN0=()
T_FIN0=$(now)
for i in 1 2 3 4; do [ "$i" = "$KILL_VALIDATOR" ] || FIN0[$i]=$(finalized_number "$i"); done
replaced_all() {
	local list left new
	list=$(instances "$MAIN_VALIDATOR")
	left=$(awk '{print $1}' <<<"$list" | grep -xF -f <(printf '%s\n' "${ON_KILLED[@]}") | grep -c . || true)
	new=$(awk '{print $1}' <<<"$list" | grep -vxF -f <(printf '%s\n' "${BEFORE[@]}") | grep -c . || true)
	[ "$left" = 0 ] && [ "$new" -ge "${#ON_KILLED[@]}" ] && desired_passing
}
if [ "${#ON_KILLED[@]}" -gt 0 ]; then
	wait_until $((TTL + 60)) "the replicas whose sidecar used $KNAME's validator are replaced" replaced_all
fi
# At least a few seconds with the validator down before finality is checked.
OBSERVE=$([ "$DEMO_SHORT" = 1 ] && echo 6 || echo 20)
sleep "$(awk -v t="$T_FIN0" -v o="$OBSERVE" -v n="$EPOCHREALTIME" 'BEGIN { d = t + o - n; printf "%.1f", (d > 0 ? d : 0) }')"
FIN_TEXT=""
for i in "${!FIN0[@]}"; do
	fin=$(finalized_number "$i") || fail "validator $i (${VNAMES[$((i - 1))]}) does not answer"
	[ "$fin" -gt "${FIN0[$i]}" ] || fail "validator $i (${VNAMES[$((i - 1))]}) no longer finalizes (#${FIN0[$i]} -> #$fin)"
	FIN_TEXT+="${FIN_TEXT:+, }${VNAMES[$((i - 1))]} #${FIN0[$i]} -> #$fin"
done
show_events
ok "the three others finalize: $FIN_TEXT in $(since "$T_FIN0") s"
ok "$DESIRED instances passing, registered through the live validators:"
show_instances
instances "$MAIN_VALIDATOR" | awk -v k="$KNAME" '$4 == k' | grep -q . && fail "an instance is still registered through $KNAME's validator"
ctl --key //Alice put "$PREFIX/probe" "written with $KNAME's validator down" >/dev/null || fail "a write failed with one validator down"
ok "a write through Alice's validator is finalized with $KNAME's down; client since the kill: $(client_summary "$T_KILL")"
[ "$(client_count lost "$T_KILL")" = 0 ] || fail "requests went unanswered after the validator was killed"
[ "$(client_count ok "$T_FIN0")" -gt 0 ] || fail "the client got no answer after the validator was killed"
if [ "$DEMO_SHORT" = 0 ]; then
	say "  $KNAME's container is started again: its validator must catch up and finalize with the others"
	T_RESTART=$(now)
	podman start "regchain-${KNAME,,}" 2>&1 | grep -v 'unable to get systemd connection' | sed 's/^/    /' || true
	caught_up() {
		local mine theirs
		mine=$(finalized_number "$KILL_VALIDATOR" 2>/dev/null) || return 1
		theirs=$(finalized_number "$MAIN_VALIDATOR") || return 1
		[ "$mine" -ge $((theirs - 2)) ] && [ "$mine" -gt "${FIN0[$MAIN_VALIDATOR]}" ]
	}
	wait_until 120 "$KNAME's validator catches up" caught_up
	ok "$KNAME's validator finalizes #$(finalized_number "$KILL_VALIDATOR") again, $(since "$T_RESTART") s after its restart"
fi

# ---------------------------------------------------------------------------------------------
say "step 6: graceful stop: the client, then the controllers (SIGTERM: the leader resigns), then the replicas one by one (SIGTERM: the sidecar deregisters)"
touch "$DIR/client.stop"
sleep 1
ok "client over the whole run: $(client_summary "$T_CLIENT")"
for name in "${CONTROLLERS[@]}"; do kill -TERM "$(cat "$DIR/ctl/$name.pgid")" 2>/dev/null || true; done
no_candidates() { candidates_are 0; }
wait_until 30 "the controllers leave the election" no_candidates
ok "the election has no candidate left: the chain removed it (a new campaign under its name would lead at a higher term)"
# One at a time: two sidecars that sign with the same account would race for its nonces.
DEREG_TEXT=""
for f in "$DIR"/replicas/*.pgid; do
	[ -e "$f" ] || continue
	id=$(basename "$f" .pgid)
	T_STOP=$(now)
	kill -TERM "$(cat "$f")" 2>/dev/null || continue
	wait_until 30 "$id stops" test ! -e "$f"
	grep -q "^deregistered $SERVICE/$id " "$DIR/replicas/$id.agent" ||
		fail "$id's sidecar did not deregister it: $(tail -1 "$DIR/replicas/$id.agent")"
	DEREG_TEXT+="${DEREG_TEXT:+, }$id $(since "$T_STOP") s"
done
empty() { [ "$(registered_count)" = 0 ]; }
wait_until 10 "the registry is empty" empty
show_events
ok "each sidecar deregistered its instance and revoked its lease on SIGTERM, then exited: $DEREG_TEXT" \
	"(a crashed one stays up to its TTL, $TTL s)"
say "  the leaders' fenced records of their actions (regchainctl history prefix $PREFIX/actions/):"
ctl history prefix "$PREFIX/actions/" | sed 's/^revision [0-9]* //; s/ time [0-9]*//' | names | sed 's/^/    /'
say "  the election's leaders (regchainctl history election $ELECTION):"
ctl history election "$ELECTION" | grep leader_changed | sed 's/^revision [0-9]* //; s/ time [0-9]*//' | names | sed 's/^/    /'

# ---------------------------------------------------------------------------------------------
say "summary: replica killed: removed by the chain $REMOVED s after the kill, gone from reads after $SEEN_GONE s (TTL $TTL s);" \
	"leader killed: ctl-2 led in term $TERM2 after $TAKEOVER s (ctl-1's term $TERM1, TTL $CTL_TTL s), the old term's write refused;" \
	"paused leader: ctl-1 in term $TERM3, ctl-2 stepped down on resuming; $KNAME's validator killed: finality, registrations and discovery went on;" \
	"client: $(client_count ok "$T_CLIENT") answered, $(client_count lost "$T_CLIENT") unanswered; graceful deregistration: $DEREG_TEXT"
say "demo passed in $((SECONDS - START)) s"
