#!/usr/bin/env bash
# one-down: kill -9 one of the four validators under a steady etcd write load, then restart it.
#
# Expected: the three others keep finalizing and acknowledging writes; the restarted validator
# catches up; every acknowledged put is read back, with its value, through every validator's
# etcd API (the restarted one included). Run through scripts/faults.sh (docs/faults.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VICTIM=${FAULTS_VICTIM:-4}
WARM=$(qf 5 15)   # load before the kill
DOWN=$(qf 15 60)  # how long the victim stays down
AFTER=$(qf 8 20)  # load after it is back
LIVE=()
for i in 1 2 3 4; do [ "$i" = "$VICTIM" ] || LIVE+=("$i"); done

cluster_start
monitor_start 1 2 3 4
# One writer per validator (two in the full form), the victim's included: its puts fail while
# it is down and succeed again once it is back.
load_start 1 2 3 4 $(qf "" "1 2 3 4")
pause "$WARM"

F_KILL=$(finalized "${LIVE[0]}")
T_KILL=$(now)
node_kill "$VICTIM"
inject "kill -9 validator $VICTIM (${NAMES[$VICTIM]}) at finalized #$F_KILL, under load; down for $DOWN s"
pause "$DOWN"
T_RESTART=$(now)

# During the outage.
for i in "${LIVE[@]}"; do
	p=$(fin_progress "$i" "$T_KILL" "$T_RESTART")
	s=$(fin_stall "$i" "$T_KILL" "$T_RESTART")
	rep "outage.finalized_blocks.${NAMES[$i]}" "$p"
	rep "outage.longest_finality_stall_s.${NAMES[$i]}" "$s"
	finality_kept "$i" "$T_KILL" "$T_RESTART" "with ${NAMES[$VICTIM]} down"
done
ACKED_OUT=$(started_and_acked_between "$(plus "$T_KILL" 1)" "$T_RESTART")
rep outage.puts_started_and_acked "$ACKED_OUT"
rep outage.put_errors "$(put_errors "$T_KILL" "$T_RESTART")"
for i in "${LIVE[@]}"; do
	n=$(writes | awk -F'\t' -v a="$T_KILL" -v b="$T_RESTART" -v i="$i" '$3 == i && $6 == 0 && $4 > a && $5 <= b' | wc -l)
	rep "outage.puts_acked_through.${NAMES[$i]}" "$n"
	[ "$n" -gt 0 ] || fail "no put acknowledged through ${NAMES[$i]} while ${NAMES[$VICTIM]} was down"
done
note "with ${NAMES[$VICTIM]} down for $DOWN s: the others finalized $(fin_progress "${LIVE[0]}" "$T_KILL" "$T_RESTART") blocks" \
	"(longest finality stall $(fin_stall "${LIVE[0]}" "$T_KILL" "$T_RESTART") s) and acknowledged $ACKED_OUT puts;" \
	"puts through the dead validator failed: $(put_errors "$T_KILL" "$T_RESTART")"

# The victim comes back with its database.
F_RESTART=$(finalized "${LIVE[0]}")
node_start "$VICTIM"
inject "restart validator $VICTIM (${NAMES[$VICTIM]}) with its database"
caught_up() { local f; f=$(finalized "$VICTIM") && [ "$f" != down ] && [ "$f" -ge "$F_RESTART" ]; }
wait_until 180 "${NAMES[$VICTIM]} catches up with finalized #$F_RESTART" caught_up
T_CAUGHT=$(now)
rep restart.caught_up_s "$(since "$T_RESTART" "$T_CAUGHT")"
wait_until 60 "${NAMES[$VICTIM]} serves etcd again" node_ready "$VICTIM"
pause "$AFTER"
T_END=$(now)
n=$(writes | awk -F'\t' -v a="$T_CAUGHT" -v i="$VICTIM" '$3 == i && $6 == 0 && $4 > a' | wc -l)
rep restart.puts_acked_through_restarted "$n"
[ "$n" -gt 0 ] || fail "no put acknowledged through the restarted ${NAMES[$VICTIM]}"
note "restarted, ${NAMES[$VICTIM]} was back at the finalized head within $(since "$T_RESTART" "$T_CAUGHT") s" \
	"and acknowledged $n puts through its etcd API in the following $(since "$T_CAUGHT" "$T_END") s"

load_stop
read -r low hash root <<<"$(same_finalized 1 2 3 4)"
note "all four agree on finalized block #$low ($hash, state root $root)"
verify_writes 1 2 3 4
rep latency.before "$(latency "$T0" "$T_KILL")"
rep latency.outage "$(latency "$T_KILL" "$T_RESTART")"
rep latency.after "$(latency "$T_CAUGHT" "$T_END")"
say "put latency (count p50 p90 p99 max, s): before $(latency "$T0" "$T_KILL"); outage $(latency "$T_KILL" "$T_RESTART"); after $(latency "$T_CAUGHT" "$T_END")"
