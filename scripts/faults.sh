#!/usr/bin/env bash
# Fault tests: a four-validator regchain (Alice, Bob, Charlie, Dave) under etcd write load,
# with one fault injected per test (docs/faults.md).
#
#   scripts/faults.sh [--quick] [--keep] [--reports DIR] [TEST...]
#   scripts/faults.sh --list
#
# TEST is one of (all of them, in this order, by default):
#   one-down      kill -9 one validator under load, restart it
#   two-down      kill -9 two validators: finality and acknowledgements stop; restart them
#   partition     each validator in its own network namespace; cut one off, heal
#   crash-all     kill -9 all four at once, restart: same finalized blocks and state roots
#   equivocation  a second node with Alice's session keys authors in her slots
#   byzantine     a validator with a tampered runtime puts a non-member's transaction in its blocks
#   censor        one validator's pool takes no transaction; latency with and without it
#   clock-skew    one validator's clock 2 s ahead (libfaketime)
#
#   --quick        the short form, run in CI (shorter phases, lighter load)
#   --keep         keep each test's directory (node logs, databases, writes) under the run
#                  directory, and the run directory itself
#   --reports DIR  where the reports go (default /tmp/regchain-faults/reports, or
#                  $FAULTS_REPORT_DIR): TEST.json and TEST.md per test, summary.md and
#                  summary.json for the run
#
# Every test starts its own validators from a fresh chain, injects its fault, checks what must
# hold, and writes its report: what was injected, what was observed, how many puts were sent,
# acknowledged and read back. Each is bounded (FAULTS_TEST_TIMEOUT seconds, default 600 quick
# and 1800 full) and removes what it started (processes by pid, network namespaces, with their
# veth pairs, bridge and iptables rules) on exit, failure or Ctrl-C. The exit status is non-zero
# if any test failed.
#
# Needs root (network namespaces), the release binaries in $CARGO_TARGET_DIR/release (it never
# builds), etcdctl (etcd-client), faketime, zstd, iproute2, iptables and curl (scripts/setup.sh
# installs them). Ports, on 127.0.0.1 (the partition test's nodes use the same ports inside
# their namespaces): validator i (1-5) JSON-RPC 31943+i, P2P 31332+i, Prometheus 31614+i,
# etcd 31378+i, below the kernel's ephemeral ports. Work directory (chain spec, databases, logs; removed at exit unless --keep):
# $FAULTS_WORK_DIR, by default /dev/shm/regchain-faults (a tmpfs), else /tmp/regchain-faults.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

ALL=(one-down two-down partition crash-all equivocation byzantine censor clock-skew)
QUICK=0
KEEP=0
# The nodes' databases and logs go to a tmpfs when there is one: other jobs' disk traffic (and,
# on this machine, ext4's discard when a test's files are deleted: up to 40 s) stays out of the
# timings. A kill -9 loses nothing more on tmpfs than on disk: only power loss would differ.
if [ -z "${FAULTS_WORK_DIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	WORK=/dev/shm/regchain-faults
else
	WORK="${FAULTS_WORK_DIR:-/tmp/regchain-faults}"
fi
REPORTS="${FAULTS_REPORT_DIR:-/tmp/regchain-faults/reports}"
TESTS=()
while [ $# -gt 0 ]; do
	case "$1" in
		--quick) QUICK=1; shift ;;
		--keep) KEEP=1; shift ;;
		--reports) REPORTS="${2:?--reports takes a directory}"; shift 2 ;;
		--list) printf '%s\n' "${ALL[@]}"; exit 0 ;;
		-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		-*) echo "faults: unknown option $1 (scripts/faults.sh --help)" >&2; exit 2 ;;
		*)
			[[ " ${ALL[*]} " == *" $1 "* ]] || { echo "faults: unknown test $1 (one of: ${ALL[*]})" >&2; exit 2; }
			TESTS+=("$1")
			shift
			;;
	esac
done
[ "${#TESTS[@]}" -gt 0 ] || TESTS=("${ALL[@]}")
LIMIT="${FAULTS_TEST_TIMEOUT:-$([ "$QUICK" = 1 ] && echo 600 || echo 1800)}"

START=$SECONDS
say() { printf '[faults %4ds] %s\n' $((SECONDS - START)) "$*"; }
die() { say "FAILED: $*" >&2; exit 1; }

# Preflight.
[ "$(id -u)" = 0 ] || die "run as root: the partition test creates network namespaces"
[ -x "$REGCHAIN_NODE" ] || die "missing $REGCHAIN_NODE: build it first (scripts/test.sh or cargo build --release)"
for tool in etcdctl ip iptables curl ss timeout python3 zstd; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (scripts/setup.sh installs it)"
done
[ -r /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || [ -n "${FAKETIME_LIB:-}" ] ||
	[[ " ${TESTS[*]} " != *" clock-skew "* ]] || die "libfaketime is missing (apt-get install faketime; scripts/setup.sh)"

mkdir -p "$WORK" "$REPORTS"
RUN_DIR=$(mktemp -d "$WORK/run.XXXXXX")
NS_PREFIX="rcf$$"
CURRENT=""
cleanup() {
	local rc=$? ns pid
	trap - EXIT INT TERM
	set +e
	if [ -n "$CURRENT" ]; then
		kill -TERM "$CURRENT" 2>/dev/null
		wait "$CURRENT" 2>/dev/null
	fi
	# A test killed before its own clean-up (its time limit, kill -9) may leave nodes or
	# namespaces: find them by this run's directory and namespace prefix.
	for pid in $(pgrep -f -- "$RUN_DIR/" 2>/dev/null); do
		[ "$pid" != $$ ] && kill -9 "$pid" 2>/dev/null
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS_PREFIX-"); do ip netns del "$ns"; done
	if [ "$KEEP" = 1 ]; then
		say "kept $RUN_DIR"
	else
		rm -rf "$RUN_DIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "$("$REGCHAIN_NODE" --version), $(etcdctl version | head -1), $([ "$QUICK" = 1 ] && echo quick || echo full) form;" \
	"tests: ${TESTS[*]}; reports in $REPORTS"
unset FAULTS_TEST
source "$REGCHAIN_ROOT/scripts/faults/lib.sh" # faults_prepare_chain, $PYTHON
# The checker first: it must fail on what each test counts on it to catch.
"$PYTHON" "$CHAIN_PY" selftest || die "the write checker (scripts/faults/chain.py verify) failed its self-test"
t=$SECONDS
faults_prepare_chain "$RUN_DIR/chain" >"$RUN_DIR/prepare.log" 2>&1 || die "preparing the chain spec and keys: $(tail -3 "$RUN_DIR/prepare.log")"
say "chain spec and keystores ready in $((SECONDS - t)) s ($RUN_DIR/chain)"

declare -A STATUS=() TOOK=()
for test in "${TESTS[@]}"; do
	rm -f "$REPORTS/$test.json" "$REPORTS/$test.md"
	say "---- $test"
	t=$SECONDS
	FAULTS_TEST=$test FAULTS_RUN_DIR=$RUN_DIR FAULTS_REPORT_DIR=$REPORTS FAULTS_QUICK=$QUICK FAULTS_KEEP=$KEEP \
		FAULTS_NS_PREFIX=$NS_PREFIX timeout --signal=TERM --kill-after=30 "$LIMIT" \
		bash "$REGCHAIN_ROOT/scripts/faults/$test.sh" &
	CURRENT=$!
	rc=0
	wait "$CURRENT" || rc=$?
	CURRENT=""
	TOOK[$test]=$((SECONDS - t))
	if [ "$rc" = 0 ]; then
		STATUS[$test]=passed
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		STATUS[$test]="failed (time limit of $LIMIT s)"
	else
		STATUS[$test]="failed (exit status $rc)"
	fi
	say "---- $test: ${STATUS[$test]} in ${TOOK[$test]} s"
done

# The run's summary: each test's status and its main figures.
args=()
for test in "${TESTS[@]}"; do args+=("$test" "${STATUS[$test]}" "${TOOK[$test]}"); done
"$PYTHON" - "$REPORTS" "$([ "$QUICK" = 1 ] && echo quick || echo full)" $((SECONDS - START)) "${args[@]}" <<'PY'
import json, os, sys
reports, mode, total, rest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
rows, doc = [], {"mode": mode, "duration_s": total, "tests": []}
for k in range(0, len(rest), 3):
    test, status, took = rest[k], rest[k + 1], int(rest[k + 2])
    path = os.path.join(reports, f"{test}.json")
    r = json.load(open(path)) if os.path.exists(path) else {}
    w = r.get("figures", {}).get("writes", {})
    doc["tests"].append({"test": test, "status": status, "duration_s": took, "failure": r.get("failure"),
                         "writes": {x: w.get(x) for x in ("sent", "acked", "found")}})
    rows.append(f"| [{test}]({test}.md) | {status} | {took} | {w.get('sent', '-')} | {w.get('acked', '-')} | {w.get('found', '-')} |"
                + (f" {r['failure']} |" if r.get("failure") else " |"))
json.dump(doc, open(os.path.join(reports, "summary.json"), "w"), indent=2)
md = [f"# regchain fault tests ({mode} form): {total} s", "",
      "| test | status | s | puts sent | acknowledged | acknowledged and read back on every node asked (each report's read_back_through) | failure |",
      "|---|---|---|---|---|---|---|"] + rows
open(os.path.join(reports, "summary.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md[2:]))
PY
failed=0
for test in "${TESTS[@]}"; do [ "${STATUS[$test]}" = passed ] || failed=$((failed + 1)); done
say "$((${#TESTS[@]} - failed)) of ${#TESTS[@]} tests passed in $((SECONDS - START)) s; reports in $REPORTS"
[ "$failed" = 0 ]
