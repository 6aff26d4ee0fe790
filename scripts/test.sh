#!/usr/bin/env bash
# Runs regchain's whole test suite: unit tests, then the tests that start real node processes.
# Builds first (release profile only; the target directory is $CARGO_TARGET_DIR, by default
# ~/.cache/regchain/target, outside the work tree).
#
#   scripts/test.sh          everything: the README's test command, and CI's
#   scripts/test.sh --fast   the inner loop, a few minutes once built: every unit test (the
#                            pallet's model test among them), the differential test against a
#                            real etcd, the etcdctl and gateway scripts, the registry RPC's
#                            reads and the CLI's errors, each on one --dev node
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REGCHAIN_ROOT"

fast=0
case "${1:-}" in
	"") ;;
	--fast) fast=1 ;;
	*) echo "usage: scripts/test.sh [--fast]" >&2; exit 2 ;;
esac

started=$(date +%s)
# Formatting is part of the build: rustfmt.toml (polkadot-sdk's options that stable rustfmt
# has); `cargo fmt --all` fixes what this refuses. The vendored crates are not workspace members.
cargo fmt --all --check >/dev/null || { echo "test: not formatted as rustfmt.toml says: run cargo fmt --all" >&2; exit 1; }
build_release
echo "test: build took $(( $(date +%s) - started )) s"

if [ "$fast" = 1 ]; then
	cargo test --release --workspace --locked --lib --bins
	# Tests that start nodes, one at a time (see below), each selected by its exact name.
	fast_tests() { # fast_tests TEST_FILE NAME...
		local file=$1
		shift
		cargo test --release --locked -p regchain-testing --test "$file" -- --test-threads=1 --exact "$@"
	}
	fast_tests etcd_differential kv_txn_and_lease_answers_match_a_real_etcd
	fast_tests etcd etcdctl_reads_and_writes_the_registry_key_space \
		the_etcdctl_and_gateway_scripts_pass_against_a_real_etcd the_http_gateway_answers_like_etcds \
		the_http_gateway_refuses_other_hosts_and_browser_origins
	fast_tests registry_rpc read_methods_return_what_was_written_and_history_names_the_writer \
		malformed_parameters_get_a_json_rpc_error_and_the_node_keeps_serving
	fast_tests cli errors_are_one_line_with_a_non_zero_exit_status
	fast_tests foundation unknown_chain_fails_with_one_line malformed_chain_spec_fails_with_one_line
	echo "test: fast tier took $(( $(date +%s) - started )) s"
	exit 0
fi

# polkadot.js for tests/polkadot_js.rs, at the versions in package-lock.json.
(cd testing/js && npm ci --no-audit --no-fund --loglevel=error)

# Tests that start nodes run one at a time: they use many processes and ports, and timing
# (finality) suffers when two testnets share two cores.
cargo test --release --workspace --locked -- --test-threads=1

# The benchmark harness, a few seconds a workload (the full run is documented in
# docs/results.md). Its figures are not asserted, but a request that fails in a workload that
# should have none fails the run.
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
