#!/usr/bin/env bash
# two-down: kill -9 two of the four validators under an etcd write load, then restart them.
#
# Expected: with two of four GRANDPA voters gone, finality stops on the two others and no put is
# acknowledged (etcd puts are answered at finality: docs/etcd.md); once both are back, finality
# resumes and every put acknowledged before, or after, is read back through every validator's
# etcd API. Run through scripts/faults.sh (docs/faults.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VICTIMS=(3 4)
LIVE=(1 2)
WARM=$(qf 5 15)
DOWN=$(qf 15 60)
AFTER=$(qf 8 20)
GRACE=1 # a block whose votes were all cast before the kill may still be finalized just after it

cluster_start
monitor_start 1 2 3 4
load_start 1 2 3 4 $(qf "" "1 2 3 4")
pause "$WARM"

T_KILL=$(now)
node_kill "${VICTIMS[@]}"
inject "kill -9 validators ${VICTIMS[*]} (${NAMES[3]}, ${NAMES[4]}) together, under load; down for $DOWN s"
pause "$GRACE"
T_STALL=$(now)
F_STALL=$(finalized 1)
pause $((DOWN - GRACE))
T_RESTART=$(now)

# During the outage: no block finalized, no put acknowledged.
for i in "${LIVE[@]}"; do
	p=$(fin_progress "$i" "$T_STALL" "$T_RESTART")
	b=$(best "$i")
	rep "outage.finalized_blocks.${NAMES[$i]}" "$p"
	rep "outage.best_at_restart.${NAMES[$i]}" "$b"
	[ "$p" = 0 ] || fail "${NAMES[$i]} finalized $p blocks with two of four validators down"
done
rep outage.finalized_at "$F_STALL"
ACK_OUT=$(acked_between "$T_STALL" "$T_RESTART")
ACK_GRACE=$(acked_between "$T_KILL" "$T_STALL")
SENT_OUT=$(writes | awk -F'\t' -v a="$T_KILL" -v b="$T_RESTART" '$4 >= a && $4 <= b' | wc -l | tr -d ' ')
rep outage.puts_started "$SENT_OUT"
rep outage.puts_acked "$ACK_OUT"
rep outage.puts_acked_in_first_second "$ACK_GRACE"
rep outage.put_errors "$(put_errors "$T_KILL" "$T_RESTART")"
[ "$ACK_OUT" = 0 ] || fail "$ACK_OUT puts were acknowledged while finality was stopped"
note "with ${NAMES[3]} and ${NAMES[4]} down: finality stopped at #$F_STALL on ${NAMES[1]} and ${NAMES[2]}" \
	"(their best block went on to #$(best 1)); $SENT_OUT puts started, 0 acknowledged in the outage" \
	"($ACK_GRACE in the first second, blocks finalized before the kill); errors: $(put_errors "$T_KILL" "$T_RESTART")"

# Both come back.
node_start 3
node_start 4
inject "restart validators 3 and 4 with their databases"
wait_finalized_above 1 "$F_STALL" 180
T_RESUME=$(first_fin_after 1 "$T_RESTART")
[ "$T_RESUME" != none ] || T_RESUME=$(now)
rep recovery.finality_resumed_after_restart_s "$(since "$T_RESTART" "$T_RESUME")"
rep recovery.finality_stalled_s "$(since "$T_KILL" "$T_RESUME")"
wait_until 120 "the restarted validators serve etcd" all_ready 3 4
F_NOW=$(finalized 1)
caught_up() { local i f; for i in 3 4; do f=$(finalized "$i"); [ "$f" != down ] && [ "$f" -ge "$F_NOW" ] || return 1; done; }
wait_until 120 "the restarted validators reach finalized #$F_NOW" caught_up
note "restarted, finality resumed $(since "$T_RESTART" "$T_RESUME") s after the restart command" \
	"(stopped for $(since "$T_KILL" "$T_RESUME") s in all); the restarted validators caught up within $(since "$T_RESTART") s"
pause "$AFTER"
T_END=$(now)
ACK_AFTER=$(started_and_acked_between "$T_RESUME" "$T_END")
rep recovery.puts_acked "$ACK_AFTER"
[ "$ACK_AFTER" -gt 0 ] || fail "no put acknowledged after finality resumed"

load_stop
read -r low hash root <<<"$(same_finalized 1 2 3 4)"
note "all four agree on finalized block #$low ($hash, state root $root)"
verify_writes 1 2 3 4
rep latency.before "$(latency "$T0" "$T_KILL")"
rep latency.after "$(latency "$T_RESUME" "$T_END")"
