#!/usr/bin/env bash
# A local regchain testnet of N validators (default 4) on loopback.
#
#   scripts/testnet.sh [-n N] [--etcd] [--detach]   build if needed, start, print endpoints;
#                                                   Ctrl-C stops
#   scripts/testnet.sh stop                stop every node this script started
#   scripts/testnet.sh status              show each node's best and finalized block
#
# All data (chain spec, keystores, databases, logs, pids) lives under one directory:
# $REGCHAIN_TESTNET_DIR, by default /tmp/regchain-testnet. A new start wipes it.
# Validator i (1-based) listens on RPC 9943+i, P2P 30332+i and Prometheus 9614+i, on 127.0.0.1;
# with --etcd, it also serves the etcd v3 API on 127.0.0.1:2378+i (validator 1 on etcd's usual
# 2379), writes signed by its own account. $REGCHAIN_NODE_ARGS adds options to every validator
# (for example "--grandpa-vote-lag 2 --grandpa-gossip-ms 100"; split on spaces).
# $REGCHAIN_TESTNET_PORT_SHIFT (default 0) is added to every port, to run a second testnet
# beside the first (with its own $REGCHAIN_TESTNET_DIR).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

DIR="${REGCHAIN_TESTNET_DIR:-/tmp/regchain-testnet}"
SHIFT="${REGCHAIN_TESTNET_PORT_SHIFT:-0}"
[[ "$SHIFT" =~ ^[0-9]+$ ]] || { echo "testnet: REGCHAIN_TESTNET_PORT_SHIFT takes a whole number" >&2; exit 1; }
SEEDS=(Alice Bob Charlie Dave Eve Ferdie)

die() { echo "testnet: $*" >&2; exit 1; }

# The raw secret seed of the development key //NAME. The keystore rebuilds a key from what its
# file holds at every signature: from a seed that is cheap, from a derivation path such as
# //Alice it runs BIP-39's 2,048 rounds of PBKDF2 each time, about a quarter of an idle
# validator's CPU for Aura's and GRANDPA's signatures (docs/results.md, "Where the CPU goes").
secret_seed() { # secret_seed SCHEME NAME
	"$REGCHAIN_NODE" key inspect --scheme "$1" "//$2" | awk '/Secret seed/ { print $3 }'
}

stop() {
	[ -f "$DIR/pids" ] || { echo "testnet: nothing to stop in $DIR"; return 0; }
	while read -r pid; do
		kill "$pid" 2>/dev/null || true
	done <"$DIR/pids"
	# Give nodes a moment to close their databases, then make sure they are gone.
	for _ in $(seq 50); do
		alive=0
		while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$DIR/pids"
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$DIR/pids"
	rm -f "$DIR/pids"
	echo "testnet: stopped"
}

rpc() { # rpc PORT METHOD [PARAMS]
	curl -sf -H 'Content-Type: application/json' \
		-d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "http://127.0.0.1:$1"
}

status() {
	[ -f "$DIR/pids" ] || die "not running (no $DIR/pids)"
	local i=0
	while read -r _; do
		i=$((i + 1))
		local port=$((9943 + SHIFT + i)) best fin
		# Finalized first: read the other way round, a block finalized between the two
		# calls would show finalized above best.
		fin=$(rpc $port chain_getFinalizedHead | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])' 2>/dev/null || true)
		[ -n "$fin" ] && fin=$(rpc $port chain_getHeader "[\"$fin\"]" | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["result"]["number"],16))')
		best=$(rpc $port chain_getHeader | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["result"]["number"],16))' 2>/dev/null || echo down)
		echo "validator $i  ws://127.0.0.1:$port  best $best  finalized ${fin:-?}"
	done <"$DIR/pids"
}

seed_name() { # the i-th (1-based) validator's key seed name
	local i=$1
	if [ "$i" -le "${#SEEDS[@]}" ]; then echo "${SEEDS[$((i - 1))]}"; else echo "Validator$i"; fi
}

public_key() { # public_key SCHEME SURI -> SS58 address of the key
	"$REGCHAIN_NODE" key inspect --scheme "$1" --output-type json "$2" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["ss58PublicKey"])'
}

start() {
	local n=4 detach=0 etcd=0 extra=()
	while [ $# -gt 0 ]; do
		case "$1" in
			-n) n="$2"; shift 2 ;;
			--etcd) etcd=1; shift ;;
			--detach) detach=1; shift ;;
			*) die "unknown option $1 (usage: testnet.sh [-n N] [--etcd] [--detach] | stop | status)" ;;
		esac
	done
	read -r -a extra <<<"${REGCHAIN_NODE_ARGS:-}"
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 32 ] || die "-n takes 1 to 32 validators"
	[ "$n" -ge 4 ] || echo "testnet: warning: with $n validators GRANDPA tolerates no failure (4 tolerate one)"

	[ -f "$DIR/pids" ] && stop
	[ -x "$REGCHAIN_NODE" ] || { echo "testnet: building regchain-node (release)"; build_release; }
	rm -rf "$DIR"
	mkdir -p "$DIR"

	# A chain spec from the `local` preset, with this testnet's validators as orchestrators,
	# validators (session keys) and authorized nodes (node key i is 0x00..0i).
	local accounts=() aura=() gran=() peers=()
	for i in $(seq "$n"); do
		accounts+=("$(public_key sr25519 "//$(seed_name "$i")")")
		aura+=("$(public_key sr25519 "//$(seed_name "$i")")")
		gran+=("$(public_key ed25519 "//$(seed_name "$i")")")
		printf '%064x' "$i" >"$DIR/validator$i.node-key"
		peers+=("$("$REGCHAIN_NODE" key inspect-node-key --file "$DIR/validator$i.node-key")")
	done
	"$REGCHAIN_NODE" export-chain-spec --chain local --output "$DIR/plain.json" >/dev/null
	python3 - "$DIR/plain.json" "${accounts[*]}" "${aura[*]}" "${gran[*]}" "${peers[*]}" <<'PY'
import json, sys
path, accounts, aura, gran, peers = sys.argv[1], *(a.split() for a in sys.argv[2:])
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
def b58decode(text):
    n = 0
    for c in text:
        n = n * 58 + B58.index(c)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return list(bytes(len(text) - len(text.lstrip("1"))) + body)
spec = json.load(open(path))
patch = spec["genesis"]["runtimeGenesis"]["patch"]
patch["orchestrators"]["members"] = accounts
patch["validatorSet"] = {"validators": accounts, "minValidators": min(len(accounts), 4)}
patch["session"]["keys"] = [[a, a, {"aura": x, "grandpa": g}] for a, x, g in zip(accounts, aura, gran)]
patch["nodeAuthorization"]["nodes"] = [[b58decode(p), a] for p, a in zip(peers, accounts)]
spec["bootNodes"] = []
json.dump(spec, open(path, "w"), indent=2)
PY
	"$REGCHAIN_NODE" export-chain-spec --chain "$DIR/plain.json" --raw --output "$DIR/chain-spec.json" >/dev/null
	echo "testnet: chain spec $DIR/chain-spec.json ($n validators)"

	# Each validator keeps every other one as a reserved peer, dialled again whenever the
	# connection drops, over the libp2p network backend: a validator back from a crash rejoins
	# the full mesh GRANDPA needs at once (docs/guide.md, "Validator connectivity").
	for i in $(seq "$n"); do
		local name base reserved=()
		name=$(seed_name "$i")
		base="$DIR/validator$i"
		for j in $(seq "$n"); do
			[ "$j" = "$i" ] || reserved+=(--reserved-nodes "/ip4/127.0.0.1/tcp/$((30332 + SHIFT + j))/p2p/${peers[$((j - 1))]}")
		done
		"$REGCHAIN_NODE" key insert --base-path "$base" --chain "$DIR/chain-spec.json" \
			--scheme sr25519 --suri "$(secret_seed sr25519 "$name")" --key-type aura
		"$REGCHAIN_NODE" key insert --base-path "$base" --chain "$DIR/chain-spec.json" \
			--scheme ed25519 --suri "$(secret_seed ed25519 "$name")" --key-type gran
		local p2p=$((30332 + SHIFT + i)) api=()
		if [ "$etcd" = 1 ]; then
			echo "//$name" >"$DIR/validator$i.etcd-signer"
			chmod 600 "$DIR/validator$i.etcd-signer"
			api=(--etcd-listen "127.0.0.1:$((2378 + SHIFT + i))" --etcd-signer-file "$DIR/validator$i.etcd-signer")
		fi
		"$REGCHAIN_NODE" --validator --chain "$DIR/chain-spec.json" --name "$name" \
			--base-path "$base" --node-key-file "$DIR/validator$i.node-key" \
			--listen-addr "/ip4/127.0.0.1/tcp/$p2p" \
			--rpc-port $((9943 + SHIFT + i)) --rpc-cors "$REGCHAIN_RPC_CORS" \
			--prometheus-port $((9614 + SHIFT + i)) \
			--no-mdns --no-telemetry --network-backend libp2p "${reserved[@]}" "${api[@]}" "${extra[@]}" \
			>"$DIR/validator$i.log" 2>&1 &
		echo $! >>"$DIR/pids"
	done

	for i in $(seq "$n"); do
		local port=$((9943 + SHIFT + i))
		for _ in $(seq 300); do rpc $port system_health >/dev/null 2>&1 && break; sleep 0.1; done
		rpc $port system_health >/dev/null 2>&1 || { stop; die "validator $i did not start; see $DIR/validator$i.log"; }
		echo "testnet: $(seed_name "$i") (validator $i): RPC ws://127.0.0.1:$port$([ "$etcd" = 1 ] && echo "  etcd 127.0.0.1:$((2378 + SHIFT + i))")  log $DIR/validator$i.log"
	done
	echo "testnet: all data under $DIR; polkadot.js apps: https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A$((9944 + SHIFT))"

	if [ "$detach" = 0 ]; then
		trap 'echo; stop; exit 0' INT TERM
		echo "testnet: running; Ctrl-C stops every node"
		while sleep 5; do status | sed 's/^/  /'; done
	fi
}

case "${1:-start}" in
	stop) stop ;;
	status) status ;;
	start) shift || true; start "$@" ;;
	-*) start "$@" ;;
	*) die "usage: testnet.sh [start] [-n N] [--detach] | stop | status" ;;
esac
