#!/usr/bin/env bash
# equivocation: a fifth node holding Alice's Aura and GRANDPA keys (the same keystore seeds,
# its own node key 0x00…05, authorized in this run's genesis) runs next to Alice, so that two
# nodes author in Alice's slots and vote with her GRANDPA key: a Byzantine validator that
# equivocates.
#
# Expected: the honest validators (Bob, Charlie, Dave) detect it. sc-consensus-aura logs, on
# import, "Slot author is equivocating at slot S with headers H1 and H2"
# (sc-consensus-aura 0.60 src/import_queue.rs, from sc-consensus-slots' check_equivocation);
# GRANDPA's "Detected prevote/precommit equivocation in the finality worker" is counted too.
# Finality continues, the honest validators agree on the finalized chain, and every
# acknowledged put is read back. Run through scripts/faults.sh (docs/faults.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WARM=$(qf 3 10)
PHASE=$(qf 20 90) # how long both Alices run
AFTER=$(qf 5 10)
TWIN=5
HONEST=(2 3 4)
AURA_MSG="Slot author is equivocating at slot"
GRANDPA_MSG="equivocation in the finality worker"

ports_free "$TWIN"
cluster_start
monitor_start 1 2 3 4 5
load_start 2 3 4 $(qf "" "2 3 4")
pause "$WARM"

F_START=$(finalized 2)
node_start "$TWIN"
inject "start a second node with Alice's Aura and GRANDPA keys (node key 0x00…05), at finalized #$F_START"
wait_until 180 "the twin imports the chain" node_ready "$TWIN"
T_TWIN=$(now)
F_TWIN=$(finalized 2)
ALICE_LINE=$(wc -l <"$DIR/v1.log")
pause "$PHASE"
T_STOP=$(now)
F_STOP=$(finalized 2)
TWIN_AUTHORED=$(grep -c 'Pre-sealed block for proposal' "$DIR/v$TWIN.log" || true)
ALICE_AUTHORED=$(tail -n +"$ALICE_LINE" "$DIR/v1.log" | grep -c 'Pre-sealed block for proposal' || true)
node_kill "$TWIN"
inject "stop the twin (kill -9) after $PHASE s"

for i in "${HONEST[@]}"; do
	n=$(grep -c "$AURA_MSG" "$DIR/v$i.log" || true)
	g=$(grep -c "$GRANDPA_MSG" "$DIR/v$i.log" || true)
	rep "detected.aura_equivocations.${NAMES[$i]}" "$n"
	rep "detected.grandpa_equivocations.${NAMES[$i]}" "$g"
	p=$(fin_progress "$i" "$T_TWIN" "$T_STOP")
	rep "twin_phase.finalized_blocks.${NAMES[$i]}" "$p"
	[ "$p" != none ] && [ "$p" -ge $((PHASE / 2)) ] || fail "${NAMES[$i]} finalized $p blocks while Alice equivocated"
done
rep twin_phase.blocks_sealed_by_twin "$TWIN_AUTHORED"
rep twin_phase.blocks_sealed_by_alice "$ALICE_AUTHORED"
rep twin_phase.longest_finality_stall_s "$(fin_stall 2 "$T_TWIN" "$T_STOP")"
DETECTED=$(for i in "${HONEST[@]}"; do grep -c "$AURA_MSG" "$DIR/v$i.log" || true; done | awk '{s += $1} END {print s + 0}')
[ "$DETECTED" -gt 0 ] || fail "no honest validator logged \"$AURA_MSG\" (the twin sealed $TWIN_AUTHORED blocks)"
example=$(grep -h -m1 "$AURA_MSG" "$DIR/v2.log" "$DIR/v3.log" "$DIR/v4.log" | head -1 | sed 's/.*\(Slot author\)/\1/; s/ *$//') || true
rep detected.example "$example"
note "for $PHASE s two nodes held Alice's keys; the twin sealed $TWIN_AUTHORED blocks, Alice $ALICE_AUTHORED"
note "the honest validators logged \"$AURA_MSG\" $DETECTED times in all" \
	"($(for i in "${HONEST[@]}"; do printf '%s %s, ' "${NAMES[$i]}" "$(grep -c "$AURA_MSG" "$DIR/v$i.log" || true)"; done | sed 's/, $//')), e.g. \"$example\";" \
	"GRANDPA's \"Detected prevote/precommit $GRANDPA_MSG\": $(for i in "${HONEST[@]}"; do printf '%s %s, ' "${NAMES[$i]}" "$(grep -c "$GRANDPA_MSG" "$DIR/v$i.log" || true)"; done | sed 's/, $//')"
note "finality went on: Bob finalized $((F_STOP - F_TWIN)) blocks in the $PHASE s (longest stall $(fin_stall 2 "$T_TWIN" "$T_STOP") s)"

pause "$AFTER"
load_stop
read -r low hash root <<<"$(same_finalized 1 2 3 4)"
note "all four validators agree on finalized block #$low ($hash, state root $root)"
verify_writes 1 2 3 4
