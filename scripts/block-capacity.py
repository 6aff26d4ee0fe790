#!/usr/bin/env python3
"""Worst-case weight of each registry call, and how many fit in one 250 ms block.

    scripts/block-capacity.py [pallets/service-registry/src/weights.rs]

Reads the `SubstrateWeight` implementation that `scripts/weights.sh` generates, evaluates each
function with every component at the top of its benchmarked range (or at the pallet's bound, where
that lies beyond: `PALLET_BOUNDS`), adds the runtime's database
weights (ParityDb: 8 us a read, 50 us a write) and the base weight of an extrinsic (125 us), and
divides the share of a block that normal extrinsics may use (75 % of half the 250 ms slot, so
93.75 ms of reference-hardware execution) by it. Hook steps (hook_base, expire_lease, reap_keys,
reclaim_keys, probe_lease_keys) are not extrinsics: their count is what fits in the registry's
hook budget (20 % of the block, 25 ms).
"""
import re
import sys

PS_PER_MS = 1_000_000_000
READ_PS, WRITE_PS = 8_000_000, 50_000_000  # frame_support ParityDbWeight
EXTRINSIC_BASE_PS = 125_000_000  # frame_support ExtrinsicBaseWeight
NORMAL_PS = 0.75 * 125 * PS_PER_MS  # NORMAL_DISPATCH_RATIO of MAXIMUM_BLOCK_WEIGHT
HOOK_PS = 0.20 * 125 * PS_PER_MS  # ServiceRegistryHookWeight
HOOKS = {"hook_base", "expire_lease", "reap_keys", "reclaim_keys", "probe_lease_keys"}
# Components whose pallet bound lies beyond the benchmarked range (see benchmarking.rs): the
# weight is linear in them, and the pallet evaluates it up to this bound (MaxValueLen).
PALLET_BOUNDS = {("txn", "v"): 65536}


def num(text):
    return int(text.replace("_", ""))


def parse(path):
    source = open(path).read()
    impl = source.split("impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T>", 1)[1]
    impl = impl.split("\nimpl WeightInfo for ()", 1)[0]
    pattern = r"((?:\t///[^\n]*\n)*)\tfn (\w+)\([^)]*\) -> Weight \{(.*?)\n\t\}"
    for docs, name, body in re.findall(pattern, impl, re.S):
        chunk = docs + body
        ranges = {
            m[0]: PALLET_BOUNDS.get((name, m[0]), num(m[2]))
            for m in re.findall(r"omponent `(\w+)`(?: is|:) `\[(\d+), (\d+)\]`", chunk)
        }
        base = re.search(r"Weight::from_parts\(([\d_]+), [\d_]+\)", chunk)
        ref_time = num(base.group(1))
        per_item = r"Weight::from_parts\(([\d_]+), 0\)\.saturating_mul\((\w+)\.into\(\)\)"
        for slope, component in re.findall(per_item, chunk):
            ref_time += num(slope) * ranges.get(component, 0)
        for kind, unit in (("reads", READ_PS), ("writes", WRITE_PS)):
            for count in re.findall(rf"\.{kind}\(([\d_]+)_u64\)\)", chunk):
                ref_time += num(count) * unit
            per_item = rf"\.{kind}\(\(([\d_]+)_u64\)\.saturating_mul\((\w+)\.into\(\)\)\)"
            for slope, component in re.findall(per_item, chunk):
                ref_time += num(slope) * unit * ranges.get(component, 0)
        yield name, ranges, ref_time


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "pallets/service-registry/src/weights.rs"
    print("| Function | Worst case (components) | Weight (ms) | Per block |")
    print("|---|---|---|---|")
    for name, ranges, ref_time in parse(path):
        components = ", ".join(f"{k} = {v}" for k, v in ranges.items()) or "-"
        if name in HOOKS:
            fits = int(HOOK_PS // ref_time) if ref_time else 0
            per_block = f"{fits} (hook budget)"
        else:
            per_block = str(int(NORMAL_PS // (ref_time + EXTRINSIC_BASE_PS)))
        print(f"| `{name}` | {components} | {ref_time / PS_PER_MS:.3f} | {per_block} |")


if __name__ == "__main__":
    main()
