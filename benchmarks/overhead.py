"""Per-op overhead: a chain of 200 elementwise ops (add, mul, tanh alternating) on an
8x8 float32 tensor, forward plus backward, microseconds per op, beside PyTorch.

    python -m benchmarks.overhead [--ops 200] [--steps 50] [--json out.json]
"""
import argparse

import numpy as np

import tinygrad_seq as tg
from benchmarks.common import torch, report, measure, device_sync

TARGET = 0.8  # ours <= 0.8x torch per op


def chain(x, n_ops):
    y = x
    for i in range(n_ops):
        k = i % 3
        y = y + 0.5 if k == 0 else (y * 0.9 if k == 1 else y.tanh())
    return y.sum()


def run(ops=200, steps=50, warmup=5, device="cpu", memory=False):
    """Rows (ours, then torch when importable): microseconds per op of the chain, forward + backward."""
    x0 = np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32)
    rows = []
    x = tg.Tensor(x0, requires_grad=True, device=device)
    n = ops + 1  # + the final sum
    us = lambda r: {k: (v * 1e3 / n if k.endswith("_ms") else v) for k, v in r.items()}  # noqa: E731

    def ours():
        chain(x, ops).backward()
    r = measure(ours, steps, warmup, device_sync(device), device, "ours", memory)
    rows.append(dict(workload="op chain", impl="tinygrad_seq", role="ours", target=TARGET,
                     note="us per op (fwd+bwd)", **us(r)))
    if torch is not None and (device == "cpu" or torch.cuda.is_available()):
        tx = torch.tensor(x0, requires_grad=True, device="cpu" if device == "cpu" else "cuda")

        def theirs():
            chain(tx, ops).backward()
        r = measure(theirs, steps, warmup, device_sync(device, "torch"), device, "torch", memory)
        rows.append(dict(workload="op chain", impl="torch", role="torch", ratio=1.0, note="us per op (fwd+bwd)",
                         **us(r)))
        rows[0]["ratio"] = rows[0]["median_ms"] / rows[1]["median_ms"]
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ops", type=int, default=200)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--json")
    a = p.parse_args(argv)
    rows = run(a.ops, a.steps, a.warmup)
    report("per-op overhead (values in microseconds per op)", rows, a.json)
    return rows


if __name__ == "__main__":
    main()
