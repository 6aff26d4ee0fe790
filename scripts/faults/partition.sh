#!/usr/bin/env bash
# partition: each validator in its own network namespace, the four joined by veth pairs to a
# bridge in a fifth namespace (10.77.0.0/24, used nowhere else). One validator is cut off, then
# the link is healed.
#
# Expected: the three others keep finalizing and acknowledging writes; the isolated validator
# finalizes nothing and acknowledges no put; once healed it reaches the same finalized block as
# the others, and every acknowledged put is read back through all four etcd APIs.
# Then a 2|2 split in which nobody may finalize, healed: finality resumes with nothing lost.
# Quick form: the cut is the isolated validator's link going down (ip link set eth0 down inside
# its namespace). Full form: also a silent cut (iptables DROP inside the namespace, the link
# stays up) of another validator.
# Run through scripts/faults.sh (docs/faults.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WARM=$(qf 5 10)
CUT=$(qf 15 45)
AFTER=$(qf 5 15)
GRACE=1

netns_setup 1 2 3 4
rep network "validator i in namespace $NS_PREFIX-vI at 10.77.0.I/24, veth to bridge br0 in $NS_PREFIX-br"
cluster_start
monitor_start 1 2 3 4
load_start 1 2 3 4 $(qf "" "1 2 3")

drop_rules() { # drop_rules -A|-D I PEER...: validator I drops every packet to or from the PEERs
	local op=$1 i=$2 p
	shift 2
	for p in "$@"; do
		on "$i" iptables -w "$op" INPUT -s "10.77.0.$p" -j DROP
		on "$i" iptables -w "$op" OUTPUT -d "10.77.0.$p" -j DROP
	done
}

# isolate KIND I: cut validator I off (KIND link: its link goes down; KIND drop: iptables drops
# everything on eth0 while the link stays up), check the majority and the isolated one, heal.
isolate() {
	local kind=$1 v=$2 i p majority=() peers=()
	for i in 1 2 3 4; do [ "$i" = "$v" ] || majority+=("$i"); done
	local tag="$kind-${NAMES[$v]}"
	pause "$WARM"
	local t_cut f_cut
	f_cut=$(finalized "$v")
	t_cut=$(now)
	case "$kind" in
		link) ip -n "${NODE_NS[$v]}" link set eth0 down ;;
		drop) drop_rules -A "$v" "${majority[@]}" ;;
	esac
	inject "cut validator $v (${NAMES[$v]}) off at its finalized #$f_cut: $([ "$kind" = link ] &&
		echo "ip link set eth0 down in its namespace" || echo "iptables DROP of every packet to and from the others, link up"); for $CUT s"
	pause "$GRACE"
	local t_stall f_iso
	t_stall=$(now)
	f_iso=$(finalized "$v")
	pause $((CUT - GRACE))
	local t_heal
	t_heal=$(now)
	for i in "${majority[@]}"; do
		p=$(fin_progress "$i" "$t_cut" "$t_heal")
		rep "$tag.cut.finalized_blocks.${NAMES[$i]}" "$p"
		finality_kept "$i" "$t_cut" "$t_heal" "while ${NAMES[$v]} was cut off"
	done
	p=$(fin_progress "$v" "$t_stall" "$t_heal")
	local b_iso
	b_iso=$(best "$v")
	rep "$tag.cut.finalized_blocks.${NAMES[$v]}" "$p"
	rep "$tag.cut.isolated_finalized_at" "$f_iso"
	rep "$tag.cut.isolated_best_at_heal" "$b_iso"
	[ "$p" = 0 ] || fail "the isolated ${NAMES[$v]} finalized $p blocks"
	local acked_iso acked_maj
	acked_iso=$(writes | awk -F'\t' -v a="$t_stall" -v b="$t_heal" -v i="$v" '$3 == i && $6 == 0 && $5 >= a && $5 <= b' | wc -l | tr -d ' ')
	acked_maj=$(started_and_acked_between "$t_cut" "$t_heal")
	rep "$tag.cut.puts_acked_through_isolated" "$acked_iso"
	rep "$tag.cut.puts_acked_through_majority" "$acked_maj"
	[ "$acked_iso" = 0 ] || fail "$acked_iso puts acknowledged through the isolated ${NAMES[$v]}"
	[ "$acked_maj" -gt 0 ] || fail "no put acknowledged by the majority while ${NAMES[$v]} was cut off"
	note "${NAMES[$v]} cut off ($kind) for $CUT s: the three others finalized $(fin_progress "${majority[0]}" "$t_cut" "$t_heal") blocks" \
		"(longest stall $(fin_stall "${majority[0]}" "$t_cut" "$t_heal") s) and acknowledged $acked_maj puts;" \
		"${NAMES[$v]} stayed at finalized #$f_iso (best #$b_iso, its own fork) and acknowledged none"
	local f_maj
	f_maj=$(finalized "${majority[0]}")
	case "$kind" in
		link) ip -n "${NODE_NS[$v]}" link set eth0 up ;;
		drop) drop_rules -D "$v" "${majority[@]}" ;;
	esac
	inject "heal: ${NAMES[$v]} reconnected (the majority was at finalized #$f_maj)"
	caught_up() { local f; f=$(finalized "$v") && [ "$f" != down ] && [ "$f" -ge "$f_maj" ]; }
	wait_until 240 "${NAMES[$v]} catches up with finalized #$f_maj after the heal" caught_up
	local t_caught
	t_caught=$(now)
	rep "$tag.heal.caught_up_s" "$(since "$t_heal" "$t_caught")"
	read -r low hash root <<<"$(same_finalized 1 2 3 4)"
	rep "$tag.heal.same_finalized" "#$low $hash"
	note "healed: ${NAMES[$v]} reached the others' finalized #$f_maj within $(since "$t_heal" "$t_caught") s;" \
		"all four agree on finalized block #$low ($hash)"
}

isolate link 4
[ "$QUICK" = 1 ] || isolate drop 3

# A 2|2 split: Alice and Bob on one side, Charlie and Dave on the other; in both forms.
pause "$WARM"
T_SPLIT=$(now)
for i in 1 2; do drop_rules -A "$i" 3 4; done
for i in 3 4; do drop_rules -A "$i" 1 2; done
inject "split 2|2 (iptables DROP between {Alice, Bob} and {Charlie, Dave}) for $CUT s"
pause "$GRACE"
T_STALL=$(now)
pause $((CUT - GRACE))
T_HEAL=$(now)
for i in 1 2 3 4; do
	p=$(fin_progress "$i" "$T_STALL" "$T_HEAL")
	rep "split.finalized_blocks.${NAMES[$i]}" "$p"
	[ "$p" = 0 ] || fail "${NAMES[$i]} finalized $p blocks during a 2|2 split"
done
ACK_SPLIT=$(acked_between "$T_STALL" "$T_HEAL")
rep split.puts_acked "$ACK_SPLIT"
[ "$ACK_SPLIT" = 0 ] || fail "$ACK_SPLIT puts acknowledged during a 2|2 split"
F_SPLIT=$(finalized 1)
for i in 1 2; do drop_rules -D "$i" 3 4; done
for i in 3 4; do drop_rules -D "$i" 1 2; done
inject "heal the split"
wait_finalized_above 1 "$F_SPLIT" 120
T_RESUME=$(first_fin_after 1 "$T_HEAL")
rep split.finality_resumed_after_heal_s "$(since "$T_HEAL" "$T_RESUME")"
note "2|2 split for $CUT s: nobody finalized, no put acknowledged; finality resumed $(since "$T_HEAL" "$T_RESUME") s after the heal"

pause "$AFTER"
load_stop
read -r low hash root <<<"$(same_finalized 1 2 3 4)"
note "at the end all four agree on finalized block #$low ($hash, state root $root)"
verify_writes 1 2 3 4
