#!/usr/bin/env bash
# Regenerates pallets/service-registry/src/weights.rs from the pallet's benchmarks.
#
#   scripts/weights.sh [--steps N] [--repeat N]
#
# It installs frame-omni-bencher 0.28.0, the stable2609 release (once, into
# ~/.cache/regchain/omni), builds the runtime with `runtime-benchmarks` in its own target
# directory (so that the node's normal build never carries benchmarking code), and runs every
# benchmark of pallet-service-registry on this machine.
# Takes about 30 minutes the first time on 2 cores, a few minutes after.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

STEPS=50
REPEAT=20
while [[ $# -gt 0 ]]; do
	case "$1" in
		--steps) STEPS="$2"; shift 2 ;;
		--repeat) REPEAT="$2"; shift 2 ;;
		*) echo "weights.sh: unknown option $1 (try --steps N, --repeat N)" >&2; exit 2 ;;
	esac
done

OMNI_ROOT="${OMNI_ROOT:-$HOME/.cache/regchain/omni}"
OMNI="$OMNI_ROOT/bin/frame-omni-bencher"
BENCH_TARGET="${BENCH_TARGET:-$HOME/.cache/regchain/bench-target}"

if [[ ! -x "$OMNI" ]]; then
	echo "Installing frame-omni-bencher into $OMNI_ROOT ..."
	CARGO_TARGET_DIR="$OMNI_ROOT/target" cargo install frame-omni-bencher --version 0.28.0 --locked --root "$OMNI_ROOT"
fi

echo "Building the benchmarking runtime in $BENCH_TARGET ..."
(cd "$REGCHAIN_ROOT" && CARGO_TARGET_DIR="$BENCH_TARGET" \
	cargo build --release --locked -p regchain-runtime --features runtime-benchmarks)
WASM="$BENCH_TARGET/release/wbuild/regchain-runtime/regchain_runtime.compact.compressed.wasm"

cd "$REGCHAIN_ROOT"
"$OMNI" v1 benchmark pallet \
	--runtime "$WASM" \
	--genesis-builder-policy runtime \
	--pallet pallet_service_registry --extrinsic '*' \
	--steps "$STEPS" --repeat "$REPEAT" \
	--wasm-execution compiled --heap-pages 4096 \
	--template scripts/weight-template.hbs \
	--output pallets/service-registry/src/weights.rs
echo "Wrote pallets/service-registry/src/weights.rs"
