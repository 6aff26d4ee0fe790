#!/usr/bin/env bash
# A long run of the four-validator testnet, at rest or under a steady light load, sampled every
# minute: how memory, open files and disk grow over hours (docs/results.md, "A validator over
# hours"). Run by hand, never by CI.
#
#   scripts/soak.sh [--hours 6] [--minutes M] [--rate 0] [--interval 60] [--out DIR]
#                   [--port-shift 0]
#
#   --hours, --minutes  how long to run (--minutes overrides --hours; for a quick try)
#   --rate N            N puts a second through validator 1's etcd API (real etcdctl, keys
#                       soak/0 .. soak/99 overwritten in turn); 0, the default, is at rest
#   --interval S        seconds between samples
#   --out DIR           where samples.csv, summary.md and the PNG curves go
#                       (default docs/results/soak-DATE-rest or -rateN)
#   --port-shift S      add S to every port of the testnet (scripts/testnet.sh), to run two
#                       soaks side by side, for example at rest and under load
#
# Each sample, for each validator: resident memory split into anonymous (the heap, the
# allocator's arenas, stacks) and file-backed (ParityDb's mapped files, reclaimable by the
# kernel), threads and open files; validator 1's disk split by database column; best and
# finalized heights; puts acknowledged and failed since the last sample. $REGCHAIN_NODE_ARGS
# passes options to every validator, as for scripts/testnet.sh. The testnet lives in
# $REGCHAIN_TESTNET_DIR (default /tmp/regchain-soak-rest or -rateN) and is stopped at the end,
# whatever happens.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

die() { echo "soak: $*" >&2; exit 1; }

minutes=360 rate=0 interval=60 out="" shift_by=0
while [ $# -gt 0 ]; do
	case "$1" in
		--hours) minutes=$(($2 * 60)); shift 2 ;;
		--minutes) minutes="$2"; shift 2 ;;
		--rate) rate="$2"; shift 2 ;;
		--interval) interval="$2"; shift 2 ;;
		--out) out="$2"; shift 2 ;;
		--port-shift) shift_by="$2"; shift 2 ;;
		*) die "unknown option $1 (usage: soak.sh [--hours H] [--minutes M] [--rate N] [--interval S] [--out DIR] [--port-shift S])" ;;
	esac
done
[[ "$minutes" =~ ^[0-9]+$ && "$minutes" -ge 1 ]] || die "--hours/--minutes take a positive whole number"
[[ "$rate" =~ ^[0-9]+$ && "$rate" -le 200 ]] || die "--rate takes 0 to 200 puts a second"
[[ "$interval" =~ ^[0-9]+$ && "$interval" -ge 5 ]] || die "--interval takes 5 seconds or more"
[[ "$shift_by" =~ ^[0-9]+$ ]] || die "--port-shift takes a whole number"
[ "$rate" = 0 ] || command -v etcdctl >/dev/null || die "--rate needs etcdctl (scripts/setup.sh installs it)"
label=$([ "$rate" = 0 ] && echo rest || echo "rate$rate")
out="${out:-$REGCHAIN_ROOT/docs/results/soak-$(date -u +%F)-$label}"
mkdir -p "$out"
out=$(cd "$out" && pwd)

export REGCHAIN_TESTNET_DIR="${REGCHAIN_TESTNET_DIR:-/tmp/regchain-soak-$label}"
export REGCHAIN_TESTNET_PORT_SHIFT="$shift_by"
DIR="$REGCHAIN_TESTNET_DIR"
build_release

load_pid=""
cleanup() {
	local code=$?
	[ "$code" = 0 ] || echo "soak: ended with status $code; samples so far in $out" >&2
	[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
	"$REGCHAIN_ROOT/scripts/testnet.sh" stop >/dev/null || true
}
trap cleanup EXIT
"$REGCHAIN_ROOT/scripts/testnet.sh" --etcd --detach >/dev/null
mapfile -t pids <"$DIR/pids"
sleep 10

# The light load: each second, $rate puts in flight at once, each bounded by etcdctl's own
# timeout; every outcome is appended to a log the sampler counts.
acks="$out/puts.log"
: >"$acks"
if [ "$rate" != 0 ]; then
	(
		n=0
		while true; do
			for _ in $(seq "$rate"); do
				key="soak/$((n % 100))"
				n=$((n + 1))
				(etcdctl --endpoints="127.0.0.1:$((2379 + shift_by))" --command-timeout=10s put "$key" "value-$n" \
					>/dev/null 2>&1 && echo ok || echo failed) >>"$acks" &
			done
			sleep 1
		done
	) &
	load_pid=$!
fi

# Database columns of sc-client-db (its `columns` module), as validator 1's disk is reported.
columns=(meta state state_meta key_lookup header body justifications col7 aux offchain col10
	transaction body_index)
db="$DIR/validator1/chains"

metric() { # metric PORT NAME LABEL -> the value of a Prometheus gauge, or empty
	{ curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" || true; } |
		awk -v n="$2" -v l="$3" '$1 ~ "^"n"[{]" && index($1, l) { v = int($2) } END { print v }'
}

header="minute"
for i in $(seq ${#pids[@]}); do
	header+=",v${i}_anon_kib,v${i}_file_kib,v${i}_threads,v${i}_fds,v${i}_best,v${i}_finalized"
done
for c in "${columns[@]}"; do header+=",disk_${c}_kib"; done
header+=",disk_total_kib,puts_ok,puts_failed"
echo "$header" >"$out/samples.csv"

echo "soak: $minutes min, ${rate} puts/s, sampling every ${interval}s into $out (Ctrl-C ends it early, still drawn)"
# An early stop (Ctrl-C, kill) still takes a last sample and draws what was measured.
stopping=0
trap 'stopping=1' INT TERM
start=$(date +%s)
counted_ok=0 counted_failed=0 status=0
while true; do
	elapsed=$(($(date +%s) - start))
	row="$(awk -v s="$elapsed" 'BEGIN { printf "%.1f", s / 60 }')"
	for i in $(seq ${#pids[@]}); do
		pid=${pids[$((i - 1))]}
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "soak: validator $i (pid $pid) stopped; see $DIR/validator$i.log" >&2
			status=1
			break 2
		fi
		row+=",$(awk '/^RssAnon/ { a = $2 } /^RssFile/ { f = $2 } /^Threads/ { t = $2 }
			END { print a "," f "," t }' "/proc/$pid/status")"
		row+=",$(ls "/proc/$pid/fd" | wc -l)"
		port=$((9614 + shift_by + i))
		row+=",$(metric $port substrate_block_height best),$(metric $port substrate_block_height finalized)"
	done
	# One walk of the database: ParityDb names its files index_CC_* and table_CC_*, CC the column.
	row+=",$(find "$db" -name '*_[0-9][0-9]_*' -printf '%f %k\n' 2>/dev/null |
		awk -v n=${#columns[@]} '{ split($1, p, "_"); s[p[2] + 0] += $2 }
			END { for (c = 0; c < n; c++) printf "%s%d", (c ? "," : ""), s[c] }')"
	row+=",$(du -sk "$db" | cut -f1)"
	ok=$(grep -c '^ok' "$acks" || true)
	failed=$(grep -c '^failed' "$acks" || true)
	row+=",$((ok - counted_ok)),$((failed - counted_failed))"
	counted_ok=$ok counted_failed=$failed
	echo "$row" >>"$out/samples.csv"
	[ "$elapsed" -ge $((minutes * 60)) ] || [ "$stopping" = 1 ] && break
	sleep "$interval" &
	wait $! || true
	[ "$stopping" = 1 ] && echo "soak: stopping early, after this sample"
done

[ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
load_pid=""
/usr/bin/python3 "$REGCHAIN_ROOT/scripts/soak-plot.py" "$out" --rate "$rate"
echo "soak: done; $out/summary.md"
exit "$status"
