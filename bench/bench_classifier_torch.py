"""Reference for bench/bench_classifier.cpp in Debian's python3-torch: the
same 28-128-128-4 classifier (standardisation, SiLU), cross entropy, Adam,
batch and thread count. Usage:
/usr/bin/python3 bench/bench_classifier_torch.py [threads=2] [batch=1024] [steps=200]"""
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 200
torch.set_num_threads(threads)
torch.manual_seed(1)


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(28))
        self.register_buffer("inv_std", torch.ones(28))
        self.net = torch.nn.Sequential(torch.nn.Linear(28, 128), torch.nn.SiLU(), torch.nn.Linear(128, 128),
                                       torch.nn.SiLU(), torch.nn.Linear(128, 4))

    def forward(self, x):
        z = (x - self.mean) * self.inv_std
        z = torch.where(x == -25.0, torch.zeros_like(z), z)
        return self.net(z)


net = Classifier()
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
pool, labels = torch.randn(100000, 28), torch.randint(4, (100000,))


def step():
    idx = torch.randint(100000, (batch,))
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(pool[idx]), labels[idx])
    loss.backward()
    opt.step()


for _ in range(10):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
secs = time.perf_counter() - t0
print("python3-torch %s training: %d steps of %d samples in %.3f s: %.0f samples/s" % (
    torch.__version__, steps, batch, secs, batch * steps / secs))
net.eval()
x = torch.randn(1000000, 28)
with torch.no_grad():
    t0 = time.perf_counter()
    torch.softmax(net(x), 1)
    secs = time.perf_counter() - t0
print("python3-torch inference (network only, one block): 1000000 events in %.3f s: %.2f M events/s" % (secs, 1.0 / secs))
