"""Reference for bench/bench_dcr.cpp in Debian's python3-torch: the same
28-256-256-9 DCR network (standardisation, SiLU), the same loss, batch and
thread count. Usage: /usr/bin/python3 bench/bench_dcr_torch.py [threads=2] [batch=4096] [steps=50]"""
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 4096
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 50
torch.set_num_threads(threads)
torch.manual_seed(1)


class DCR(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(28))
        self.register_buffer("inv_std", torch.ones(28))
        self.net = torch.nn.Sequential(torch.nn.Linear(28, 256), torch.nn.SiLU(), torch.nn.Linear(256, 256),
                                       torch.nn.SiLU(), torch.nn.Linear(256, 9))

    def forward(self, x):
        z = (x - self.mean) * self.inv_std
        z = torch.where(x == -25.0, torch.zeros_like(z), z)
        return self.net(z)


def phi(nu):
    cols = [nu[:, i] for i in range(3)]
    cols += [nu[:, i] * nu[:, j] for i in range(3) for j in range(i, 3)]
    return torch.stack(cols, 1)


net = DCR()
p = phi(torch.randn(24, 3))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)


def step():
    xa, xb = torch.randn(batch, 28), torch.randn(batch, 28)
    pa = torch.randint(24, (batch,))
    wa, wb = torch.rand(batch), torch.rand(batch)
    opt.zero_grad()
    lr_v = (net(xa) * p[pa]).sum(1)
    lr_0 = net(xb) @ p.t()
    loss = ((wa * torch.nn.functional.softplus(-lr_v)).sum() + (wb[:, None] * torch.nn.functional.softplus(lr_0)).sum()) / batch
    loss.backward()
    opt.step()


for _ in range(5):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
secs = time.perf_counter() - t0
print("python3-torch %s training: %d steps of 2x%d samples in %.3f s: %.0f samples/s" % (
    torch.__version__, steps, batch, secs, 2.0 * batch * steps / secs))
x = torch.randn(1000000, 28)
with torch.no_grad():
    net(x[:65536])
    t0 = time.perf_counter()
    for s in range(0, x.shape[0], 65536):
        net(x[s:s + 65536])
    secs = time.perf_counter() - t0
print("python3-torch coefficients: 1000000 events in %.3f s: %.2f M events/s" % (secs, 1.0 / secs))
