"""LeNet train step, ours vs PyTorch in the same process.

    python -m benchmarks.lenet [--steps 50] [--warmup 5] [--device cpu|cuda] [--threads N] [--json PATH] [--profile]

Workload: batch 64 of 1x28x28 images; conv 1->16 5x5, ReLU, maxpool 2, conv 16->32 5x5,
ReLU, maxpool 2, linear 512->10, cross-entropy, SGD (lr 0.01). Both models start from the
same weights (PyTorch's state_dict loaded into ours). Target: <= 1.0x PyTorch per step.
"""
import argparse

import numpy as np

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tinygrad_seq.optim import SGD
from benchmarks.common import (add_common_args, device_sync, machine_info, measure_pair, pin_threads, report, torch,
                               torch_train_step)

TARGET = 1.0


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def torch_lenet():
    TF = torch.nn.functional

    class TorchLeNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 16, 5)
            self.conv2 = torch.nn.Conv2d(16, 32, 5)
            self.fc = torch.nn.Linear(512, 10)

        def forward(self, x):
            x = TF.max_pool2d(TF.relu(self.conv1(x)), 2)
            x = TF.max_pool2d(TF.relu(self.conv2(x)), 2)
            return self.fc(x.flatten(1))
    return TorchLeNet()


def run(device="cpu", steps=50, warmup=5, memory=False, profile_step=False):
    """Rows (ours, then torch when importable) for the LeNet train step, for the suite and main."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    ys = rng.integers(0, 10, 64)
    tg.manual_seed(0)

    ours = LeNet()
    tm = None
    if torch is not None:
        torch.manual_seed(0)
        tm = torch_lenet()
        ours.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    ours.to(device)
    opt = SGD(ours.parameters(), lr=0.01)
    x, y = tg.Tensor(xs, device=device), tg.Tensor(ys, device=device)
    sync = device_sync(device)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(ours(x), y)
        loss.backward()
        opt.step()
        return loss

    tstep = tsync = None
    if tm is not None:
        with torch.no_grad():   # same weights, same batch: the losses must agree
            tl = torch.nn.functional.cross_entropy(tm(torch.tensor(xs)), torch.tensor(ys)).item()
        ol = F.cross_entropy(ours(x), y).item()
        assert abs(tl - ol) < 1e-4, f"LeNet: our loss {ol} differs from torch's {tl}"
        tstep, tsync = torch_train_step(tm, lambda ps: torch.optim.SGD(ps, lr=0.01), xs, ys, device)

    return measure_pair("LeNet train step", step, tstep, sync, tsync, device, steps, warmup, TARGET,
                        memory, profile_step)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(ap, steps=50, warmup=5)
    args = ap.parse_args(argv)
    tg.backend.set_host_malloc("cached")   # keep freed host memory, as a training program would
    threads = pin_threads(args.threads, "benchmarks.lenet")

    report(f"LeNet: ours vs PyTorch (ms per train step, batch 64, {threads})",
           run(args.device, args.steps, args.warmup, profile_step=args.profile), args.json, machine_info())


if __name__ == "__main__":
    main()
