"""LeNet train step, ours vs PyTorch in the same process.

    python -m benchmarks.lenet [--steps 50] [--warmup 5] [--device cpu|cuda] [--threads N] [--json PATH] [--profile]

Workload: batch 64 of 1x28x28 images; conv 1->16 5x5, ReLU, maxpool 2, conv 16->32 5x5,
ReLU, maxpool 2, linear 512->10, cross-entropy, SGD (lr 0.01). Both models start from the
same weights (PyTorch's state_dict loaded into ours). Target: <= 1.5x PyTorch per step.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from benchmarks.common import torch, report, machine_info, peak_memory

TARGET = 1.5


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


def sgd(params, lr):
    """tinygrad_seq.optim.SGD when the package is there, else the same update by hand."""
    try:
        from tinygrad_seq.optim import SGD
        return SGD(params, lr=lr)
    except ImportError:
        class _SGD:
            def zero_grad(self):
                for p in params:
                    p.grad = None

            @tg.no_grad()
            def step(self):
                for p in params:
                    if p.grad is not None:
                        p.data -= lr * p.grad.data
        return _SGD()


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


def compare(ours_step, torch_step, steps, warmup, blocks=5, ours_sync=None, torch_sync=None):
    """Per-step milliseconds (median, min, max) of ours and of torch, timed in alternating blocks
    so that load from other processes on the machine hits both alike."""
    per = max(1, steps // blocks)
    times = {"ours": [], "torch": []}
    for name, step, sync in (("ours", ours_step, ours_sync), ("torch", torch_step, torch_sync)):
        if step is not None:
            for _ in range(warmup):
                step()
    for _ in range(blocks):
        for name, step, sync in (("ours", ours_step, ours_sync), ("torch", torch_step, torch_sync)):
            if step is None:
                continue
            step()  # one untimed step: the other library's threads have just been busy
            for _ in range(per):
                t0 = time.perf_counter()
                step()
                if sync:
                    sync()
                times[name].append((time.perf_counter() - t0) * 1e3)
    return {k: (statistics.median(v), min(v), max(v)) for k, v in times.items() if v}


def pin_threads(threads, module):
    """Limit both libraries to `threads` CPU threads. OpenBLAS (NumPy's BLAS) reads its thread
    count once, when NumPy loads, so this re-runs the script with the environment set. Without
    --threads each library keeps its default (torch: all cores, set in benchmarks.common)."""
    if not threads:
        return "default threads"
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(threads):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        os.execve(sys.executable, [sys.executable, "-m", module] + sys.argv[1:], env)
    if torch is not None:
        torch.set_num_threads(threads)
    return f"{threads} thread{'s' if threads > 1 else ''} each"


def add_common_args(ap, steps, warmup):
    ap.add_argument("--steps", type=int, default=steps, help="timed steps per library")
    ap.add_argument("--warmup", type=int, default=warmup)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (ours on CuPy; torch on cuda if it can)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for both libraries (0: defaults)")
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    ap.add_argument("--profile", action="store_true", help="cProfile our step and print the top entries")


def profile(step, n=20, top=18):
    """cProfile n steps (after 3 warm-up steps) and print the top entries by own time."""
    import cProfile
    import pstats
    for _ in range(3):
        step()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        step()
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(top)


def rows_for(workload, device, res, target):
    med, lo, hi = res["ours"]
    rows = [dict(workload=workload, impl=f"tinygrad_seq ({device})", median_ms=med, min_ms=lo, max_ms=hi)]
    if "torch" in res:
        tmed, tlo, thi = res["torch"]
        ratio = med / tmed
        rows[0].update(ratio=ratio, ratio_of_min=lo / tlo, target=target,
                       note=f"target <= {target}x: {'met' if ratio <= target else 'NOT met'}; "
                            f"min/min {lo / tlo:.2f}x (less sensitive to other load)")
        rows.append(dict(workload=workload, impl=f"torch {torch.__version__}", median_ms=tmed, min_ms=tlo,
                         max_ms=thi, ratio=1.0))
    return rows


def torch_train_step(tm, make_opt, xs, ys, device):
    """(step, sync) for a torch classifier trained with cross-entropy on one fixed batch, on the
    device matching ours; (None, None) when torch cannot use that device."""
    if device != "cpu" and not torch.cuda.is_available():
        return None, None
    tdev = "cpu" if device == "cpu" else "cuda"
    tm.to(tdev)
    topt = make_opt(tm.parameters())
    tx, ty = torch.tensor(xs, device=tdev), torch.tensor(ys, device=tdev)

    def tstep():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(tx), ty)
        loss.backward()
        topt.step()
        return loss
    return tstep, (torch.cuda.synchronize if tdev == "cuda" else None)


def measure_pair(workload, step, tstep, sync, tsync, device, steps, warmup, target, memory=False,
                 profile_step=False):
    """Time our step against torch's (tstep may be None), and add peak memory if asked: the rows."""
    if profile_step:
        profile(step)
    res = compare(step, tstep, steps, warmup, blocks=min(5, steps), ours_sync=sync, torch_sync=tsync)
    rows = rows_for(workload, device, res, target)
    rows[0]["role"] = "ours"
    if memory:
        rows[0].update(peak_memory(step, sync, device, "ours"))
    if len(rows) > 1:
        rows[1]["role"] = "torch"
        if memory:
            rows[1].update(peak_memory(tstep, tsync, device, "torch"))
    return rows


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
    opt = sgd(list(ours.parameters()), 0.01)
    x, y = tg.Tensor(xs, device=device), tg.Tensor(ys, device=device)
    sync = None
    if device != "cpu":
        import cupy
        sync = cupy.cuda.Device().synchronize

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
