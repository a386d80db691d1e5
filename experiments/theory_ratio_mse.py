#!/usr/bin/python3
"""The accuracy of trained ratio estimators on the theory simulator
(docs/madminer.md, "CARL, ALICES, RASCAL, ..."): the mean squared error of
an archive's log r^(x|theta, SM) against the exact log p(x|theta) - log
p(x|SM) on the first 1,000 events of an event file drawn at the SM, over the
5 x 5 grid theta in {-0.8, -0.4, 0, 0.4, 0.8}^2, for the ensemble and each
member. The exact density is the simulator's (data/analytic/theory_toy.h):
p(x|theta) = int p(z|theta) N(x_1; z, 0.15) N(x_2; z^2, 0.1) dz with
p(z|theta) proportional to (1 + 0.4 z + theta_1 z + theta_2 (3 z^2 - 1) / 2)^2,
by 400-point Gauss-Legendre quadrature.

Usage: /usr/bin/python3 experiments/theory_ratio_mse.py SM_EVENTS.h5 RATIO.pt [MORE.pt ...]
(experiments/theory_ratio_mse.sh makes the inputs and runs it.)
"""
import sys

import h5py
import numpy as np
import torch

z, w = np.polynomial.legendre.leggauss(400)


def normal(v, s):
    return np.exp(-0.5 * (v / s) ** 2) / (s * np.sqrt(2 * np.pi))


def main():
    x = h5py.File(sys.argv[1], "r")["features"][:1000].astype(np.float32)
    kernel = normal(x[:, 0:1] - z[None, :], 0.15) * normal(x[:, 1:2] - z[None, :] ** 2, 0.1)

    def log_p(t):
        a2 = ((1 + 0.4 * z) + t[0] * z + t[1] * 0.5 * (3 * z * z - 1)) ** 2
        return np.log((kernel * (a2 * w)[None, :]).sum(1)) - np.log((a2 * w).sum())

    grid = [(-0.8 + 0.4 * i, -0.8 + 0.4 * j) for i in range(5) for j in range(5)]
    exact = {t: log_p(t) - log_p((0.0, 0.0)) for t in grid}
    xs = torch.from_numpy(x)
    for path in sys.argv[2:]:
        m = torch.jit.load(path)
        ensemble, members = [], []
        for t in grid:
            theta = torch.tensor(t, dtype=torch.float64).view(1, 2).expand(len(x), 2)
            ensemble.append(((m.log_ratio(xs, theta).numpy() - exact[t]) ** 2).mean())
            members.append(((m.member_log_ratios(xs, theta).numpy() - exact[t][None, :]) ** 2).mean(1))
        print(path, "ensemble %.5f" % np.mean(ensemble), "members", " ".join("%.5f" % v for v in np.mean(members, 0)))


if __name__ == "__main__":
    main()
