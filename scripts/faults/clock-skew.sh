#!/usr/bin/env bash
# clock-skew: one validator's wall clock is off. Dave runs under Debian's libfaketime
# (LD_PRELOAD of libfaketimeMT.so.1, FAKETIME="+2s", monotonic clock left alone), so its Aura
# slot clock and its block timestamps run 2 s (8 slots of 250 ms) ahead of the others'.
#
# Expected: the three others keep finalizing and acknowledging writes; the report says what
# the skewed validator does: how many blocks it sealed, how many of them made it into the
# finalized chain (each block's author read from its Aura pre-digest), what the honest
# validators logged about its blocks (sc-consensus-aura: "Header … rejected: too far in the
# future", its peer reported), and whether it still follows finality.
# Quick form: +2 s from the start. Full form: Dave restarted in turn with +0.1 s, +0.5 s, +2 s
# and -2 s, then with the right time again. Run through scripts/faults.sh (docs/faults.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SKEWED=4
HONEST=(1 2 3)
PHASE=$(qf 20 40)
SKEWS=$(qf "+2s" "+0.1s +0.5s +2s -2s none")
FAKETIME_LIB=${FAKETIME_LIB:-/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1}
[ -r "$FAKETIME_LIB" ] || fail "no $FAKETIME_LIB: install Debian's faketime (scripts/setup.sh)"
FUTURE_MSG="too far in the future"

skew_env() { # skew_env SKEW: the environment that puts a process's wall clock SKEW off
	[ "$1" = none ] || echo "LD_PRELOAD=$FAKETIME_LIB FAKETIME=$1 FAKETIME_DONT_FAKE_MONOTONIC=1"
}

# What the validators logged, and the blocks finalized, since Dave was (re)started with a skew.
declare -A LOGLINE=([1]=1 [2]=1 [3]=1 [4]=1)
F_MARK=0
mark_logs() {
	local i
	for i in 1 2 3 4; do LOGLINE[$i]=$(($(wc -l <"$DIR/v$i.log") + 1)); done
	F_MARK=$(finalized 1)
}
new_lines() { tail -n +"${LOGLINE[$1]}" "$DIR/v$1.log"; } # new_lines I: validator I's log since mark_logs
count_new() { new_lines "$1" | grep -c -- "$2" || true; }

# phase SKEW: Dave's clock SKEW off ("none": right) for PHASE s, under load; what happened
# (the logs are read from the last mark_logs, made before Dave was started with this skew)
phase() {
	local skew=$1 tag="skew${1}" i
	[ "$skew" != none ] || tag=skew-none
	local f0 t0 t1 f1
	f0=$(finalized 1)
	t0=$(now)
	pause "$PHASE"
	t1=$(now)
	f1=$(finalized 1)
	for i in "${HONEST[@]}"; do
		local p
		p=$(fin_progress "$i" "$t0" "$t1")
		rep "$tag.finalized_blocks.${NAMES[$i]}" "$p"
		[ "$p" != none ] && [ "$p" -ge $((PHASE / 2)) ] || fail "${NAMES[$i]} finalized $p blocks with Dave's clock $skew off"
	done
	local acked sealed in_chain total future future_ex dave_fin dave_follows
	acked=$(started_and_acked_between "$t0" "$t1")
	rep "$tag.puts_acked" "$acked"
	[ "$acked" -gt 0 ] || fail "no put acknowledged with Dave's clock $skew off"
	read -r n p50 p90 p99 max <<<"$(latency "$t0" "$t1")"
	rep "$tag.latency_s" "p50 $p50 p90 $p90 p99 $p99 max $max"
	sealed=$(count_new 4 'Pre-sealed block for proposal')
	# Dave's blocks in the finalized chain, from its restart to the end of the phase
	chain blocks --aura-keys "$CHAIN/aura.keys" --from $((F_MARK + 1)) --to "$f1" $(node_spec 1) >"$DIR/$tag.authors.json"
	in_chain=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["per_author"].get("Dave", {}).get("blocks", 0))' "$DIR/$tag.authors.json")
	rep "$tag.finalized_since_restart" "#$((F_MARK + 1))-#$f1"
	total=$((f1 - f0))
	future=0
	for i in "${HONEST[@]}"; do
		local c
		c=$(count_new "$i" "$FUTURE_MSG")
		rep "$tag.too_far_in_the_future_logged.${NAMES[$i]}" "$c"
		future=$((future + c))
	done
	future_ex=$(for i in "${HONEST[@]}"; do new_lines "$i"; done | { grep -m1 -- "$FUTURE_MSG" || true; } |
		sed 's/^[0-9-]* [0-9:.]* *//; s/ *$//' | cut -c1-400) || true
	dave_fin=$(finalized 4)
	local reorgs dave_rejects
	reorgs=$(count_new 4 'Reorg on')
	dave_rejects=$(count_new 4 "$FUTURE_MSG")
	rep "$tag.dave_reorgs" "$reorgs"
	rep "$tag.dave_logged_too_far_in_the_future" "$dave_rejects"
	rep "$tag.dave_sealed" "$sealed"
	rep "$tag.dave_blocks_in_finalized_chain" "$in_chain"
	rep "$tag.finalized_blocks_in_phase" "$total"
	rep "$tag.honest_logged_too_far_in_the_future" "$future"
	rep "$tag.dave_finalized_at_end" "$dave_fin"
	rep "$tag.honest_finalized_at_end" "$(finalized 1)"
	[ -z "$future_ex" ] || rep "$tag.example" "$future_ex"
	local dave_warn
	dave_warn=$(new_lines 4 | { grep -E 'WARN|Error|error|rejected|failed|💔' || true; } | sed 's/^[0-9-]* [0-9:.]* *//' | cut -c1-120 |
		sed -E 's/0x[0-9a-f…]+/0x…/g; s/#[0-9]+/#N/g; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -3 |
		awk '{c = $1; $1 = ""; printf "%s%d x%s", (NR > 1 ? "; " : ""), c, $0}') || true
	[ -z "$dave_warn" ] || rep "$tag.dave_log" "$dave_warn"
	local ex="" warn=""
	[ -z "$future_ex" ] || ex=" (\"$future_ex\")"
	[ -z "$dave_warn" ] || warn="; in Dave's log: $dave_warn"
	note "Dave's clock $skew off for $PHASE s: the honest validators finalized $total blocks and acknowledged $acked puts" \
		"(p50 $p50 s, p99 $p99 s); since its start Dave sealed $sealed blocks, $in_chain of them in the finalized chain" \
		"(#$((F_MARK + 1))-#$f1);" \
		"honest validators logged \"$FUTURE_MSG\" $future times$ex;" \
		"Dave switched to the others' chain $reorgs times and logged \"$FUTURE_MSG\" $dave_rejects times;" \
		"Dave's finalized head at the end #$dave_fin (the others' #$(finalized 1))$warn"
}

restart_with() { # restart_with SKEW
	node_stop "$SKEWED"
	mark_logs
	NODE_ENV[$SKEWED]=$(skew_env "$1")
	node_start "$SKEWED"
	inject "restart Dave with its clock $1 off ($(skew_env "$1"))"
	local f t=$SECONDS
	f=$(finalized 1)
	wait_until 180 "Dave is back" node_ready "$SKEWED"
	# A clock behind the others' may keep it from importing their blocks: not asserted.
	until all_finalized_ge "$f" "$SKEWED" || [ $((SECONDS - t)) -ge 60 ]; do sleep 0.5; done
}

first=${SKEWS%% *}
NODE_ENV[$SKEWED]=$(skew_env "$first")
cluster_start
inject "Dave runs with its clock $first off from the start ($(skew_env "$first"))"
monitor_start 1 2 3 4
load_start 1 2 3 4 $(qf "" "1 2 3")
phase "$first"
for skew in ${SKEWS#"$first"}; do
	restart_with "$skew"
	phase "$skew"
done

load_stop
read -r low hash root <<<"$(same_finalized 1 2 3)"
note "the honest validators agree on finalized block #$low ($hash)"
if all_finalized_ge "$(finalized 1)" 4 || { pause 5 && all_finalized_ge "$low" 4; }; then
	rep read_back_through "Alice Bob Charlie Dave"
	verify_writes 1 2 3 4
else
	rep read_back_through "Alice Bob Charlie (Dave lagged)"
	note "Dave does not follow finality at the end: acknowledged puts read back through the others only"
	verify_writes 1 2 3
fi
