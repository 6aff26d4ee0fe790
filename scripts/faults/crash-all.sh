#!/usr/bin/env bash
# crash-all: kill -9 all four validators at once under an etcd write load, then restart them.
#
# Expected: no finalized block is lost or changed: right after the restart each validator's
# finalized head is at or beyond where it was, the block it had finalized has the same hash and
# state root (chain_getHeader's stateRoot), and all four agree on them; finality resumes; every
# put acknowledged before the crash is read back through all four etcd APIs.
# Quick form: one crash; full form: three in a row. Run through scripts/faults.sh (docs/faults.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WARM=$(qf 5 10)
DOWN=$(qf 3 10) # all down for this long
CYCLES=$(qf 1 3)

cluster_start
monitor_start 1 2 3 4
load_start 1 2 3 4 $(qf "" "1 2 3 4")

for cycle in $(seq "$CYCLES"); do
	tag="crash$cycle"
	pause "$WARM"
	# Each validator's finalized head, read as late as possible before the kill.
	declare -A F=() H=() R=()
	chain snapshot $(node_spec 1 2 3 4) >"$DIR/$tag.before"
	node_kill 1 2 3 4
	T_KILL=$(now)
	while read -r i f h r; do
		[ "$f" != down ] || fail "${NAMES[$i]} did not answer before the crash"
		F[$i]=$f H[$i]=$h R[$i]=$r
	done <"$DIR/$tag.before"
	inject "crash $cycle: kill -9 all four validators in one kill(1), under load, at finalized" \
		"#${F[1]} #${F[2]} #${F[3]} #${F[4]}; all down for $DOWN s"
	ACKED_BEFORE=$(acked_between 0 "$T_KILL")
	pause "$DOWN"
	T_START=$(now)
	for i in 1 2 3 4; do node_start "$i"; done
	inject "restart all four with their databases"
	answers() { local i; for i in 1 2 3 4; do [ "$(finalized "$i")" != down ] || return 1; done; }
	wait_until 180 "the restarted validators answer JSON-RPC" answers
	T_ANSWER=$(now)
	rep "$tag.rpc_answered_after_restart_s" "$(since "$T_START" "$T_ANSWER")"
	# Right after the restart, before (or as) finality resumes.
	chain snapshot $(node_spec 1 2 3 4) >"$DIR/$tag.after"
	high=0
	for i in 1 2 3 4; do
		g=$(awk -v i="$i" '$1 == i {print $2}' "$DIR/$tag.after")
		[ "$g" -ge "${F[$i]}" ] || fail "${NAMES[$i]} came back at finalized #$g, below #${F[$i]} before the crash"
		read -r h2 r2 <<<"$(block_at "$i" "${F[$i]}")"
		[ "$h2" = "${H[$i]}" ] && [ "$r2" = "${R[$i]}" ] ||
			fail "${NAMES[$i]}'s block #${F[$i]} changed across the crash: $h2 $r2, was ${H[$i]} ${R[$i]}"
		rep "$tag.finalized_before.${NAMES[$i]}" "${F[$i]}"
		rep "$tag.finalized_after_restart.${NAMES[$i]}" "$g"
		[ "${F[$i]}" -le "$high" ] || high=${F[$i]}
	done
	# The highest head finalized before the crash, the same on all four once they reach it.
	wait_until 120 "all four reach finalized #$high again" all_finalized_ge "$high" 1 2 3 4
	first=""
	for i in 1 2 3 4; do
		line=$(block_at "$i" "$high")
		[ -n "$first" ] || first=$line
		[ "$line" = "$first" ] || fail "validators disagree at #$high after the crash: $first vs ${NAMES[$i]} $line"
	done
	read -r hh rr <<<"$first"
	rep "$tag.state_root_at_highest_finalized" "#$high $rr"
	for i in 1 2 3 4; do
		[ "${F[$i]}" != "$high" ] || [ "${H[$i]}" = "$hh" ] || fail "#$high is not the block ${NAMES[$i]} had finalized"
	done
	T_RESUME=$(first_fin_after 1 "$T_START")
	[ "$T_RESUME" != none ] || T_RESUME=$(now)
	rep "$tag.finality_resumed_after_restart_s" "$(since "$T_START" "$T_RESUME")"
	rep "$tag.acked_before_crash" "$ACKED_BEFORE"
	note "crash $cycle: after the restart every validator's finalized head was at or beyond its head before the crash," \
		"with the same hash and state root; all four agree on #$high (state root $rr), the highest finalized before;" \
		"finality resumed $(since "$T_START" "$T_RESUME") s after the restart command (JSON-RPC answered after $(since "$T_START" "$T_ANSWER") s)"
	wait_until 120 "the restarted validators serve etcd" all_ready 1 2 3 4
done

pause "$WARM"
T_END=$(now)
ACK_AFTER=$(started_and_acked_between "$T_RESUME" "$T_END")
rep puts_acked_after_last_restart "$ACK_AFTER"
[ "$ACK_AFTER" -gt 0 ] || fail "no put acknowledged after the restart"
load_stop
read -r low hash root <<<"$(same_finalized 1 2 3 4)"
note "at the end all four agree on finalized block #$low ($hash, state root $root)"
verify_writes 1 2 3 4
