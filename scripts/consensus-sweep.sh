#!/usr/bin/env bash
# Consensus settings and full blocks, on a four-validator loopback testnet (scripts/testnet.sh).
#
#   scripts/consensus-sweep.sh [--seconds 45] [--no-full-blocks] [--out DIR] [LAG:GOSSIP_MS ...]
#
# Part 1, GRANDPA settings: for each LAG:GOSSIP_MS (default 0:20 0:50 0:100 1:20 2:20 2:333), a
# fresh testnet whose validators run with --grandpa-vote-lag LAG --grandpa-gossip-ms GOSSIP_MS
# settles for 10 s, then regchain-probe submits one remark every 500 ms for --seconds and
# reports submission-to-finality latency, finality lag and block rate. 0:20 is regchain's
# default; 2:333 is Substrate's template (vote 2 blocks behind the best, gossip every 333 ms).
# The block time is the runtime's (250 ms): changing it means another runtime build, so it is
# not swept here.
#
# Part 2, full blocks (--no-full-blocks skips it): a fresh testnet with the default settings and
# the etcd API (testnet.sh --etcd), loaded by `etcdctl check perf --load=l` (1,000 clients, 60 s;
# stopped after 150 s at most) spread over the four validators. scripts/block-stats.py then reports, for the
# blocks made under load: registry writes and extrinsics per block, the weight they used, how
# long their authors took to build them and why they stopped (deadline, weight, pool empty),
# and how long the other validators took to verify and import them (Prometheus).
#
# Output: DIR (default docs/results) gets consensus-sweep.md; the per-block figures go to
# DIR/full-blocks.json. Uses the testnet's ports (RPC 9944+, P2P 30333+, Prometheus 9615+, etcd
# 2379+) and $REGCHAIN_TESTNET_DIR (default /tmp/regchain-sweep, wiped at each start); stops the
# testnet at exit. Needs the release binaries (scripts/test.sh or scripts/testnet.sh builds
# them), etcdctl and curl.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

seconds=45
full_blocks=1
out="$REGCHAIN_ROOT/docs/results"
settings=()
while [ $# -gt 0 ]; do
	case "$1" in
		--seconds) seconds="$2"; shift 2 ;;
		--no-full-blocks) full_blocks=0; shift ;;
		--out) out="$2"; shift 2 ;;
		-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		[0-9]*:[0-9]*) settings+=("$1"); shift ;;
		*) echo "consensus-sweep: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ "${#settings[@]}" -gt 0 ] || settings=(0:20 0:50 0:100 1:20 2:20 2:333)
for s in "${settings[@]}"; do
	[[ "$s" =~ ^[0-9]+:[1-9][0-9]*$ ]] || { echo "consensus-sweep: $s is not LAG:GOSSIP_MS" >&2; exit 2; }
done
[ -x "$CARGO_TARGET_DIR/release/regchain-probe" ] || { echo "consensus-sweep: build first (scripts/test.sh)" >&2; exit 2; }
command -v etcdctl >/dev/null || [ "$full_blocks" = 0 ] || { echo "consensus-sweep: etcdctl is missing (scripts/setup.sh)" >&2; exit 2; }

export REGCHAIN_TESTNET_DIR="${REGCHAIN_TESTNET_DIR:-/tmp/regchain-sweep}"
TESTNET="$REGCHAIN_ROOT/scripts/testnet.sh"
mkdir -p "$out"
report="$out/consensus-sweep.md"
tmp=$(mktemp -d)
trap '"$TESTNET" stop >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

log() { echo "consensus-sweep: $*" >&2; }

best_number() {
	curl -sf -H 'Content-Type: application/json' \
		-d '{"jsonrpc":"2.0","id":1,"method":"chain_getHeader","params":[]}' http://127.0.0.1:9944 |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["result"]["number"], 16))'
}

scrape() { # scrape DIR: every validator's Prometheus text into DIR
	mkdir -p "$1"
	for i in 1 2 3 4; do curl -sf "http://127.0.0.1:$((9614 + i))/metrics" >"$1/validator$i.prom"; done
}

{
	echo "# Consensus settings and full blocks (\`scripts/consensus-sweep.sh\`)"
	echo
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, regchain-node $("$REGCHAIN_NODE" --version | awk '{print $2}'), four validators on loopback, 250 ms blocks."
	echo
	echo "## GRANDPA settings"
	echo
	echo "regchain-probe: one signed remark every 500 ms for $seconds s, submitted to validator 1."
	echo
	echo "| vote lag | gossip (ms) | submit → finalized p50 / p90 / max (ms) | finality lag avg / max (blocks) | blocks/min | finalized |"
	echo "|---|---|---|---|---|---|"
} >"$report"

for s in "${settings[@]}"; do
	lag=${s%%:*} gossip=${s##*:}
	log "vote lag $lag, gossip $gossip ms: starting the testnet"
	REGCHAIN_NODE_ARGS="--grandpa-vote-lag $lag --grandpa-gossip-ms $gossip" "$TESTNET" --detach >/dev/null
	sleep 10
	if "$CARGO_TARGET_DIR/release/regchain-probe" --rpc-port 9944 --seconds "$seconds" --interval-ms 500 >"$tmp/probe" 2>&1; then :; else
		log "the probe failed: $(tail -1 "$tmp/probe")"
	fi
	cat "$tmp/probe" >&2
	python3 - "$tmp/probe" "$lag" "$gossip" >>"$report" <<'PY'
import re, sys
text, lag, gossip = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
def grab(pattern):
    m = re.search(pattern, text)
    return m.groups() if m else None
lat = grab(r"submit_to_final_ms\s+p50 (\S+) p90 (\S+) max (\S+) \((\d+) of (\d+)")
lagr = grab(r"finality_lag_blocks\s+avg (\S+) max (\S+)")
bpm = grab(r"blocks_per_minute\s+(\S+)")
print(f"| {lag} | {gossip} | {' / '.join(lat[:3]) if lat else 'failed'} | "
      f"{' / '.join(lagr) if lagr else '-'} | {bpm[0] if bpm else '-'} | "
      f"{lat[3] + ' of ' + lat[4] if lat else '-'} |")
PY
	"$TESTNET" stop >/dev/null
done

if [ "$full_blocks" = 1 ]; then
	log "full blocks: a testnet with the etcd API, loaded by etcdctl check perf --load=l (60 s)"
	"$TESTNET" --etcd --detach >/dev/null
	sleep 10
	scrape "$tmp/before"
	from=$(($(best_number) + 1))
	timeout --signal=INT 150 \
		env ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:2379,127.0.0.1:2380,127.0.0.1:2381,127.0.0.1:2382 \
		--command-timeout=30s check perf --load=l >"$tmp/perf" 2>&1 || true
	to=$(best_number)
	# Let the backlog drain, so that the last loaded blocks are imported everywhere.
	sleep 5
	scrape "$tmp/after"
	{
		echo
		echo "## Full blocks"
		echo
		echo "\`etcdctl check perf --load=l\` (1,000 clients, 60 s) through the four validators' etcd API,"
		echo "with the default settings (vote lag 0, gossip 20 ms); blocks #$from..#$to. \`scripts/block-stats.py\`:"
		echo
		python3 "$REGCHAIN_ROOT/scripts/block-stats.py" --rpc-port 9944 --logs "$REGCHAIN_TESTNET_DIR" \
			--from "$from" --to "$to" --metrics "$tmp/before" "$tmp/after" --json "$out/full-blocks.json"
		echo
		echo "etcdctl's own verdict (it expects etcd's throughput, so it fails here):"
		echo
		echo '```'
		tr '\r' '\n' <"$tmp/perf" | grep -v '^\s*$' | grep -v '^ *[0-9]* / [0-9]*' | tail -8
		echo '```'
	} >>"$report"
	"$TESTNET" stop >/dev/null
fi
log "wrote $report"
cat "$report"
