#!/usr/bin/env bash
# Measures a four-validator local testnet on this machine, and prints:
#   - blocks per minute, finality lag and submission-to-finality latency of system.remark
#     transactions (regchain-probe, for --seconds, one remark every 500 ms);
#   - resident memory of each validator, and the disk the chain grows while idle (--idle-seconds,
#     extrapolated linearly to an hour and a day). Nothing is pruned during a chain's first hour
#     (the state-history window), so an extrapolation from a young chain overstates long-run
#     growth.
#
#   scripts/measure.sh [--seconds 60] [--idle-seconds 300]
#
# It starts the testnet with scripts/testnet.sh (data under $REGCHAIN_TESTNET_DIR, by default
# /tmp/regchain-testnet) and stops it at the end, whatever happens.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

seconds=60
idle=300
while [ $# -gt 0 ]; do
	case "$1" in
		--seconds) seconds="$2"; shift 2 ;;
		--idle-seconds) idle="$2"; shift 2 ;;
		*) echo "measure: unknown option $1" >&2; exit 1 ;;
	esac
done

DIR="${REGCHAIN_TESTNET_DIR:-/tmp/regchain-testnet}"
build_release
trap '"$REGCHAIN_ROOT/scripts/testnet.sh" stop >/dev/null' EXIT
"$REGCHAIN_ROOT/scripts/testnet.sh" --detach >/dev/null
sleep 10 # let the validators connect and finality settle before measuring

echo "== load: regchain-probe for ${seconds}s on validator 1"
"$CARGO_TARGET_DIR/release/regchain-probe" --rpc-port 9944 --seconds "$seconds" --interval-ms 500

echo "== idle: ${idle}s"
chain_kib() { du -sk "$DIR"/validator1/chains | cut -f1; } # blocks on disk, not apparent size
before=$(chain_kib)
sleep "$idle"
after=$(chain_kib)
growth=$((after - before))
echo "disk_validator1_kib    $after (grew $growth KiB in ${idle}s: $((growth * 3600 / idle)) KiB/hour, $((growth * 86400 / idle / 1024)) MiB/day)"
i=0
while read -r pid; do
	i=$((i + 1))
	echo "rss_validator${i}_kib    $(ps -o rss= -p "$pid" | tr -d ' ')"
done <"$DIR/pids"
