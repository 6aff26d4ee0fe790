#!/usr/bin/env bash
# censor: one validator (Dave) refuses to include registry transactions. Without changing the
# node, a validator whose transaction pool takes nothing approximates a censoring author: Dave
# is restarted with --pool-limit 0 --pool-kbytes 0, so the blocks it authors carry only the
# timestamp inherent.
#
# Expected: Dave's blocks are empty (checked block by block through chain_getBlock, each block's
# author read from its Aura pre-digest); writes submitted to the other validators' etcd APIs
# still finalize through the other authors; the report gives the put latency (p50, p90, p99,
# max) without and with the censor, in the same run. Run through scripts/faults.sh
# (docs/faults.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CENSOR=4
WRITE_TO=(1 2 3)
PHASE=$(qf 20 60) # each of the two measured phases
CENSOR_ARGS="--pool-limit 0 --pool-kbytes 0"

cluster_start
monitor_start 1 2 3 4
load_start "${WRITE_TO[@]}" $(qf "" "${WRITE_TO[*]}")

measure() { # measure TAG: one phase of PHASE s; its latency, and who authored what
	local tag=$1 t0 t1 f0 f1
	f0=$(finalized 1)
	t0=$(now)
	pause "$PHASE"
	t1=$(now)
	f1=$(finalized 1)
	read -r n p50 p90 p99 max <<<"$(latency "$t0" "$t1")"
	rep "$tag.puts_acked" "$n"
	rep "$tag.latency_s.p50" "$p50"
	rep "$tag.latency_s.p90" "$p90"
	rep "$tag.latency_s.p99" "$p99"
	rep "$tag.latency_s.max" "$max"
	rep "$tag.blocks" "#$((f0 + 1))-#$f1"
	chain blocks --aura-keys "$CHAIN/aura.keys" --from $((f0 + 1)) --to "$f1" \
		--out "$DIR/$tag.blocks.tsv" $(node_spec 1) >"$DIR/$tag.authors.json"
	"$PYTHON" - "$DIR/$tag.authors.json" "$tag" >>"$DIR/report.tsv" <<-'PY'
		import json, sys
		doc, tag = json.load(open(sys.argv[1])), sys.argv[2]
		for who, s in doc["per_author"].items():
		    for k, v in s.items():
		        print(f"{tag}.authored.{who}.{k}\t{v}")
	PY
	[ "$n" -gt 0 ] || fail "no put acknowledged in the $tag phase"
	say "  $tag: $n puts acknowledged, latency p50 $p50 s, p90 $p90 s, p99 $p99 s, max $max s; blocks #$((f0 + 1))-#$f1"
}
authored() { # authored TAG AUTHOR FIELD
	"$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["per_author"].get(sys.argv[2], {}).get(sys.argv[3], 0))' \
		"$DIR/$1.authors.json" "$2" "$3"
}

pause 3
measure baseline
D_TX=$(authored baseline Dave txs)
note "baseline, four honest authors: Dave's blocks carried $D_TX transactions"

node_stop "$CENSOR"
NODE_ARGS[$CENSOR]=$CENSOR_ARGS
node_start "$CENSOR"
inject "restart Dave with $CENSOR_ARGS: its pool takes no transaction, its blocks carry none"
wait_until 180 "Dave is back" node_ready "$CENSOR"
F_NOW=$(finalized 1)
wait_until 60 "Dave catches up with finalized #$F_NOW" all_finalized_ge "$F_NOW" "$CENSOR"
# Dave's own etcd API cannot hand a transaction to its pool.
if on "$CENSOR" etcdctl --endpoints="127.0.0.1:$(etcd_port "$CENSOR")" --dial-timeout=2s --command-timeout=10s \
	put "/faults/$TEST/probe-through-censor" x >"$DIR/probe.out" 2>&1; then
	PROBE="acknowledged"
else
	PROBE="refused: $(grep -m1 '^Error:' "$DIR/probe.out" | cut -c1-160)"
fi
rep censor.put_through_censor "$PROBE"
note "a put through the censor's own etcd API: $PROBE"
pause 3
measure censored

D_BLOCKS=$(authored censored Dave blocks)
D_TX=$(authored censored Dave txs)
O_TX=0
for who in Alice Bob Charlie; do O_TX=$((O_TX + $(authored censored "$who" txs))); done
[ "$D_BLOCKS" -gt 0 ] || fail "Dave authored no block in the censored phase"
[ "$D_TX" = 0 ] || fail "Dave's blocks carried $D_TX transactions with $CENSOR_ARGS"
[ "$O_TX" -gt 0 ] || fail "no transaction in the other authors' blocks"
note "with Dave censoring: Dave authored $D_BLOCKS blocks carrying 0 transactions; Alice, Bob and Charlie's blocks carried $O_TX"
figure() { awk -F'\t' -v k="$1" '$1 == k {print $2}' "$DIR/report.tsv"; }
added=""
for p in p50 p90 p99 max; do
	b=$(figure "baseline.latency_s.$p")
	c=$(figure "censored.latency_s.$p")
	rep "added_latency_s.$p" "$(since "$b" "$c")"
	added+="${added:+, }$p $b / $c s ($(since "$b" "$c" | sed 's/^\([0-9]\)/+\1/'))"
done
note "put latency without / with the censor: $added"

load_stop
read -r low hash root <<<"$(same_finalized 1 2 3 4)"
note "all four agree on finalized block #$low ($hash)"
verify_writes 1 2 3 4
