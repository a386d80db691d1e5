#!/usr/bin/python3
"""Writes the event files of the user-events example (README, "Your own
events"): a made-up analysis with three processes (signal, multijet, top),
one energy-scale systematic that changes the shapes (learned by DCR
networks from variation samples) and a top cross-section uncertainty (a rate
systematic). It stands for any program that writes its events with h5py in
a layout of its own: one file per sample and process, the features as
float64 columns in a group `reco`, the weights in `weight`.
`refinery import --config experiments/user_events.json` (the config's
`inputs`) turns them into refinery's event files (docs/formats.md).

    /usr/bin/python3 experiments/user_events/make_events.py OUTPUT_DIR [--scale S] [--seed N]

writes, in OUTPUT_DIR/source/, nominal_<process>.h5 (classifier and DCR
training), variations_<process>_<nu>.h5 (the same events at energy_scale =
-2, -1, 1, 2), mc_<process>.h5 (an independent sample for the expected
yields), toys_<process>.h5 (another independent sample that toys resample)
and data.h5 (one pseudo-data set at mu = 1, energy_scale = 0.5, no weights).
--scale multiplies every sample size (tests use 0.2).
"""
import argparse
import os

import h5py
import numpy as np

FEATURES = ["m_reco", "pt_lead", "eta_lead"]
PROCESSES = ["signal", "multijet", "top"]
# Expected events per process before the pT threshold, at the luminosity.
EXPECTED = {"signal": 400.0, "multijet": 9000.0, "top": 1500.0}
LUMINOSITY = 1.0
SCALE_PER_SIGMA = 0.05  # energy_scale = 1 shifts m_reco and pt_lead by 5%
PT_THRESHOLD = 35.0
VARIATIONS = (-2.0, -1.0, 1.0, 2.0)


def raw(process, n, rng):
    """Features before the energy scale, one row per produced event."""
    if process == "signal":
        m = rng.normal(120.0, 10.0, n)
        pt = 25.0 + rng.exponential(55.0, n)
        eta = rng.normal(0.0, 1.2, n)
    elif process == "multijet":
        m = 30.0 + rng.exponential(55.0, n)
        pt = 25.0 + rng.exponential(25.0, n)
        eta = rng.normal(0.0, 2.0, n)
    else:
        m = rng.normal(165.0, 30.0, n)
        pt = 25.0 + rng.exponential(60.0, n)
        eta = rng.normal(0.0, 1.5, n)
    return np.stack([m, pt, eta], axis=1)


def at(x, nu):
    """The detector response at energy_scale = nu, and the selection."""
    y = x.copy()
    y[:, 0] *= 1.0 + SCALE_PER_SIGMA * nu
    y[:, 1] *= 1.0 + SCALE_PER_SIGMA * nu
    return y, y[:, 1] > PT_THRESHOLD


def write(path, x, w=None):
    """One file of the program's own layout: feature columns and weights."""
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        g = f.create_group("reco")
        for k, name in enumerate(FEATURES):
            g.create_dataset(name, data=x[:, k].astype(np.float64))
        if w is not None:
            f.create_dataset("weight", data=w.astype(np.float64))
    os.replace(tmp, path)


def write_per_process(out, name, x, w, p, nu=None):
    """One file per process (and nu point), in the order the rows were made."""
    for k, proc in enumerate(PROCESSES):
        if nu is None:
            keep = p == k
            write(os.path.join(out, "%s_%s.h5" % (name, proc)), x[keep], w[keep])
            continue
        for v in VARIATIONS:
            keep = (p == k) & (nu[:, 0] == v)
            write(os.path.join(out, "%s_%s_%+g.h5" % (name, proc, v)), x[keep], w[keep])


def sample(produced, rng, nus=(0.0,)):
    """Weighted events of every process at each nu, from the same raw events."""
    xs, ws, ps, ns = [], [], [], []
    for k, proc in enumerate(PROCESSES):
        n = produced[proc]
        base = raw(proc, n, rng)
        for nu in nus:
            y, keep = at(base, nu)
            xs.append(y[keep])
            ws.append(np.full(keep.sum(), EXPECTED[proc] * LUMINOSITY / n))
            ps.append(np.full(keep.sum(), k))
            ns.append(np.full((keep.sum(), 1), nu))
    return np.concatenate(xs), np.concatenate(ws), np.concatenate(ps), np.concatenate(ns)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args()
    out = os.path.join(a.out, "source")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    size = {p: max(1000, int(a.scale * 150000)) for p in PROCESSES}
    x, w, p, _ = sample(size, rng)
    write_per_process(out, "nominal", x, w, p)
    x, w, p, nu = sample(size, rng, nus=VARIATIONS)
    write_per_process(out, "variations", x, w, p, nu)
    big = {q: 2 * n for q, n in size.items()}
    for name in ("mc", "toys"):
        x, w, p, _ = sample(big, rng)
        write_per_process(out, name, x, w, p)
    # Pseudo-data: Poisson counts per process at mu = 1, energy_scale = 0.5.
    xs = []
    for proc in PROCESSES:
        n = rng.poisson(EXPECTED[proc] * LUMINOSITY)
        y, keep = at(raw(proc, n, rng), 0.5)
        xs.append(y[keep])
    x = np.concatenate(xs)
    write(os.path.join(out, "data.h5"), x)
    print("wrote the nominal, variations, mc, toys files per process and data.h5 (%d events) to %s" % (len(x), out))


if __name__ == "__main__":
    main()
