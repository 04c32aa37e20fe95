"""Per-op overhead: a chain of 200 elementwise ops (add, mul, tanh alternating) on an
8x8 float32 tensor, forward plus backward, microseconds per op, beside PyTorch.

    python -m benchmarks.overhead [--ops 200] [--steps 50] [--json out.json]
"""
import argparse

import numpy as np

import tinygrad_seq as tg
from benchmarks.common import torch, time_steps, report


def chain(x, n_ops):
    y = x
    for i in range(n_ops):
        k = i % 3
        y = y + 0.5 if k == 0 else (y * 0.9 if k == 1 else y.tanh())
    return y.sum()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ops", type=int, default=200)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--json")
    a = p.parse_args(argv)
    x0 = np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32)
    rows = []
    x = tg.Tensor(x0, requires_grad=True)

    def ours():
        chain(x, a.ops).backward()
    med, lo, hi = time_steps(ours, a.steps, a.warmup)
    n = a.ops + 1  # + the final sum
    rows.append(dict(workload="op chain", impl="tinygrad_seq", median_ms=med * 1e3 / n, min_ms=lo * 1e3 / n,
                     max_ms=hi * 1e3 / n, note="us per op (fwd+bwd)"))
    if torch is not None:
        tx = torch.tensor(x0, requires_grad=True)

        def theirs():
            chain(tx, a.ops).backward()
        tmed, tlo, thi = time_steps(theirs, a.steps, a.warmup)
        rows.append(dict(workload="op chain", impl="torch", median_ms=tmed * 1e3 / n, min_ms=tlo * 1e3 / n,
                         max_ms=thi * 1e3 / n, note="us per op (fwd+bwd)"))
        rows[0]["ratio"] = med / tmed
    report("per-op overhead (values in microseconds per op)", rows, a.json)
    return rows


if __name__ == "__main__":
    main()
