#!/usr/bin/python3
"""Pull mean and coverage of refinery toys' CSVs, one point per config seed and analysis.

Usage (Debian's /usr/bin/python3 with numpy and matplotlib):
  scripts/figures/seed_comparison.py OUT.png LABEL=unbinned.csv,reference.csv ...
Each LABEL names a config seed; its two files are the merged toys of the
unbinned analysis and of the binned reference (`refinery toys --merge`).
Coverage counts mu_true inside [lower, upper]; the pull is
(mu_hat - mu_true) / mu_error over the converged toys with a usable interval.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def summary(path):
    rows = [r for r in csv.DictReader(open(path)) if r["converged"] == "1" and r["interval_ok"] == "1"]
    if not rows:
        sys.exit(f"{path}: no converged toy with a usable interval")
    col = lambda c: np.array([float(r[c]) for r in rows])
    mu, hat, err = col("mu_true"), col("mu_hat"), col("mu_error")
    pull = (hat - mu) / err
    covered = ((col("lower") <= mu) & (mu <= col("upper"))).mean()
    n = len(rows)
    return dict(n=n, pull=pull.mean(), pull_err=pull.std(ddof=1) / np.sqrt(n), pull_sd=pull.std(ddof=1),
                cov=covered, cov_err=np.sqrt(0.6827 * 0.3173 / n))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, seeds = sys.argv[1], []
    for arg in sys.argv[2:]:
        label, _, files = arg.partition("=")
        paths = files.split(",")
        if len(paths) != 2:
            sys.exit(f"{arg}: expected LABEL=unbinned.csv,reference.csv")
        seeds.append((label, [summary(p) for p in paths]))
    # Wider with more seeds, so that the tick labels (label, toy counts) do not run into each other.
    fig, (a, b) = plt.subplots(1, 2, figsize=(max(11.0, 2.0 * len(seeds) + 1.0), 4.2))
    x = np.arange(len(seeds))
    for k, (name, colour, dx) in enumerate([("unbinned", "C0", -0.1), ("binned reference", "C1", 0.1)]):
        s = [v[k] for _, v in seeds]
        a.errorbar(x + dx, [t["pull"] for t in s], [t["pull_err"] for t in s], fmt="o", color=colour, label=name)
        b.errorbar(x + dx, [t["cov"] for t in s], [t["cov_err"] for t in s], fmt="o", color=colour, label=name)
    a.axhspan(-0.15, 0.15, color="0.9", label="acceptance |mean| < 0.15")
    a.axhline(0, color="0.5", lw=0.8)
    a.set_ylabel("pull mean (mu_hat - mu_true) / sigma_hat")
    b.axhline(0.6827, color="0.5", lw=0.8, label="0.6827")
    b.axhspan(0.6827 - 3 * seeds[0][1][0]["cov_err"], 0.6827 + 3 * seeds[0][1][0]["cov_err"], color="0.9",
              label="+- 3 binomial errors")
    b.set_ylabel("coverage of the 68.27% interval")
    for ax in (a, b):
        ax.set_xticks(x)
        ax.set_xticklabels([f"{label}\n{v[0]['n']} / {v[1]['n']}\ntoys" for label, v in seeds], fontsize=8)
        ax.set_xlabel("config seed")
        ax.legend(fontsize=8)
    fig.suptitle("H->tautau, mu_true = 1, nuisances from their priors: one point per config seed")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    for label, v in seeds:
        print(label, " ".join(f"{t['n']} pull {t['pull']:+.3f}+-{t['pull_err']:.3f} sd {t['pull_sd']:.3f} cov {t['cov']:.4f}" for t in v))


if __name__ == "__main__":
    main()
