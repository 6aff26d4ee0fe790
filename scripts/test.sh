#!/usr/bin/env bash
# Runs regchain's whole test suite: unit tests, then the tests that start real node processes.
# Builds first (release profile only; the target directory is $CARGO_TARGET_DIR, by default
# ~/.cache/regchain/target, outside the work tree).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REGCHAIN_ROOT"

started=$(date +%s)
build_release
echo "test: build took $(( $(date +%s) - started )) s"

# polkadot.js for tests/polkadot_js.rs, at the versions in package-lock.json.
(cd testing/js && npm ci --no-audit --no-fund --loglevel=error)

# Tests that start nodes run one at a time: they use many processes and ports, and timing
# (finality) suffers when two testnets share two cores.
cargo test --release --workspace --locked -- --test-threads=1

# The benchmark harness, a few seconds a workload (the full run is documented in
# docs/results.md; its figures are not asserted here).
bash scripts/bench.sh --quick

# The demos, in short form: the native registry on four validator containers (Podman), and
# PostgreSQL under Patroni on the validators' etcd API. Both need root, as CI runs.
bash scripts/demo.sh --short
bash scripts/demo-patroni.sh
# docker/compose.yml with its demo services and its Patroni members, under podman-compose (root,
# as Podman here).
bash scripts/compose-check.sh --patroni

# The registry's benchmarks, each run once as a test (impl_benchmark_test_suite!).
cargo test --release --locked -p pallet-service-registry --features runtime-benchmarks
# The fault tests, quick form (docs/faults.md): one and two validators down, a partition in
# network namespaces, a crash of all, equivocation, a tampered-runtime author, a censoring
# author and a skewed clock, each under etcdctl load, asserting on its report's counts of puts
# sent, acknowledged and read back. Root, as CI runs. The full form is run by hand.
bash scripts/faults.sh --quick --reports "$CARGO_TARGET_DIR/faults-quick"
echo "test: build and tests took $(( $(date +%s) - started )) s"
