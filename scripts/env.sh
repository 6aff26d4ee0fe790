# Shared settings for regchain's scripts; sourced, not run.
#
# The cargo target directory lives outside the work tree so that builds survive between clones,
# sessions and CI runs on the same machine. One profile only: tests and binaries share --release.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/regchain/target}"
REGCHAIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REGCHAIN_NODE="${REGCHAIN_NODE:-$CARGO_TARGET_DIR/release/regchain-node}"
export REGCHAIN_ROOT REGCHAIN_NODE

# Builds the whole workspace in release mode, binaries and tests alike (incremental when already
# built). Building every target at once resolves features once: a later `cargo test` then reuses
# these artifacts instead of rebuilding the runtime and the node with its dev-dependencies'
# features.
build_release() {
	(cd "$REGCHAIN_ROOT" && cargo build --release --workspace --all-targets --locked)
}

# The browser origins the validators' JSON-RPC accepts (`--rpc-cors`): pages served from this
# machine and polkadot.js apps, as a stock Substrate node allows by default. Never `all`: with
# unsafe RPC methods open on loopback, any web page could then call `author_insertKey`.
REGCHAIN_RPC_CORS="http://localhost:*,http://127.0.0.1:*,https://localhost:*,https://127.0.0.1:*,https://polkadot.js.org"
export REGCHAIN_RPC_CORS
