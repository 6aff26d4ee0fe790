#!/usr/bin/env bash
# One `etcdctl check perf --load=s` through a fresh four-validator testnet, with the machine
# recorded beside it, to see what the slow moments of a loaded testnet coincide with
# (docs/results.md, "The tail under load").
#
#   scripts/stall-trace.sh [OUT]     default OUT: $CARGO_TARGET_DIR/stall-trace
#
# Records `vmstat 1` (disk writes, system time) and `pidstat -t 1` (CPU per thread) for the
# run, and the validators' logs with every transaction slower than 500 ms
# (-lregchain-client=debug). Prints check perf's verdict, then side by side the seconds in
# which more than 20 MB went to disk, the proposals that took over 50 ms, and the slow
# transactions. Needs etcdctl (etcd-client), vmstat (procps) and pidstat (sysstat). About
# two minutes; stops the testnet it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

OUT="${1:-$CARGO_TARGET_DIR/stall-trace}"
for tool in etcdctl vmstat pidstat; do
	command -v "$tool" >/dev/null || { echo "stall-trace: $tool is missing" >&2; exit 1; }
done
mkdir -p "$OUT"
cd "$REGCHAIN_ROOT"

export REGCHAIN_NODE_ARGS="${REGCHAIN_NODE_ARGS:-} -lregchain-client=debug"
trap 'scripts/testnet.sh stop >/dev/null' EXIT
scripts/testnet.sh --etcd --detach >"$OUT/testnet.log"
sleep 15
pidstat -t -u -h 1 70 >"$OUT/pidstat.log" 2>&1 &
vmstat -t 1 70 >"$OUT/vmstat.log" 2>&1 &
ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:2379,127.0.0.1:2380,127.0.0.1:2381,127.0.0.1:2382 \
	check perf --load=s >"$OUT/check-perf.log" 2>&1 || true
tr '\r' '\n' <"$OUT/check-perf.log" | grep -E '^(PASS|FAIL|Slowest|Stddev|Throughput)' || true
wait
scripts/testnet.sh stop >/dev/null
trap - EXIT
cp "${REGCHAIN_TESTNET_DIR:-/tmp/regchain-testnet}"/validator*.log "$OUT/"

echo "--- seconds with more than 20 MB written (vmstat: time, MB out, % system)"
awk '$10 ~ /^[0-9]+$/ && $10 > 20000 { printf "%s  %d MB  %s %%sy\n", $NF, $10 / 1024, $14 }' "$OUT/vmstat.log"
echo "--- proposals over 50 ms (time, ms)"
grep -h "Prepared block" "$OUT"/validator*.log |
	sed -E 's/^[0-9-]+ ([0-9:.]+) .*proposing at [0-9]+ \(([0-9]+) ms\).*/\1 \2/' | awk '$2 > 50' | sort
echo "--- transactions over 500 ms (time, ms)"
grep -h "slow transaction" "$OUT"/validator*.log |
	sed -E 's/^[0-9-]+ ([0-9:.]+) .*slow transaction, ([0-9]+) ms.*/\1 \2/' | sort
echo "stall-trace: logs, vmstat.log and pidstat.log in $OUT"
