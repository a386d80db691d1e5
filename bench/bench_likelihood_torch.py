"""The profile likelihood of bench_profile.cpp written in plain python3-torch
autograd (float64): NLL, gradient and Hessian (torch.autograd.functional.hessian)
for 4 processes, 3 calibration nuisances (quadratic ansatz) and 3
normalisation nuisances; 100,000 observed and 1,000,000 simulated events.
Usage: /usr/bin/python3 bench/bench_likelihood_torch.py [data] [mc] [threads] [repeats]
"""
import math
import sys
import time

import torch

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
nmc = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 5
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(3)
P, C = 4, 9
proc = torch.randint(0, P, (nmc,), generator=g)
yields = torch.tensor([1000.0, 100000.0, 10000.0, 1000.0], dtype=torch.float64)
w = (yields / torch.bincount(proc, minlength=P).double())[proc] * n / 112000.0
coef_mc = (0.02 * torch.randn(nmc, C, generator=g, dtype=torch.float64)).float().double()
f = torch.softmax(torch.randn(n, P, generator=g, dtype=torch.float64) + yields.log(), 1)
coef = (0.02 * torch.randn(n, P, C, generator=g, dtype=torch.float64)).float().double()
log_f = f.log()
log_w = w.log()
norm_size = [(1, 4, 0.01), (2, 4, 0.01), (3, 4, 0.01), (2, 5, 0.02), (3, 6, 0.25)]


def nll(theta):
    mu, nu = theta[0], theta[1:4]
    phi = torch.stack([nu[0], nu[1], nu[2], nu[0] * nu[0], nu[0] * nu[1], nu[0] * nu[2],
                       nu[1] * nu[1], nu[1] * nu[2], nu[2] * nu[2]])
    log_n = [torch.log(mu), theta[0] * 0, theta[0] * 0, theta[0] * 0]
    for p, k, a in norm_size:
        log_n[p] = log_n[p] + theta[k] * math.log1p(a)
    log_n = torch.stack(log_n)
    y = torch.zeros(P, dtype=torch.float64).index_add(0, proc, torch.exp(log_w + coef_mc @ phi))
    lam = (log_n.exp() * y).sum()
    z = log_f + log_n + torch.einsum("npc,c->np", coef, phi)
    data = -torch.logsumexp(z, 1).sum()
    pen = 0.5 * (nu[0] ** 2 + nu[1] ** 2 + torch.log(nu[2]) ** 2 + theta[4] ** 2 + theta[5] ** 2 + theta[6] ** 2)
    return lam + data + pen


theta = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
best_g, best_h = 1e30, 1e30
for _ in range(repeats):
    t0 = time.perf_counter()
    x = theta.clone().requires_grad_(True)
    v = nll(x)
    (gr,) = torch.autograd.grad(v, x)
    best_g = min(best_g, time.perf_counter() - t0)
    t0 = time.perf_counter()
    h = torch.autograd.functional.hessian(nll, theta)
    best_h = min(best_h, time.perf_counter() - t0)
print(f"python3-torch {torch.__version__}, {n} observed + {nmc} simulated events, {threads} threads")
print(f"  NLL + gradient: {best_g * 1e3:.1f} ms")
print(f"  Hessian (torch.autograd.functional.hessian): {best_h * 1e3:.1f} ms")
