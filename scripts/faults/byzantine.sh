#!/usr/bin/env bash
# byzantine: a validator authors blocks that break the chain's rules.
#
# Dave runs a tampered runtime (--wasm-runtime-overrides, no change to the node): the chain's own
# runtime, from this run's chain spec, in which pallet_membership's Contains::contains answers
# true for any account (chain.py permissive-runtime patches that one function in place). It
# executes the honest validators' blocks exactly as they do, so it stays in sync and keeps
# authoring; but its pool admits a transaction from Eve, who is no orchestrator, and puts it in
# the blocks Dave authors.
#
# Expected: the honest validators refuse every such block when they execute it
# (frame-executive: "ExecuteBlockError applying extrinsic: Invalid signing address", then
# "Error importing block …"), their state stays as it was (no finalized block carries Eve's
# transaction, Eve's nonce stays 0), finality goes on, they agree on the finalized chain, and
# every acknowledged put is read back. Full form: Dave is then restarted with the real runtime
# and catches up. Run through scripts/faults.sh (docs/faults.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BYZ=4
HONEST=(1 2 3)
PHASE=$(qf 15 60)
REJECT_MSG="ExecuteBlockError applying extrinsic: Invalid signing address"
command -v zstd >/dev/null 2>&1 || fail "zstd is missing (scripts/setup.sh installs it): the runtime in the spec is compressed"

mkdir -p "$DIR/override"
chain permissive-runtime --spec "$SPEC" --out "$DIR/override/permissive.wasm" >"$DIR/override.log" 2>&1 ||
	fail "could not make the tampered runtime: $(cat "$DIR/override.log")"
rep tampered_runtime "$(cat "$DIR/override.log")"
EVE=$("$REGCHAIN_NODE" key inspect --scheme sr25519 --output-type json //Eve |
	"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["publicKey"])')

cluster_start
monitor_start 1 2 3 4
load_start "${HONEST[@]}" $(qf "" "${HONEST[*]}")
pause 3

node_stop "$BYZ"
NODE_ARGS[$BYZ]="--wasm-runtime-overrides $DIR/override"
node_start "$BYZ"
inject "restart Dave with a tampered runtime (--wasm-runtime-overrides): pallet_membership's contains() answers true for anyone"
F=$(finalized 1)
wait_until 180 "Dave is back" node_ready "$BYZ"
wait_until 60 "Dave imports the honest blocks with the tampered runtime" all_finalized_ge "$F" "$BYZ"
grep -q 'Found wasm override' "$DIR/v$BYZ.log" || fail "Dave did not load the override"
note "Dave runs the tampered runtime (\"$(grep -m1 'Found wasm override' "$DIR/v$BYZ.log" | sed 's/^[0-9-]* [0-9:]* //; s/ *$//')\")" \
	"and follows the honest chain: finalized #$(finalized "$BYZ")"

declare -A LINE=()
for i in 1 2 3 4; do LINE[$i]=$(($(wc -l <"$DIR/v$i.log") + 1)); done
new_lines() { tail -n +"${LINE[$1]}" "$DIR/v$1.log"; }
F0=$(finalized 1)
T_PHASE=$(now)
# Eve is endowed but no orchestrator: every honest pool refuses her ("Invalid signing address").
timeout 30 "$REGCHAINCTL" --endpoint "ws://127.0.0.1:$(rpc_port "$BYZ")" --key //Eve --wait best \
	put "/faults/$TEST/eve" "written by a non-member" >"$DIR/eve.out" 2>&1 || true
inject "Eve (no orchestrator) submits a registry put through Dave's JSON-RPC (regchainctl --key //Eve --wait best);" \
	"regchainctl: $(tr '\n' ' ' <"$DIR/eve.out" | cut -c1-160)"
# Her put lands in one block of Dave's. Should no honest validator execute that block (built on a
# parent they had already finalized past, it is never imported), she puts again, at most every
# 3 s and 4 more times, until one of them refuses such a block: the check below still needs one.
refused() { local i; for i in "${HONEST[@]}"; do [ "$(new_lines "$i" | grep -c -- "$REJECT_MSG" || true)" -gt 0 ] && return 0; done; return 1; }
EVE_PUTS=1
T_STOP=$((SECONDS + PHASE))
while [ "$SECONDS" -lt "$T_STOP" ]; do
	pause 3
	if [ "$EVE_PUTS" -lt 5 ] && [ $((SECONDS + 5)) -lt "$T_STOP" ] && ! refused; then
		timeout 10 "$REGCHAINCTL" --endpoint "ws://127.0.0.1:$(rpc_port "$BYZ")" --key //Eve --wait best \
			put "/faults/$TEST/eve-$EVE_PUTS" "written by a non-member" >>"$DIR/eve.out" 2>&1 || true
		EVE_PUTS=$((EVE_PUTS + 1))
	fi
done
rep eve_puts "$EVE_PUTS"
T_END=$(now)
F1=$(finalized 1)

total=0
for i in "${HONEST[@]}"; do
	c=$(new_lines "$i" | grep -c -- "$REJECT_MSG" || true)
	e=$(new_lines "$i" | grep -c 'Error importing block' || true)
	rep "rejected.invalid_signing_address.${NAMES[$i]}" "$c"
	rep "rejected.error_importing_block.${NAMES[$i]}" "$e"
	total=$((total + c))
	p=$(fin_progress "$i" "$T_PHASE" "$T_END")
	rep "phase.finalized_blocks.${NAMES[$i]}" "$p"
	[ "$p" != none ] && [ "$p" -ge $((PHASE / 2)) ] || fail "${NAMES[$i]} finalized $p blocks while Dave authored invalid blocks"
done
sealed=$(new_lines "$BYZ" | grep -c 'Pre-sealed block for proposal' || true)
rep phase.dave_sealed "$sealed"
[ "$total" -gt 0 ] || fail "no honest validator logged \"$REJECT_MSG\" (Dave sealed $sealed blocks; regchainctl: $(cat "$DIR/eve.out"))"
example=$(for i in "${HONEST[@]}"; do new_lines "$i"; done | grep -m1 'Error importing block' |
	sed 's/^[0-9-]* [0-9:]* //; s/Execution aborted.*/…/') || true
rep rejected.example "$example"
distinct=$(for i in "${HONEST[@]}"; do new_lines "$i"; done | grep -o 'Error importing block 0x[0-9a-f]*' | sort -u | wc -l)
rep rejected.distinct_blocks "$distinct"

# The honest state: no finalized block carries Eve's transaction, her nonce is still 0.
chain blocks --aura-keys "$CHAIN/aura.keys" --from $((F0 + 1)) --to "$F1" $(node_spec 1) >"$DIR/authors.json"
in_chain=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["per_author"].get("Dave", {}).get("blocks", 0))' "$DIR/authors.json")
rep phase.dave_blocks_in_finalized_chain "$in_chain"
eve_tx=$(chain signed-by --account "$EVE" --from 1 --to "$F1" $(node_spec 1))
rep honest.finalized_extrinsics_from_eve "$eve_tx"
[ "$eve_tx" = 0 ] || fail "$eve_tx of Eve's transactions are in the finalized chain"
for i in "${HONEST[@]}"; do
	n=$(chain nonce --account "$EVE" $(node_spec "$i"))
	rep "honest.eve_nonce.${NAMES[$i]}" "$n"
	[ "$n" = 0 ] || fail "Eve's nonce is $n on ${NAMES[$i]}"
done
dave_nonce=$(chain nonce --account "$EVE" --at best $(node_spec "$BYZ") 2>/dev/null || echo "?")
rep dave.eve_nonce_at_best "$dave_nonce"
note "in $PHASE s Dave sealed $sealed blocks, $in_chain of them in the finalized chain (#$((F0 + 1))-#$F1);" \
	"the honest validators refused $distinct distinct blocks of Dave's, $total times in all, with \"$REJECT_MSG\" ($(for i in "${HONEST[@]}"; do
		printf '%s %s, ' "${NAMES[$i]}" "$(new_lines "$i" | grep -c -- "$REJECT_MSG" || true)"; done | sed 's/, $//'))," \
	"e.g. \"$example\""
note "honest state unchanged: no finalized block carries Eve's transaction and her nonce is 0 on Alice, Bob and Charlie" \
	"(on Dave's own best block: $dave_nonce); finality went on ($(fin_progress 1 "$T_PHASE" "$T_END") blocks in $PHASE s," \
	"longest stall $(fin_stall 1 "$T_PHASE" "$T_END") s)"

load_stop
read -r low hash root <<<"$(same_finalized "${HONEST[@]}")"
note "Alice, Bob and Charlie agree on finalized block #$low ($hash)"
if [ "$QUICK" = 1 ]; then
	rep read_back_through "Alice Bob Charlie (Dave, still on its tampered runtime, is not asked)"
	note "quick form: acknowledged puts read back through the honest validators only; Dave still runs its tampered runtime"
	verify_writes "${HONEST[@]}"
else
	rep read_back_through "Alice Bob Charlie Dave (after Dave's restart on the chain's runtime)"
	node_stop "$BYZ"
	NODE_ARGS[$BYZ]=""
	node_start "$BYZ"
	inject "restart Dave with the chain's own runtime"
	F=$(finalized 1)
	wait_until 180 "Dave is back" node_ready "$BYZ"
	wait_until 120 "Dave catches up" all_finalized_ge "$F" "$BYZ"
	read -r low hash root <<<"$(same_finalized 1 2 3 4)"
	note "with the real runtime again Dave follows the honest chain: all four agree on finalized block #$low ($hash)"
	verify_writes 1 2 3 4
fi
