"""Figures of docs/simulator.md: key features of the four processes and the
effect of +-1 sigma tes / jes, from files written by `refinery simulate`.

Usage (Debian's python with h5py, numpy, matplotlib):
  build/refinery simulate htautau --events 2000000 --seed 1 --out /tmp/nom.h5
  for s in tes=1 tes=-1 jes=1 jes=-1; do
    build/refinery simulate htautau --events 2000000 --seed 1 --nu $s --out /tmp/$s.h5
  done
  /usr/bin/python3 experiments/plot_simulator.py /tmp docs/figures
"""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

FEATURES = {
    "DER_mass_vis": (0, 250),
    "PRI_had_pt": (20, 150),
    "PRI_met": (0, 200),
    "DER_mass_transverse_met_lep": (0, 200),
    "DER_mass_jet_jet": (0, 1500),
    "PRI_jet_num": (-0.5, 3.5),
    "DER_pt_h": (0, 300),
    "DER_deltar_had_lep": (0, 5),
}


def load(path):
    with h5py.File(path, "r") as f:
        names = [n if isinstance(n, str) else n.decode() for n in f.attrs["feature_names"]]
        procs = [n if isinstance(n, str) else n.decode() for n in f.attrs["process_names"]]
        return names, procs, f["features"][:], f["weights"][:], f["process"][:]


def main(indir, outdir):
    os.makedirs(outdir, exist_ok=True)
    names, procs, x, w, p = load(os.path.join(indir, "nom.h5"))
    shifted = {s: load(os.path.join(indir, s + ".h5")) for s in ["tes=1", "tes=-1", "jes=1", "jes=-1"]}
    for feat, (lo, hi) in FEATURES.items():
        i = names.index(feat)
        bins = np.arange(-0.5, 4.5, 1.0) if feat == "PRI_jet_num" else np.linspace(lo, hi, 41)
        fig, (ax, rx) = plt.subplots(2, 1, figsize=(6, 6), sharex=True,
                                     gridspec_kw={"height_ratios": [3, 1]})
        for k, name in enumerate(procs):
            m = (p == k) & (x[:, i] != -25)
            h, _ = np.histogram(x[m, i], bins=bins, weights=w[m])
            ax.step(bins[:-1], h / max(h.sum(), 1e-12), where="post", label=name)
        ax.set_ylabel("normalised (weighted)")
        ax.set_title(feat)
        ax.legend()
        m0 = x[:, i] != -25
        h0, _ = np.histogram(x[m0, i], bins=bins, weights=w[m0])
        for s, (_, _, xs, ws, _) in shifted.items():
            ms = xs[:, i] != -25
            hs, _ = np.histogram(xs[ms, i], bins=bins, weights=ws[ms])
            rx.step(bins[:-1], np.divide(hs, h0, out=np.ones_like(hs), where=h0 > 0), where="post", label=s)
        rx.axhline(1.0, color="grey", lw=0.5)
        rx.set_ylim(0.9, 1.1)
        rx.set_ylabel("shifted / nominal")
        rx.set_xlabel(feat)
        rx.legend(fontsize=7, ncol=4)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, feat + ".png"), dpi=80)
        plt.close(fig)
        print("wrote", os.path.join(outdir, feat + ".png"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
