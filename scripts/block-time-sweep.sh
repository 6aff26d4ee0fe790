#!/usr/bin/env bash
# The block time, swept: latency at rest, etcdctl check perf and CPU at rest for each value.
#
#   scripts/block-time-sweep.sh [--seconds 45] [--out DIR] [MS ...]     (default 125 500 250)
#
# The block time is the runtime's constant (MILLISECS_PER_BLOCK), so each value is another
# build: `REGCHAIN_BLOCK_MS=MS cargo build --bin regchain-node`, kept as
# $CARGO_TARGET_DIR/block-time/regchain-node-MS (a copy already there is reused; delete it to
# build again; 250 ms is the default build). For each, a fresh four-validator testnet (scripts/testnet.sh --etcd, default
# GRANDPA settings) settles for 10 s; its four validators' CPU is read over 20 s at rest; then
# regchain-probe submits one remark every 500 ms for --seconds and reports submission to
# finality; then `etcdctl check perf --load=s` runs once through the four etcd APIs.
#
# Output: DIR (default docs/results) gets block-time-sweep.md, and check perf's output for each
# value as block-time-check-perf-MS.log. The target directory is left
# with the default (250 ms) node built again. About 3 minutes per value, plus its build (about
# 4 minutes here). Needs etcdctl and curl.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

seconds=45
out="$REGCHAIN_ROOT/docs/results"
values=()
while [ $# -gt 0 ]; do
	case "$1" in
		--seconds) seconds="$2"; shift 2 ;;
		--out) out="$2"; shift 2 ;;
		-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		[0-9]*) values+=("$1"); shift ;;
		*) echo "block-time-sweep: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
# 250 ms, the default build, last: the build after the sweep then has nothing to do.
[ "${#values[@]}" -gt 0 ] || values=(125 500 250)
for ms in "${values[@]}"; do
	[[ "$ms" =~ ^[0-9]+$ ]] && [ "$ms" -ge 50 ] && [ "$ms" -le 1000 ] ||
		{ echo "block-time-sweep: $ms is not a block time from 50 to 1000 ms" >&2; exit 2; }
done
command -v etcdctl >/dev/null || { echo "block-time-sweep: etcdctl is missing (scripts/setup.sh)" >&2; exit 2; }

export REGCHAIN_TESTNET_DIR="${REGCHAIN_TESTNET_DIR:-/tmp/regchain-sweep}"
TESTNET="$REGCHAIN_ROOT/scripts/testnet.sh"
nodes="$CARGO_TARGET_DIR/block-time"
mkdir -p "$out" "$nodes"
report="$out/block-time-sweep.md"
tmp=$(mktemp -d)
trap '"$TESTNET" stop >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
log() { echo "block-time-sweep: $*" >&2; }

build_node() { # build_node [MS]: the node with that block time (none: the default)
	(cd "$REGCHAIN_ROOT" && env ${1:+REGCHAIN_BLOCK_MS=$1} \
		cargo build --release --workspace --locked --bin regchain-node)
}

cpu_ticks() { # the testnet's validators' CPU time, in clock ticks
	local total=0
	while read -r pid; do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
	done <"$REGCHAIN_TESTNET_DIR/pids"
	echo "$total"
}

{
	echo "# Block time (\`scripts/block-time-sweep.sh\`)"
	echo
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, four validators on loopback, GRANDPA voting for the best block and gossiping every 20 ms."
	echo "Probe: one signed remark every 500 ms for $seconds s, submit → finalized. check perf: \`etcdctl check perf --load=s\` once, through the four validators' etcd APIs."
	echo
	echo "| block time (ms) | blocks/min | submit → finalized p50 / p90 / max (ms) | check perf s: writes/s, slowest, stddev, errors | CPU at rest, four validators (% of one core) |"
	echo "|---|---|---|---|---|"
} >"$report"

for ms in "${values[@]}"; do
	node="$nodes/regchain-node-$ms"
	if [ ! -x "$node" ]; then
		log "building the node with $ms ms blocks"
		if [ "$ms" = 250 ]; then build_node; else build_node "$ms"; fi
		cp "$CARGO_TARGET_DIR/release/regchain-node" "$node"
	fi
	log "$ms ms blocks: starting the testnet"
	REGCHAIN_NODE="$node" "$TESTNET" --etcd --detach >/dev/null
	sleep 10
	before=$(cpu_ticks)
	sleep 20
	rest=$(python3 -c "print(f'{100 * ($(cpu_ticks) - $before) / $(getconf CLK_TCK) / 20:.0f}')")
	"$CARGO_TARGET_DIR/release/regchain-probe" --rpc-port 9944 --seconds "$seconds" --interval-ms 500 \
		>"$tmp/probe" 2>&1 || log "the probe failed: $(tail -1 "$tmp/probe")"
	cat "$tmp/probe" >&2
	log "$ms ms blocks: etcdctl check perf --load=s"
	timeout --signal=INT 150 env ETCDCTL_API=3 etcdctl \
		--endpoints=127.0.0.1:2379,127.0.0.1:2380,127.0.0.1:2381,127.0.0.1:2382 \
		check perf --load=s >"$tmp/perf" 2>&1 || true
	tr '\r' '\n' <"$tmp/perf" | grep -Ev '^ *[0-9]+ / [0-9]+' >"$out/block-time-check-perf-$ms.log" || true
	python3 - "$tmp/probe" "$tmp/perf" "$ms" "$rest" >>"$report" <<'PY'
import re, sys
probe, perf = open(sys.argv[1]).read(), open(sys.argv[2]).read().replace("\r", "\n")
ms, rest = sys.argv[3], sys.argv[4]
def grab(text, pattern):
    m = re.search(pattern, text)
    return m.groups() if m else None
lat = grab(probe, r"submit_to_final_ms\s+p50 (\S+) p90 (\S+) max (\S+)")
bpm = grab(probe, r"blocks_per_minute\s+(\S+)")
rate = grab(perf, r"Throughput (?:is|too low:) (\d+) writes/s")
slowest = grab(perf, r"Slowest request took (?:too long: )?([\d.]+)s")
stddev = grab(perf, r"Stddev (?:is|too high: )([\d.]+)s")
errors = sum(int(n) for n in re.findall(r"FAIL: ERROR\(.*\) -> (\d+)", perf))
verdict = "pass" if re.search(r"^PASS$", perf, re.M) else "fail"
check = (f"{rate[0] if rate else '?'}/s, {float(slowest[0]) * 1000:.0f} ms, "
         f"{float(stddev[0]) * 1000:.0f} ms, {errors} ({verdict})") if slowest and stddev else "no result"
print(f"| {ms} | {bpm[0] if bpm else '-'} | {' / '.join(lat) if lat else 'failed'} | {check} | {rest} |")
PY
	"$TESTNET" stop >/dev/null
done

log "building the default node again"
build_node
log "written $report"
cat "$report"
