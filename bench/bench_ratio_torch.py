"""Reference for bench/bench_ratio.cpp in Debian's python3-torch: the same
losses (CARL, ALICES, RASCAL, CASCAL, ROLR, SALLY) in a plain training loop,
2 x 64 SiLU networks of (x, theta) (SALLY: of x), batches of 512, Adam, the
score terms by double backward, inputs standardised as refinery does.
Usage: /usr/bin/python3 bench/bench_ratio_torch.py [threads=2] [steps=400]"""
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 400
torch.set_num_threads(threads)
torch.manual_seed(1)
N, B = 100000, 512
x = torch.randn(N, 2)
theta = torch.rand(N, 2) * 2 - 1
lr = torch.randn(N)
score = torch.randn(N, 2)
label = (torch.rand(N) < 0.5).float()
inputs = torch.cat([x, theta], 1)
z = (inputs - inputs.mean(0)) / inputs.std(0)
theta_scale = 1.0 / inputs.std(0)[2:]
soft = torch.sigmoid(-lr)


def network(n_in, n_out):
    return torch.nn.Sequential(torch.nn.Linear(n_in, 64), torch.nn.SiLU(), torch.nn.Linear(64, 64), torch.nn.SiLU(),
                               torch.nn.Linear(64, n_out))


def run(name):
    net = network(2 if name == "SALLY" else 4, 2 if name == "SALLY" else 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(steps):
        i = torch.randint(0, N, (B,))
        opt.zero_grad()
        if name == "SALLY":
            loss = (net(z[i, :2]) - score[i]).pow(2).sum(1).mean()
        else:
            zi = z[i].clone().requires_grad_(name in ("ALICES", "RASCAL", "CASCAL"))
            s = net(zi).squeeze(1)
            if name == "RASCAL":
                loss = (s - lr[i]).pow(2).mean()
            elif name == "ROLR":
                yi, li, sc = label[i], lr[i].clamp(-10, 10), s.clamp(-10, 10)
                loss = (yi * (sc.exp() - li.exp()).pow(2) + (1 - yi) * ((-sc).exp() - (-li).exp()).pow(2)).mean()
            else:
                target = soft[i] if name == "ALICES" else label[i]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(-s, target)
            if name in ("ALICES", "RASCAL", "CASCAL"):
                g = torch.autograd.grad(s.sum(), zi, create_graph=True)[0][:, 2:] * theta_scale
                at = (label[i] < 0.5).float().unsqueeze(1)
                loss = loss + ((g - score[i]).pow(2) * at).sum() / at.sum().clamp_min(1.0)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    print("  %-7s %8.0f steps/s  %10.0f samples/s" % (name, steps / seconds, steps * B / seconds))


print("python3-torch %s, 2 x 64 SiLU, batches of 512, %d steps, %d threads" % (torch.__version__, steps, threads))
for name in ("CARL", "ALICES", "RASCAL", "CASCAL", "ROLR", "SALLY"):
    run(name)
