#!/usr/bin/env bash
# Where a four-validator testnet spends its CPU, at rest and under etcdctl check perf's load.
#
#   scripts/profile.sh [--load s|m|l] [--seconds N] [--out DIR]
#
# Starts `scripts/testnet.sh --etcd` (which wipes $REGCHAIN_TESTNET_DIR), records every CPU
# with `perf record` (call graphs by DWARF unwinding) for N seconds at rest (default 10), then
# for N seconds while `etcdctl check perf --load=LOAD` (default l) writes through the four
# validators' etcd APIs, stops the testnet, and prints the split of `scripts/cpu-split.py` by
# operation and by component. Recordings and tables go to DIR (default
# $CARGO_TARGET_DIR/profile). Needs perf (Debian `linux-perf`), etcdctl (`etcd-client`) and
# root or kernel.perf_event_paranoid <= 1. About 2 minutes. The figures are in
# docs/results.md, "Where the CPU goes".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

load=l seconds=10 out="$CARGO_TARGET_DIR/profile"
while [ $# -gt 0 ]; do
	case "$1" in
		--load) load=$2; shift 2 ;;
		--seconds) seconds=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		*) echo "usage: profile.sh [--load s|m|l] [--seconds N] [--out DIR]" >&2; exit 2 ;;
	esac
done
for tool in perf etcdctl; do
	command -v "$tool" >/dev/null || { echo "profile: $tool is missing (apt-get install linux-perf etcd-client)" >&2; exit 1; }
done
mkdir -p "$out"
hz=149
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

cleanup() { "$here/testnet.sh" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$here/testnet.sh" --etcd --detach >"$out/testnet.log"
sleep 15 # past start-up: peers connected, GRANDPA finalizing

record() { # record NAME
	echo "profile: recording $1 for ${seconds}s"
	perf record -e cpu-clock -a -g --call-graph dwarf,16384 -F "$hz" -o "$out/$1.data" \
		-- sleep "$seconds" >"$out/$1.record.log" 2>&1
}
split() { # split NAME
	perf script --no-inline -F comm,tid,period,ip,sym,dso -i "$out/$1.data" 2>/dev/null |
		python3 "$here/cpu-split.py" --seconds "$seconds" --cpus "$(nproc)" --hz "$hz" \
			--json "$out/$1.json" >"$out/$1.md"
	echo "== $1 =="
	cat "$out/$1.md"
	echo
}

record rest
endpoints=127.0.0.1:2379,127.0.0.1:2380,127.0.0.1:2381,127.0.0.1:2382
echo "profile: etcdctl check perf --load=$load through the four validators"
ETCDCTL_API=3 timeout 180 etcdctl --endpoints="$endpoints" check perf --load="$load" \
	>"$out/check-perf.log" 2>&1 &
load_pid=$!
sleep 20 # into the load's steady state
record load
wait "$load_pid" || echo "profile: check perf did not pass (its output: $out/check-perf.log)"
cleanup
split rest
split load
