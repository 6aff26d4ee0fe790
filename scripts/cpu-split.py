#!/usr/bin/env python3
"""Where the CPU goes: splits `perf script` samples (recorded with call graphs) two ways.

- By operation: the innermost frame that says what the CPU was doing (wasm execution, trie
  work, signature checks, hashing, the database, JSON, ...). Memory copies and allocation are
  charged to the operation that called them; a sample with no such frame keeps its leaf's kind
  (kernel, memory, other).
- By component: the outermost frame that says which part of the node did it (block
  authoring, block import, the transaction pool, GRANDPA, the network, the JSON-RPC server,
  the etcd API, ...). Samples whose stack was cut before any such frame are counted as
  "unattributed (stack cut short)".

Usage: perf script --no-inline -F comm,tid,period,ip,sym,dso -i perf.data | cpu-split.py \
         [--seconds S --cpus N --hz F] [--json out.json]
Used by scripts/profile.sh; the figures are in docs/results.md ("Where the CPU goes").
"""
import argparse
import json
import re
import sys
from collections import Counter

# (name, pattern on a frame "symbol (dso)"), innermost match wins. Order breaks ties within
# one frame.
OPERATIONS = [
    ("key derivation (keystore)", r"pbkdf2|substrate_bip39|sha2::sha512|hmac::"),
    ("signatures (sr25519/ed25519)", r"schnorrkel|curve25519_dalek|ed25519|merlin|keccak|sp_core::sr25519|sp_core::ed25519|sp_io::crypto"),
    ("hashing (blake2, xxhash)", r"blake2|twox|xxhash|sp_crypto_hashing"),
    ("database (ParityDb)", r"parity_db"),
    ("trie and state", r"trie_db|sp_trie|memory_db|sp_state_machine|hash_db|sc_client_db::.*state|storage_cache"),
    ("wasm execution", r"perf-\d+\.map|wasmtime|sc_executor"),
    ("JSON-RPC encoding", r"serde_json|impl_serde|jsonrpsee|faster_hex|\bhex::|array_bytes"),
    ("gRPC and protobuf", r"tonic|prost|\bh2::|hyper::"),
    ("SCALE codec", r"parity_scale_codec"),
    ("network transport", r"libp2p|litep2p|yamux|\bsnow::|ring_core|multistream|sc_network|sc_utils::mpsc"),
    ("socket I/O and thread wake-ups", r"tokio::net|tokio::runtime::io|mio::|parking_lot::condvar|futex"),
    ("async runtime and channels", r"tokio::|futures_|async_channel|async_lock|event_listener|parking_lot|crossbeam"),
    ("metrics and logging", r"prometheus::|tracing|log::|sc_tracing|sc_informant"),
]
GENERIC = re.compile(
    r"^(_int_|__memmove|__memcpy|__memset|__memcmp|malloc|free|cfree|realloc|calloc|__libc_|__GI_"
    r"|unlink_chunk|alloc::|core::|std::|hashbrown::|<alloc::|<core::|<std::|\[unknown\])"
)
KERNEL = re.compile(r"\[kernel|kallsyms")
MEMORY = re.compile(r"_int_|mem(move|cpy|set|cmp)|malloc|free|realloc|calloc|unlink_chunk|alloc::")

# (name, pattern), outermost match wins.
COMPONENTS = [
    ("block authoring (incl. its own import)", r"sc_consensus_slots|sc_basic_authorship|sc_consensus_aura::.*(on_slot|propose)"),
    ("block import", r"import_queue|BasicQueue|import_block|execute_and_import|sc_consensus::block_import"),
    ("transaction pool", r"sc_transaction_pool|validate_transaction"),
    ("GRANDPA", r"sc_consensus_grandpa|finality_grandpa"),
    ("etcd API", r"regchain_etcd|\btonic::|\bh2::"),
    ("regchain client in the node (submit, follow blocks)", r"regchain_client"),
    ("registry RPC, revision index, read index", r"regchain_node::(registry_rpc|read_index)"),
    ("JSON-RPC server", r"jsonrpsee|sc_rpc"),
    ("database (commit and log threads)", r"parity_db"),
    ("network", r"sc_network|libp2p|litep2p|sc_authority_discovery"),
    ("metrics, telemetry, informant", r"prometheus::|sc_informant|sc_telemetry"),
]
# When no frame names a component: the outermost of these, as a hint.
FALLBACKS = [
    # perf cannot unwind through JIT-compiled wasm: a host function called by the runtime
    # (storage, hashing, signature checks) shows no caller outside wasmtime.
    ("runtime (wasm) calls, caller not unwound", r"wasmtime::"),
    ("other tasks on the blocking pool", r"tokio::runtime::blocking"),
]


def samples(stream):
    """Yields (comm, [frames innermost first]) for each sample of `perf script`."""
    comm, frames = None, []
    for line in stream:
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif line[0] in " \t":
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
        else:
            comm, frames = line.split()[0], []
    if comm is not None:
        yield comm, frames


def operation(comm, frames, rules):
    if comm == "swapper":
        return "idle"
    if comm == "etcdctl":
        return "etcdctl (the load generator)"
    for frame in frames:
        for name, pattern in rules:
            if pattern.search(frame):
                return name
    leaf = frames[0] if frames else ""
    if KERNEL.search(leaf):
        return "kernel (syscalls, scheduling, faults)"
    if MEMORY.search(leaf):
        return "memory (allocation, copies), caller unknown"
    return "other"


def component(comm, frames, rules):
    if comm == "swapper":
        return "idle"
    if comm == "etcdctl":
        return "etcdctl (the load generator)"
    if frames and "page_fault" in frames[-1]:
        return "kernel page faults, caller not unwound"
    if not comm.startswith(("regchain-node", "tokio-rt-worker", "rpc", "futures-timer",
                            "offchain-worker", "log-autoflush", "libp2p", "litep2p",
                            "parity-db", "basic-authorship", "block-import", "txpool")):
        return "other processes and kernel threads"
    for rule_set in rules:
        for frame in reversed(frames):
            for name, pattern in rule_set:
                if pattern.search(frame):
                    return name
    return "unattributed (stack cut short)"


def table(title, counts, total, capacity, cpus):
    rows = [f"| {title} | share of samples | CPU (cores) |", "|---|---|---|"]
    for name, n in counts.most_common():
        # An idle CPU is sampled only while its timer tick runs: no CPU figure for it.
        cores = f"{n / capacity * cpus:.2f}" if capacity and name != "idle" else "-"
        rows.append(f"| {name} | {100 * n / total:.1f} % | {cores} |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, help="the recording's length")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--hz", type=float, help="perf record -F")
    parser.add_argument("--json", help="also write the counts here")
    args = parser.parse_args()
    op_rules = [(n, re.compile(p)) for n, p in OPERATIONS]
    comp_rules = [[(n, re.compile(p)) for n, p in rules] for rules in (COMPONENTS, FALLBACKS)]
    ops, comps, total = Counter(), Counter(), 0
    for comm, frames in samples(sys.stdin):
        total += 1
        ops[operation(comm, frames, op_rules)] += 1
        comps[component(comm, frames, comp_rules)] += 1
    if not total:
        sys.exit("cpu-split: no samples on stdin (record with perf record -a -g --call-graph dwarf)")
    capacity = args.seconds * args.cpus * args.hz if args.seconds and args.hz else 0
    busy = total - ops["idle"]
    print(f"{total} samples" + (f"; busy: {busy / capacity * args.cpus:.2f} cores of {args.cpus}" if capacity else ""))
    print()
    print(table("By operation", ops, total, capacity, args.cpus))
    print()
    print(table("By component", comps, total, capacity, args.cpus))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"samples": total, "capacity": capacity, "operations": ops, "components": comps}, out, indent=1)


if __name__ == "__main__":
    main()
