"""Optimizer steps, gradient clipping, batching and checkpoints beside PyTorch.

Parameters shaped like a 1-layer char-LSTM (65 symbols, 64-dim embedding, 512
hidden: about 1.4M floats); the optimizers get the same fixed gradients.

    python -m benchmarks.optim [--steps 30] [--json out.json]
"""
import argparse
import os
import tempfile

import numpy as np

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq import optim
from tinygrad_seq.data import TensorDataset, DataLoader
from benchmarks.common import device_sync, measure_pair, report, time_steps, torch

SHAPES = [(65, 64), (2048, 64), (2048, 512), (2048,), (2048,), (65, 512), (65,)]
OPTIMIZERS = [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=1e-3)), ("AdamW", dict(lr=1e-3)),
              ("RMSprop", dict(lr=1e-3)), ("Adagrad", dict(lr=1e-2))]


def _arrays(seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


SUITE_TARGET = 1.2   # the suite's Adam / AdamW step: ours at most 1.2x torch's


def step_workload(name, quick=False, device="cpu", steps=30, warmup=3):
    """The suite's optimizer rows: one `name` ("Adam" or "AdamW") step over the 1.4M parameters
    (tiny ones with quick), ours and torch on the same device, from the same fixed gradients."""
    shapes = [(8, 4), (16,)] if quick else SHAPES
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ps = [tg.Tensor(x.copy(), requires_grad=True, device=device) for x in init]
    for q, g in zip(ps, grads):
        q.grad = tg.Tensor(g, device=device)
    step, sync = getattr(optim, name)(ps, lr=1e-3).step, device_sync(device)
    tstep = tsync = None
    if torch is not None and (device == "cpu" or torch.cuda.is_available()):
        tdev = "cpu" if device == "cpu" else "cuda"
        tps = [torch.tensor(x.copy(), requires_grad=True, device=tdev) for x in init]
        for q, g in zip(tps, grads):
            q.grad = torch.tensor(g, device=tdev)
        tstep, tsync = getattr(torch.optim, name)(tps, lr=1e-3).step, device_sync(device, "torch")
    n = sum(x.size for x in init)
    return measure_pair(f"{name} step ({n:,} float32 parameters)", step, tstep, sync, tsync, device,
                        *((1, 1) if quick else (steps, warmup)), SUITE_TARGET, memory=True)


def _pair(rows, workload, ours, theirs, steps, warmup, note=""):
    med, lo, hi = time_steps(ours, steps, warmup)
    rows.append(dict(workload=workload, impl="tinygrad_seq", median_ms=med, min_ms=lo, max_ms=hi, note=note))
    if torch is not None and theirs is not None:
        tmed, tlo, thi = time_steps(theirs, steps, warmup)
        rows.append(dict(workload=workload, impl="torch", median_ms=tmed, min_ms=tlo, max_ms=thi, note=note))
        rows[-2]["ratio"] = med / tmed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json")
    a = p.parse_args(argv)
    init, grads = _arrays(0), _arrays(1)
    rows = []
    for name, kw in OPTIMIZERS:
        ps = [tg.Tensor(x.copy(), requires_grad=True) for x in init]
        for q, g in zip(ps, grads):
            q.grad = tg.Tensor(g)
        o = getattr(optim, name)(ps, **kw)
        theirs = None
        if torch is not None:
            tps = [torch.tensor(x.copy(), requires_grad=True) for x in init]
            for q, g in zip(tps, grads):
                q.grad = torch.tensor(g)
            t = getattr(torch.optim, name)(tps, **kw)
            theirs = t.step
        _pair(rows, f"{name} step", o.step, theirs, a.steps, a.warmup, note="1.4M params")

    ps = [tg.Tensor(x, requires_grad=True) for x in init]
    tps = [torch.tensor(x, requires_grad=True) for x in init] if torch is not None else None

    def ours_clip():
        for q, g in zip(ps, grads):
            q.grad = tg.Tensor._wrap(g, "cpu")
        nn.utils.clip_grad_norm_(ps, 1.0)

    def theirs_clip():
        for q, g in zip(tps, grads):
            q.grad = torch.from_numpy(g.copy())  # torch clips in place: give it a fresh copy each time
        torch.nn.utils.clip_grad_norm_(tps, 1.0)
    _pair(rows, "clip_grad_norm_", ours_clip, theirs_clip if torch is not None else None, a.steps, a.warmup,
          note="torch timing includes a grad copy")

    n = 20000
    X = np.random.default_rng(2).integers(0, 65, (n, 64))
    Y = np.random.default_rng(3).integers(0, 65, (n,))
    dl = DataLoader(TensorDataset(tg.Tensor(X), tg.Tensor(Y)), batch_size=64, shuffle=True, seed=0)

    def ours_epoch():
        for _ in dl:
            pass
    theirs_epoch = None
    if torch is not None:
        from torch.utils.data import TensorDataset as TDS, DataLoader as TDL
        tdl = TDL(TDS(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=64, shuffle=True)
        theirs_epoch = lambda: [None for _ in tdl]  # noqa: E731
    _pair(rows, "DataLoader epoch", ours_epoch, theirs_epoch, max(3, a.steps // 10), 1,
          note=f"{n} x 64 ids, batch 64, shuffled")

    with tempfile.TemporaryDirectory() as d:
        sd = {f"p{i}": tg.Tensor(x) for i, x in enumerate(init)}
        path, tpath = os.path.join(d, "ck.npz"), os.path.join(d, "ck.pt")
        tsd = {k: torch.from_numpy(v.numpy()) for k, v in sd.items()} if torch is not None else None
        _pair(rows, "save 1.4M params", lambda: tg.save(sd, path),
              (lambda: torch.save(tsd, tpath)) if torch is not None else None, max(3, a.steps // 3), 1,
              note="ours: fsync + atomic rename")
        _pair(rows, "load 1.4M params", lambda: tg.load(path),
              (lambda: torch.load(tpath)) if torch is not None else None, max(3, a.steps // 3), 1)
    report("optimizers, clipping, batching, checkpoints (ms per call)", rows, a.json)
    return rows


if __name__ == "__main__":
    main()
