#!/usr/bin/python3
"""Paired change of mu_hat between two measurements of the same pseudo-experiments, by a true nuisance.

Usage (Debian's /usr/bin/python3 with numpy and matplotlib):
  scripts/figures/paired_shift.py OUT.png NUISANCE EDGES LABEL=A.csv[,A2.csv]:B.csv[,B2.csv] ...
EDGES are the bin edges of the nuisance's true value, comma-separated (e.g.
0,1,2,3,4.999,5.001: the last bin holds a prior's clip at 5). For each LABEL
the toys of A and B (refinery toys CSVs, shards allowed) are paired by
(mu_true, index), both converged with a usable interval, and the mean of
mu_hat(B) - mu_hat(A) is drawn per bin with its error (the paired
differences' sd / sqrt(n)).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def load(paths, nuisance):
    toys = {}
    for path in paths.split(","):
        for r in csv.DictReader(open(path)):
            if nuisance not in r:
                sys.exit(f"{path}: no column '{nuisance}'")
            if r["converged"] == "1" and r["interval_ok"] == "1":
                toys[(float(r["mu_true"]), int(r["index"]))] = (float(r[nuisance]), float(r["mu_hat"]))
    return toys


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    out, nuisance = sys.argv[1], sys.argv[2]
    edges = np.array([float(e) for e in sys.argv[3].split(",")])
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        sys.exit(f"EDGES: increasing numbers, at least two, got '{sys.argv[3]}'")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    width = np.diff(edges)
    offsets = np.linspace(-0.2, 0.2, len(sys.argv) - 4) if len(sys.argv) > 5 else [0.0]
    for k, arg in enumerate(sys.argv[4:]):
        label, _, files = arg.partition("=")
        a_files, _, b_files = files.partition(":")
        if not label or not a_files or not b_files:
            sys.exit(f"'{arg}': expected LABEL=A.csv[,...]:B.csv[,...]")
        a, b = load(a_files, nuisance), load(b_files, nuisance)
        common = sorted(set(a) & set(b))
        if not common:
            sys.exit(f"{label}: no pseudo-experiment in both")
        truth = np.array([a[t][0] for t in common])
        shift = np.array([b[t][1] - a[t][1] for t in common])
        x, y, e = [], [], []
        for i in range(len(edges) - 1):
            sel = (truth >= edges[i]) & (truth < edges[i + 1])
            if sel.sum() < 2:
                continue
            x.append(0.5 * (edges[i] + edges[i + 1]) + offsets[k] * width[i])
            y.append(shift[sel].mean())
            e.append(shift[sel].std(ddof=1) / np.sqrt(sel.sum()))
        ax.errorbar(x, y, yerr=e, fmt="o-", capsize=3, label=f"{label} ({len(common)} toys)")
    ax.axhline(0.0, color="grey", lw=0.8)
    for edge in edges:
        ax.axvline(edge, color="lightgrey", lw=0.5)
    ax.set_xlabel(f"true {nuisance}")
    ax.set_ylabel("paired change of mu_hat (B - A)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main()
