#!/usr/bin/env python3
"""Per-block figures of a loaded testnet, from its authors' logs, its state and its metrics.

    block-stats.py --rpc-port 9944 --logs DIR --from N --to M --metrics BEFORE AFTER [--json F]

For each block N..M of the best chain:
- registry writes it made: `ServiceRegistry::CurrentRevision` at the block minus at its parent
  (each put, delete and txn takes one revision);
- its normal-class weight (`System::BlockWeight`), as a share of the 93.75 ms that normal
  calls may use in a 250 ms block.
From the authors' "Prepared block for proposing" lines in DIR/validator*.log, for every block
prepared at heights N..M, including those that lost a fork (the logged hash is the block's before
its seal, so it cannot be matched to the chain): extrinsics, build time, why the author stopped
(no more transactions, the weight limit, the deadline), and how many heights were prepared more
than once. From BEFORE and AFTER, directories of Prometheus text (one file per validator), taken before
and after the load: how long validators took to verify and import blocks authored by others
(`substrate_block_verification_and_import_time`) and to build their own
(`substrate_proposer_block_constructed`), as means and histogram quantiles over the window.
Prints a Markdown summary; --json writes every block's figures.
"""
import argparse
import glob
import json
import os
import re
import sys
import urllib.request

# The SCALE compact decoder of the fault tests' chain helper (side-effect free to import).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "faults"))
from chain import scale_compact  # noqa: E402

NORMAL_MS = 93.75  # 75 % of the 125 ms of execution a 250 ms block allows (runtime/src/configs)
PREPARED = re.compile(
    r"Prepared block for proposing at (\d+) \((\d+) ms\) hash: (0x[0-9a-f]+); "
    r"parent_hash: [^;]*; end: ([A-Za-z]+); extrinsics_count: (\d+)"
)

M64 = (1 << 64) - 1
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def xxh64_short(data, seed):
    """XXH64 of fewer than 32 bytes (pallet and storage names), as twox128 uses it."""
    assert len(data) < 32
    h, i = (seed + P5 + len(data)) & M64, 0
    while i + 8 <= len(data):
        lane = int.from_bytes(data[i:i + 8], "little")
        k = (rotl((lane * P2) & M64, 31) * P1) & M64
        h = (rotl(h ^ k, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= len(data):
        h = (rotl(h ^ ((int.from_bytes(data[i:i + 4], "little") * P1) & M64), 23) * P2 + P3) & M64
        i += 4
    for byte in data[i:]:
        h = (rotl(h ^ ((byte * P5) & M64), 11) * P1) & M64
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    return h ^ (h >> 32)


def twox128(name):
    return b"".join(xxh64_short(name.encode(), s).to_bytes(8, "little") for s in (0, 1)).hex()


def storage_key(pallet, item):
    return "0x" + twox128(pallet) + twox128(item)


assert storage_key("System", "Number") == \
    "0x26aa394eea5630e07c48ae0c9558cef702a5c1b19ab7a04f536c519aca4983ac"


class Rpc:
    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}"

    def call(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        req = urllib.request.Request(self.url, body.encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.load(resp)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def storage(self, key, block):
        value = self.call("state_getStorage", key, block)
        return bytes.fromhex(value[2:]) if value else None


def revision(rpc, block):
    raw = rpc.storage(storage_key("ServiceRegistry", "CurrentRevision"), block)
    return int.from_bytes(raw, "little") if raw else 0


def normal_weight_ms(rpc, block):
    raw = rpc.storage(storage_key("System", "BlockWeight"), block)
    if not raw:
        return 0.0
    ref_time, _ = scale_compact(raw, 0)  # PerDispatchClass { normal, operational, mandatory }
    return ref_time / 1e9


def histograms(path):
    """Prometheus text: {metric: {"sum": s, "count": c, "buckets": [(le, cumulative)]}}."""
    out = {}
    for line in open(path):
        m = re.match(r'^(substrate_\w+?)_(sum|count|bucket)(\{[^}]*\})? ([0-9.e+-]+|\+Inf)$', line.strip())
        if not m:
            continue
        name, kind, labels, value = m.group(1), m.group(2), m.group(3) or "", float(m.group(4))
        h = out.setdefault(name, {"sum": 0.0, "count": 0.0, "buckets": {}})
        if kind == "bucket":
            le = re.search(r'le="([^"]+)"', labels).group(1)
            h["buckets"][float("inf") if le == "+Inf" else float(le)] = value
        else:
            h[kind] = value
    return out


def window(before, after, metric):
    """The metric's observations between two scrapes of every validator, merged."""
    total = {"sum": 0.0, "count": 0.0, "buckets": {}}
    for b_path, a_path in zip(before, after):
        b, a = histograms(b_path).get(metric), histograms(a_path).get(metric)
        if not a:
            continue
        b = b or {"sum": 0.0, "count": 0.0, "buckets": {}}
        total["sum"] += a["sum"] - b["sum"]
        total["count"] += a["count"] - b["count"]
        for le, n in a["buckets"].items():
            total["buckets"][le] = total["buckets"].get(le, 0.0) + n - b["buckets"].get(le, 0.0)
    return total


def bucket_quantile(h, q):
    """Upper bound of the histogram bucket holding quantile q, in ms."""
    if h["count"] <= 0:
        return float("nan")
    for le in sorted(h["buckets"]):
        if h["buckets"][le] >= q * h["count"]:
            return le * 1000
    return float("inf")


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rpc-port", type=int, default=9944)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--from", dest="first", type=int, required=True)
    ap.add_argument("--to", dest="last", type=int, required=True)
    ap.add_argument("--metrics", nargs=2, metavar=("BEFORE", "AFTER"), required=True)
    ap.add_argument("--json")
    args = ap.parse_args()
    rpc = Rpc(args.rpc_port)

    prepared = []
    for path in sorted(glob.glob(os.path.join(args.logs, "validator*.log"))):
        author = int(re.search(r"validator(\d+)", path).group(1))
        for line in open(path, errors="replace"):
            m = PREPARED.search(line)
            if m and args.first <= int(m.group(1)) <= args.last:
                prepared.append({"number": int(m.group(1)), "author": author, "build_ms": int(m.group(2)),
                                 "end": m.group(4), "extrinsics": int(m.group(5))})

    blocks = []
    parent_rev = revision(rpc, rpc.call("chain_getBlockHash", args.first - 1))
    for n in range(args.first, args.last + 1):
        h = rpc.call("chain_getBlockHash", n)
        rev = revision(rpc, h)
        blocks.append({"number": n, "hash": h, "writes": rev - parent_rev,
                       "normal_ms": round(normal_weight_ms(rpc, h), 3)})
        parent_rev = rev

    if args.json:
        json.dump({"blocks": blocks, "prepared": prepared}, open(args.json, "w"), indent=1)
    before = sorted(glob.glob(os.path.join(args.metrics[0], "*")))
    after = sorted(glob.glob(os.path.join(args.metrics[1], "*")))
    imp = window(before, after, "substrate_block_verification_and_import_time")
    built = window(before, after, "substrate_proposer_block_constructed")

    writes = [b["writes"] for b in blocks]
    loaded = [b for b in blocks if b["writes"] > 0]
    top = sorted(loaded, key=lambda b: b["writes"])[-max(1, len(loaded) // 10):] if loaded else []
    # Prepared blocks that carried more than the timestamp inherent.
    busy = [p for p in prepared if p["extrinsics"] > 1]
    ends, heights = {}, {}
    for p in busy:
        ends[p["end"]] = ends.get(p["end"], 0) + 1
    for p in prepared:
        heights[p["number"]] = heights.get(p["number"], 0) + 1
    print(f"blocks #{args.first}..#{args.last}: {len(blocks)}, {sum(writes)} registry writes, "
          f"{len(loaded)} blocks with writes")
    if not loaded:
        print("no block carried a registry write: nothing to report", file=sys.stderr)
        sys.exit(1)
    print()
    print("| | blocks with writes | fullest tenth |")
    print("|---|---|---|")

    def row(label, key, fmt="{:.0f}"):
        a = [b[key] for b in loaded]
        t = [b[key] for b in top]
        cell = lambda v: (fmt.format(quantile(v, 0.5)) + " (max " + fmt.format(max(v)) + ")") if v else "-"
        print(f"| {label}, median (max) | {cell(a)} | {cell(t)} |")

    row("registry writes per block", "writes")
    row("normal weight used, ms of 93.75", "normal_ms", "{:.1f}")
    print()
    if busy:
        build = [p["build_ms"] for p in busy]
        xts = [p["extrinsics"] for p in busy]
        print(f"Blocks prepared with transactions at heights #{args.first}..#{args.last} (authors' logs, "
              f"forks included): {len(busy)}; build time median {quantile(build, 0.5):.0f} ms, "
              f"p90 {quantile(build, 0.9):.0f} ms, max {max(build)} ms; extrinsics median "
              f"{quantile(xts, 0.5):.0f}, max {max(xts)}; why the author stopped: "
              f"{', '.join(f'{k} {v}' for k, v in sorted(ends.items(), key=lambda kv: -kv[1]))}; "
              f"heights prepared more than once (forks): {sum(1 for v in heights.values() if v > 1)} "
              f"of {len(heights)}.")
        print()
    for label, h in (("verify and import a block authored by another validator", imp),
                     ("build a block (author)", built)):
        if h["count"] > 0:
            print(f"- {label}: {int(h['count'])} blocks, mean {h['sum'] / h['count'] * 1000:.1f} ms, "
                  f"p50 <= {bucket_quantile(h, 0.5):.0f} ms, p99 <= {bucket_quantile(h, 0.99):.0f} ms "
                  f"(Prometheus buckets, all validators)")
    print(f"- writes per second in the window: {sum(writes) / (len(blocks) * 0.25):.0f} "
          f"(at one block per 250 ms)")


if __name__ == "__main__":
    main()
