"""Draws a scripts/soak.sh run: memory.png, disk.png and summary.md beside its samples.csv.

    /usr/bin/python3 scripts/soak-plot.py DIR [--rate N]

Debian's python3 holds python3-matplotlib (scripts/setup.sh).
"""

import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MIB = 1024.0


def load(path):
    with open(path, newline="") as f:
        rows = [
            {k: (float(v) if k == "minute" else int(v)) if v else 0 for k, v in row.items()}
            for row in csv.DictReader(f)
        ]
    if not rows:
        raise SystemExit(f"soak-plot: no samples in {path}")
    return rows


def validators(rows):
    return sorted({int(k[1:].split("_")[0]) for k in rows[0] if k.startswith("v")})


def at_or_after(rows, minute, key):
    """`key` (KiB) in MiB at the first sample at or after `minute`, if the run got that far."""
    row = next((r for r in rows if r["minute"] >= minute), None)
    return None if row is None else row[key] / MIB


def rate_per_hour(rows, key, since_minute):
    """Least-squares slope of `key` (KiB) in MiB an hour, over the samples from `since_minute`."""
    points = [(r["minute"], r[key] / MIB) for r in rows if r["minute"] >= since_minute]
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(m for m, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((m - mx) ** 2 for m, _ in points)
    if var == 0:
        return None
    return 60 * sum((m - mx) * (v - my) for m, v in points) / var


def fmt(value, digits=1):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--rate", type=int, default=0)
    args = parser.parse_args()
    rows = load(os.path.join(args.dir, "samples.csv"))
    vs = validators(rows)
    minutes = [r["minute"] for r in rows]
    load_label = "at rest" if args.rate == 0 else f"{args.rate} puts/s"

    fig, (anon, filed) = plt.subplots(1, 2, figsize=(12, 4.5), sharex=True)
    for v in vs:
        anon.plot(minutes, [r[f"v{v}_anon_kib"] / MIB for r in rows], label=f"validator {v}")
        filed.plot(minutes, [r[f"v{v}_file_kib"] / MIB for r in rows], label=f"validator {v}")
    anon.set_title(f"Anonymous resident memory ({load_label})")
    filed.set_title("File-backed resident memory (mapped database)")
    for ax in (anon, filed):
        ax.set_xlabel("minutes since start")
        ax.set_ylabel("MiB")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.dir, "memory.png"), dpi=100)

    columns = [k for k in rows[0] if k.startswith("disk_") and k != "disk_total_kib"]
    columns = [c for c in columns if rows[-1][c] > 0]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.stackplot(
        minutes,
        *[[r[c] / MIB for r in rows] for c in columns],
        labels=[c[len("disk_") : -len("_kib")] for c in columns],
    )
    ax.set_title(f"Validator 1's database by column ({load_label})")
    ax.set_xlabel("minutes since start")
    ax.set_ylabel("MiB")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(os.path.join(args.dir, "disk.png"), dpi=100)

    last = round(rows[-1]["minute"])
    # The state window is one hour: before it is full, nothing is pruned and growth says little
    # about the long run. Rates are taken after it when the run is long enough.
    settled = 60 if last >= 80 else last // 2
    lines = [
        f"# Soak: {last} minutes, {load_label}",
        "",
        "Written by scripts/soak-plot.py from samples.csv. Rates are least-squares slopes over "
        f"the samples from minute {settled} on.",
        "",
        "| validator | anonymous at start, MiB | at minute 60 | at the end | "
        f"anonymous growth from minute {settled}, MiB/h | file-backed at the end, MiB | "
        "open files at the end |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in vs:
        key = f"v{v}_anon_kib"
        lines.append(
            f"| {v} | {rows[0][key] / MIB:.0f} | {fmt(at_or_after(rows, 60, key), 0)} | "
            f"{rows[-1][key] / MIB:.0f} | {fmt(rate_per_hour(rows, key, settled))} | "
            f"{rows[-1][f'v{v}_file_kib'] / MIB:.0f} | {rows[-1][f'v{v}_fds']} |"
        )
    disk_rate = rate_per_hour(rows, "disk_total_kib", settled)
    lag = max(r[f"v{v}_best"] - r[f"v{v}_finalized"] for r in rows for v in vs)
    lines += [
        "",
        f"Validator 1's database: {rows[-1]['disk_total_kib'] / MIB:.0f} MiB at the end, "
        f"growing {fmt(disk_rate)} MiB/h from minute {settled} "
        f"({fmt(None if disk_rate is None else disk_rate * 24 / 1024, 2)} GiB/day, "
        f"{fmt(None if disk_rate is None else disk_rate * 24 * 365 / 1024, 0)} GiB/year).",
        "",
        "| column | MiB at the end | MiB/h from minute " + str(settled) + " |",
        "|---|---|---|",
    ]
    for c in columns:
        lines.append(
            f"| {c[len('disk_') : -len('_kib')]} | {rows[-1][c] / MIB:.1f} | "
            f"{fmt(rate_per_hour(rows, c, settled), 2)} |"
        )
    ok = sum(r["puts_ok"] for r in rows)
    failed = sum(r["puts_failed"] for r in rows)
    lines += [
        "",
        f"Largest best-to-finalized gap at a sample: {lag} blocks. "
        f"Puts acknowledged: {ok:,}; failed: {failed:,}.",
        "",
    ]
    with open(os.path.join(args.dir, "summary.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
