#!/usr/bin/env bash
# regchain beside etcd 3.4 on this machine: latency, throughput and resources (docs/results.md).
#
#   scripts/bench.sh            the full run (about 40 minutes on 2 cores, and 60 s more for each
#                               rate that passes its ramp step but not the 60 s hold): every
#                               workload at 1, 10, 100 and 1,000 in flight, the throughput ramp
#                               and the highest rate held for 60 s,
#                               `etcdctl check perf --load=s` three times against each system;
#                               results and plots go to docs/results/
#   scripts/bench.sh --quick    a few seconds a workload, no check perf (run by scripts/test.sh
#                               to keep the harness working); results go to
#                               $CARGO_TARGET_DIR/bench-quick unless --out is given
#   scripts/bench.sh [--quick] [regchain-bench options...]   e.g. --systems etcd3,regchain,
#                               --concurrency 1,100, --seconds 30 (see regchain-bench --help)
#
# The harness starts and stops every system itself: etcd with one member and with three
# (Debian's etcd-server), and four regchain validators serving the etcd API, all on loopback
# ports it picks. It builds the workspace first if needed (release profile, as scripts/test.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REGCHAIN_ROOT"

out=docs/results
args=()
for arg in "$@"; do
	case "$arg" in
		--quick) out="$CARGO_TARGET_DIR/bench-quick"; args+=("$arg") ;;
		*) args+=("$arg") ;;
	esac
done
# An explicit --out wins.
default_out=(--out "$out")
for ((i = 0; i < ${#args[@]}; i++)); do
	case "${args[$i]}" in
		--out) out="${args[$((i + 1))]}"; default_out=() ;;
		--out=*) out="${args[$i]#--out=}"; default_out=() ;;
	esac
done

command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
	{ echo "bench: etcd and etcdctl are missing (scripts/setup.sh installs them)" >&2; exit 1; }
bench="$CARGO_TARGET_DIR/release/regchain-bench"
[ -x "$bench" ] && [ -x "$REGCHAIN_NODE" ] || build_release

# A run in which a workload failed still draws what it measured, then fails.
status=0
"$bench" "${default_out[@]}" "${args[@]}" || status=$?
# Debian's python3 holds python3-matplotlib (scripts/setup.sh), whatever python3 comes first.
if [ -f "$out/results.json" ]; then
	/usr/bin/python3 bench/plot.py "$out"
fi
exit "$status"
