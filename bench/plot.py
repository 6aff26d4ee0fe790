#!/usr/bin/env python3
"""Plots of regchain-bench's results.json (Debian's python3-matplotlib).

    bench/plot.py [RESULTS_DIR]      default docs/results

Writes into RESULTS_DIR:
  write-latency.png   distribution of acknowledged-put latency, each system, each concurrency
  throughput.png      achieved against offered write rate, each system
  latency-by-workload.png  p50 and p99 of each workload at one request in flight
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"etcd1": "tab:blue", "etcd3": "tab:green", "regchain": "tab:red"}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "docs/results"
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    systems = results["systems"]
    for s in systems:  # a point's figures are under "summary"
        for p in s["points"]:
            p.update(p.pop("summary", {}))
    note = " (quick mode)" if results.get("quick") else ""

    # Latency distributions of puts acknowledged (etcd API), one panel per concurrency.
    levels = sorted({p["concurrency"] for s in systems for p in s["points"]
                     if p["workload"] == "write" and p["client"] == "etcd-api"})
    if levels:
        fig, axes = plt.subplots(1, len(levels), figsize=(4 * len(levels), 3.6), sharey=True)
        axes = axes if len(levels) > 1 else [axes]
        for ax, c in zip(axes, levels):
            for s in systems:
                for p in s["points"]:
                    if p["workload"] == "write" and p["client"] == "etcd-api" and p["concurrency"] == c:
                        d = p["distribution_ms"]
                        if d:
                            y = [(i + 1) / len(d) for i in range(len(d))]
                            ax.plot(d, y, label=s["title"], color=COLORS.get(s["system"]))
            ax.set_xscale("log")
            ax.set_title(f"{c} in flight")
            ax.set_xlabel("put latency (ms, log)")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel("fraction of puts")
        axes[0].legend(fontsize=8)
        fig.suptitle("Acknowledged put latency, etcd v3 API" + note)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "write-latency.png"), dpi=110)
        plt.close(fig)

    # Achieved against offered rate.
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    top = 0
    for s in systems:
        steps = [p for p in s["points"] if p["workload"] == "throughput-step"]
        if steps:
            xs = [p["offered_rate"] for p in steps]
            ax.plot(xs, [p["throughput"] for p in steps], "o-", label=s["title"], color=COLORS.get(s["system"]))
            top = max(top, max(xs))
    if top:
        ax.plot([0, top], [0, top], ":", color="grey", label="offered = achieved")
    ax.set_xlabel("offered rate (writes/s)")
    ax.set_ylabel("acknowledged writes/s")
    ax.set_title("Write throughput against offered rate" + note)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "throughput.png"), dpi=110)
    plt.close(fig)

    # p50 and p99 of each workload at one request in flight (log scale).
    rows = [("write", "etcd-api", "put"), ("read-serializable", "etcd-api", "get (serializable)"),
            ("read-linearizable", "etcd-api", "get (linearizable)"), ("watch-delivery", "etcd-api", "watch"),
            ("registration", "etcd-api", "registration")]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / max(1, len(systems))
    # A log scale cannot show a watch event that came before the put's acknowledgement (a
    # negative latency) or one under 0.01 ms: such a bar stops at the floor and is labelled
    # with its p50.
    floor = 0.01
    for k, s in enumerate(systems):
        p50, p99, labels = [], [], []
        for workload, client, _ in rows:
            p = next((p for p in s["points"] if p["workload"] == workload and p["client"] == client
                      and p["concurrency"] == 1), None)
            p50.append(max(p["p50_ms"], floor) if p and p["ok"] else 0)
            p99.append(max(p["p99_ms"], floor) if p and p["ok"] else 0)
            labels.append(p["p50_ms"] if p and p["ok"] and p["p50_ms"] < floor else None)
        xs = [i + k * width for i in range(len(rows))]
        ax.bar(xs, p99, width, color=COLORS.get(s["system"]), alpha=0.35)
        ax.bar(xs, p50, width, color=COLORS.get(s["system"]), label=s["title"] + " (p50; light: p99)")
        for x, raw in zip(xs, labels):
            if raw is not None:
                ax.annotate(f"p50 {raw:.2g} ms", (x, floor * 1.3), rotation=90, ha="center", va="bottom", fontsize=7)
    ax.set_xticks([i + width * (len(systems) - 1) / 2 for i in range(len(rows))])
    ax.set_xticklabels([r[2] for r in rows])
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_xlabel("watch: from the put's acknowledgement to the event elsewhere; labelled bars are below 0.01 ms or negative",
                  fontsize=7)
    ax.set_title("Latency at one request in flight" + note)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latency-by-workload.png"), dpi=110)
    plt.close(fig)
    print(f"plot: wrote {out}/write-latency.png, throughput.png, latency-by-workload.png")


if __name__ == "__main__":
    main()
