#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build regchain. Safe to rerun.
#   - protoc (protobuf-compiler): litep2p's build script needs it;
#   - clang and libclang-dev: bindgen, for crates that wrap C;
#   - make: tikv-jemalloc-sys builds jemalloc, the node's allocator, with it;
#   - the wasm32v1-none Rust target: the runtime is compiled to it;
#   - Node.js and npm: a test drives the chain with polkadot.js (@polkadot/api);
#   - etcdctl and etcd 3.4 (etcd-client, etcd-server): the etcd API is tested with the real
#     etcdctl, and side by side with a real etcd;
#   - openssl: the etcd API's TLS test makes its certificates with it;
#   - python3-matplotlib: bench/plot.py draws the benchmark's plots;
#   - faketime, zstd, iproute2 and iptables: the fault tests (scripts/faults.sh) run a validator
#     under libfaketime, decompress the runtime held in the chain spec, and put validators in
#     network namespaces.
set -euo pipefail

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v clang >/dev/null 2>&1 || missing+=(clang)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null || missing+=(python3-matplotlib)
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)

if ((${#missing[@]})); then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "setup: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32v1-none; then
	echo "setup: adding the wasm32v1-none Rust target"
	rustup target add wasm32v1-none
fi
if ! rustup component list --installed | grep -q '^rustfmt'; then
	echo "setup: adding rustfmt (scripts/test.sh checks the formatting)"
	rustup component add rustfmt
fi

echo "setup: ok (protoc $(protoc --version | cut -d' ' -f2), $(rustc --version))"
