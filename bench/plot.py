#!/usr/bin/env python3
"""plot.py — throughput vs batch size for ddx and its peers.

Reads the sweep JSON lines written by `bench/compare.py --sweep` (one record
per system/method and N: {"workload","n","device","system","method",
"points_per_s",...}) and draws points/s against N on log-log axes.

    python3 bench/plot.py OUT/sweep.jsonl bench/sweep_cpu.png
"""
import json
import sys
from collections import defaultdict


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: plot.py SWEEP.jsonl OUT.png [title]")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot.py: matplotlib is missing (pip install matplotlib)")
    series = defaultdict(list)
    device = workload = precision = "?"
    with open(argv[1]) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("status", "ok") != "ok" or not r.get("points_per_s"):
                continue
            label = r["system"] if r["system"] == "ddx" else f'{r["system"]} {r["method"]}'
            series[label].append((r["n"], r["points_per_s"]))
            device, workload, precision = r.get("device", "?"), r.get("workload", "?"), r.get("precision", "?")
    if not series:
        sys.exit(f"plot.py: no usable records in {argv[1]}")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label in sorted(series, key=lambda s: (s != "ddx", s)):
        pts = sorted(series[label])
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                linewidth=2.5 if label == "ddx" else 1.2, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("points per call (N)")
    ax.set_ylabel("points / s")
    title = argv[3] if len(argv) > 3 else f"{workload} ({precision}) on {device}: u, grad u, hessian u"
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(argv[2], dpi=110)
    print(f"plot.py: wrote {argv[2]}")


if __name__ == "__main__":
    main(sys.argv)
