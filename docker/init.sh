#!/bin/sh
# regchain-init [DIR]: prepares the four-validator chain of docker/compose.yml and
# scripts/containers.sh (Alice, Bob, Charlie, Dave) in DIR, by default /data. Installed in the
# image as /usr/local/bin/regchain-init; it needs only regchain-node and a POSIX shell.
#
#   DIR/chain-spec.json           the raw chain spec of the `local` preset
#   DIR/validatorI.node-key       validator I's node key, 0x00…0I (I = 1..4)
#   DIR/validatorI.peer-id        its libp2p peer id
#   DIR/validatorI.etcd-signer    the account that signs the writes made through its etcd API
#   DIR/validatorI/               its base path, with its Aura (sr25519) and GRANDPA (ed25519)
#                                 keys in the keystore
#   DIR/init.done                 written last
#
# The `local` preset already has these four accounts as orchestrators, validators (session keys)
# and authorized nodes (node keys 0x00…01 to 0x00…04): its genesis is the one scripts/testnet.sh
# builds for -n 4, so no patching (and no Python) is needed here.
#
# Run again on a DIR that holds init.done, it changes nothing, so that a restarted cluster keeps
# its chain. REGCHAIN_INIT_FORCE=1 wipes DIR's chain and starts over.
set -eu

DIR="${1:-/data}"
NODE="${REGCHAIN_INIT_NODE:-regchain-node}"

# The raw secret seed of the development key //NAME. The keystore rebuilds a key from what its
# file holds at every signature: from a seed that is cheap, from a derivation path such as
# //Alice it runs BIP-39's 2,048 rounds of PBKDF2 each time, about a quarter of an idle
# validator's CPU for Aura's and GRANDPA's signatures (docs/results.md, "Where the CPU goes").
secret_seed() { # secret_seed SCHEME NAME
	"$NODE" key inspect --scheme "$1" "//$2" | awk '/Secret seed/ { print $3 }'
}
NAMES="Alice Bob Charlie Dave"

if [ -f "$DIR/init.done" ] && [ "${REGCHAIN_INIT_FORCE:-0}" != 1 ]; then
	echo "regchain-init: $DIR is already initialised (REGCHAIN_INIT_FORCE=1 starts over)"
	exit 0
fi
# DIR may be a mount point: empty it rather than remove it.
rm -rf "$DIR/init.done" "$DIR/chain-spec.json" "$DIR"/validator*
mkdir -p "$DIR"
umask 077

"$NODE" export-chain-spec --chain local --raw --output "$DIR/chain-spec.json" >/dev/null 2>&1 ||
	{ echo "regchain-init: export-chain-spec failed" >&2; exit 1; }

i=0
for name in $NAMES; do
	i=$((i + 1))
	base="$DIR/validator$i"
	printf '%064x' "$i" >"$base.node-key"
	"$NODE" key inspect-node-key --file "$base.node-key" >"$base.peer-id"
	# Development secret URIs: the same keys as `--alice` … `--dave`. Not for a real chain.
	printf '//%s\n' "$name" >"$base.etcd-signer"
	"$NODE" key insert --base-path "$base" --chain "$DIR/chain-spec.json" \
		--scheme sr25519 --suri "$(secret_seed sr25519 "$name")" --key-type aura
	"$NODE" key insert --base-path "$base" --chain "$DIR/chain-spec.json" \
		--scheme ed25519 --suri "$(secret_seed ed25519 "$name")" --key-type gran
	echo "regchain-init: validator $i ($name) peer id $(cat "$base.peer-id")"
done
date -u +%Y-%m-%dT%H:%M:%SZ >"$DIR/init.done"
echo "regchain-init: chain spec $DIR/chain-spec.json (4 validators)"
