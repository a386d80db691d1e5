"""Reference for bench/bench_sannt.cpp in Debian's python3-torch: the same
SANNT step (3-100-100-20 network, softmax soft assignment into 20 bins of
100,000 events, mu and 9 code4p shape nuisances, Hessian of the Asimov NLL
by double backward, sigma(mu), backward into the weights, Adam).
Usage: /usr/bin/python3 bench/bench_sannt_torch.py [threads=2] [steps=20]"""
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
torch.set_num_threads(threads)
torch.manual_seed(1)
K, BINS = 9, 20
xs = torch.randn(10000, 3)
xb = torch.randn(10000, 3) + 1.0
ws = torch.full((10000,), 50.0 / 10000, dtype=torch.float64)
wb = torch.full((10000,), 1000.0 / 10000, dtype=torch.float64)
wv = torch.full((4500,), 1000.0 / 4500, dtype=torch.float64)
variations = []
for k in range(K):
    pair = []
    for sign in (1, -1):
        x = xb[:4500].clone()
        x[:, k % 3] += 0.1 * sign * (1 + k // 3)
        pair.append(x)
    variations.append(pair)
net = torch.nn.Sequential(torch.nn.Linear(3, 100), torch.nn.SiLU(), torch.nn.Linear(100, 100), torch.nn.SiLU(),
                          torch.nn.Linear(100, BINS))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)


def hist(x, w):
    return torch.softmax(net(x).double(), 1).t() @ w


def code4p(a, up, down):
    a2 = a * a
    inner = 0.5 * (up + down) * a + 0.5 * (up - down) * (15 * a2 - 10 * a2 * a2 + 3 * a2 * a2 * a2) / 8
    return torch.where(a.abs() < 1, inner, torch.where(a >= 0, a * up, a * down))


def step():
    opt.zero_grad()
    S, B = hist(xs, ws), hist(xb, wb)
    ups = [hist(u, wv) for u, _ in variations]
    downs = [hist(d, wv) for _, d in variations]

    def expected(p):
        b = B
        for k in range(K):
            b = b + code4p(p[1 + k], ups[k] - B, B - downs[k])
        return p[0] * S + b + 1e-3

    x0 = torch.zeros(1 + K, dtype=torch.float64)
    x0[0] = 1.0
    asimov = expected(x0)
    x = x0.clone().requires_grad_(True)
    lam = expected(x)
    nll = (lam - asimov * torch.log(lam)).sum() + 0.5 * (x[1:] ** 2).sum()
    g = torch.autograd.grad(nll, x, create_graph=True)[0]
    F = torch.stack([torch.autograd.grad(g[i], x, create_graph=True)[0] for i in range(1 + K)])
    loss = torch.sqrt(torch.linalg.inv(F)[0, 0])
    loss.backward()
    opt.step()
    return loss.item()


for _ in range(3):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    last = step()
secs = time.perf_counter() - t0
print("python3-torch %s SANNT step (100,000 events, 20 bins, 10 parameters): %.1f ms per step (loss %.4f)" % (
    torch.__version__, 1e3 * secs / steps, last))
