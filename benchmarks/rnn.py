"""Recurrent layers, ours vs PyTorch in the same process: train steps and truncated BPTT.

    python -m benchmarks.rnn [--quick] [--json out.json] [--only lstm,gru,rnn,deep,tbptt]

Workloads (CPU, float32):
  char-LSTM / char-GRU / char-RNN train step: vocab 65, embedding 64, hidden 256, 1 layer,
      batch 32, seq 64, linear decoder on every step, cross-entropy, Adam.
      Targets: LSTM <= 1.5x torch nn.LSTM (and faster than torch nn.LSTMCell stepped in a
      Python loop); GRU and tanh RNN <= 1.0x torch. Also shown: our composed
      (cell-stepping) path, a hand-written NumPy LSTM (no framework) and the step's
      matrix products alone in NumPy (the floor any NumPy framework sits on).
  deep LSTM: 2 layers, embedding 128, hidden 512, batch 64, seq 100 (target <= 1.2x torch).
  TBPTT: LSTM hidden 64, batch 8, input 16, seq 2000: full BPTT vs truncated (k=50),
      time per pass over the sequence and peak traced memory (tracemalloc; ours only,
      torch allocates outside Python's tracer).
"""
import argparse
import gc
import time
import tracemalloc

import numpy as np

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq.nn.embedding import Embedding
from tinygrad_seq.nn.linear import Linear
from tinygrad_seq.nn.loss import cross_entropy
from tinygrad_seq.nn.tbptt import detach_state, tbptt_chunks
from tinygrad_seq.optim import Adam
from benchmarks.common import device_sync, measure, profile, report, time_steps, torch
from benchmarks.numpy_lstm import LSTMMatmuls, NumpyCharLSTM

TARGETS = {"LSTM": 1.5, "GRU": 1.0, "RNN": 1.0, "deep": 1.2}
NUMPY_TARGET = 1.25  # ours <= 1.25x the hand-written NumPy char-LSTM


# ---------------------------------------------------------------- models
class OursCharModel:
    """Embedding -> recurrent layer(s) -> Linear on every step, cross-entropy, Adam."""

    def __init__(self, mode, V, E, H, layers=1, fused=True, device="cpu"):
        self.emb = Embedding(V, E)
        self.rnn = getattr(nn, mode)(E, H, num_layers=layers, fused=fused)
        self.dec = Linear(H, V)
        self.V = V
        self.to(device)

    def to(self, device):
        for m in (self.emb, self.rnn, self.dec):
            m.to(device)
        self.params = list(self.emb.parameters()) + list(self.rnn.parameters()) + list(self.dec.parameters())
        self.opt = Adam(self.params, lr=1e-3)

    def load_from(self, t_emb, t_rnn, t_dec):
        to_np = lambda m: {k: v.detach().numpy() for k, v in m.state_dict().items()}  # noqa: E731
        self.emb.load_state_dict(to_np(t_emb))
        self.rnn.load_state_dict(to_np(t_rnn))
        self.dec.load_state_dict(to_np(t_dec))
        self.to(self.emb.weight.device)  # loading may bring CPU arrays: back onto our device

    def step(self, x, y):
        self.opt.zero_grad()
        out, _ = self.rnn(self.emb(x))
        loss = cross_entropy(self.dec(out).reshape(-1, self.V), y.reshape(-1))
        loss.backward()
        self.opt.step()
        return loss.item()


def torch_char_model(mode, V, E, H, layers=1, device="cpu"):
    emb, rnn, dec = torch.nn.Embedding(V, E), getattr(torch.nn, mode)(E, H, layers), torch.nn.Linear(H, V)
    for m in (emb, rnn, dec):
        m.to(device)
    opt = torch.optim.Adam(list(emb.parameters()) + list(rnn.parameters()) + list(dec.parameters()), lr=1e-3)

    def step(x, y):
        opt.zero_grad()
        out, _ = rnn(emb(x))
        loss = torch.nn.functional.cross_entropy(dec(out).reshape(-1, V), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()
    return (emb, rnn, dec), step


def torch_cell_loop_model(V, E, H):
    """torch.nn.LSTMCell stepped in a Python loop: what an unfused framework does."""
    emb, cell, dec = torch.nn.Embedding(V, E), torch.nn.LSTMCell(E, H), torch.nn.Linear(H, V)
    opt = torch.optim.Adam(list(emb.parameters()) + list(cell.parameters()) + list(dec.parameters()), lr=1e-3)

    def step(x, y):
        opt.zero_grad()
        e = emb(x)
        state, outs = None, []
        for t in range(e.shape[0]):
            state = cell(e[t], state)
            outs.append(state[0])
        loss = torch.nn.functional.cross_entropy(dec(torch.stack(outs)).reshape(-1, V), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()
    return step


# ---------------------------------------------------------------- workloads
def char_workload(mode, steps, warmup, rows, V=65, E=64, H=256, B=32, T=64, layers=1, label=None,
                  extras=True, device="cpu", numpy_ref=None, memory=False):
    """Rows for one char-model train step: torch (role 'torch'), ours fused (role 'ours', with its
    target), and with extras the torch LSTMCell loop and our composed path; numpy_ref (default:
    extras) adds the hand-written NumPy LSTM (1-layer LSTM on cpu only; its target: ours <= 1.25x it).
    An LSTM on the CPU beside torch also gets the time of its matrix products alone (LSTMMatmuls):
    the least time any step built on this machine's BLAS can take."""
    label = label or f"char-{mode} train step (E{E} H{H} B{B} T{T}{f' L{layers}' if layers > 1 else ''})"
    numpy_ref = extras if numpy_ref is None else numpy_ref
    rng = np.random.default_rng(0)
    ids, tgt = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    tg.manual_seed(0)
    ours = OursCharModel(mode, V, E, H, layers, device=device)
    t_ms = None
    tdev = "cuda" if device != "cpu" else "cpu"
    has_torch = torch is not None and (device == "cpu" or torch.cuda.is_available())
    if has_torch:
        torch.manual_seed(0)
        tmods, tstep = torch_char_model(mode, V, E, H, layers, tdev)
        ours.load_from(*tmods)
        tx, ty = torch.tensor(ids, device=tdev), torch.tensor(tgt, device=tdev)
        l_t, l_o = tstep(tx, ty), ours.step(tg.tensor(ids, device=device), tg.tensor(tgt, device=device))
        r = measure(lambda: tstep(tx, ty), steps, warmup, device_sync(device, "torch"), device, "torch", memory)
        t_ms = r["median_ms"]
        rows.append(dict(workload=label, impl=f"torch nn.{mode}", role="torch", ratio=1.0, **r,
                         note=f"first-step loss {l_t:.4f} (ours {l_o:.4f})"))
    x, y = tg.tensor(ids, device=device), tg.tensor(tgt, device=device)
    r = measure(lambda: ours.step(x, y), steps, warmup, device_sync(device), device, "ours", memory)
    med = r["median_ms"]
    target = TARGETS["deep" if layers > 1 else mode]
    ratio = med / t_ms if t_ms else None
    note = f"target <= {target}x: {'met' if ratio is not None and ratio <= target else 'NOT met'}" if ratio else ""
    rows.append(dict(workload=label, impl=f"ours nn.{mode} (fused)", role="ours", target=target, **r,
                     ratio=ratio, note=note))
    dtypes = {str(p.grad.dtype) for p in ours.params} | {str(p.dtype) for p in ours.params}
    if dtypes != {"float32"}:
        rows[-1]["note"] += f" (dtypes {dtypes}!)"
    if extras and mode == "LSTM" and has_torch:
        cstep = torch_cell_loop_model(V, E, H)
        tx, ty = torch.tensor(ids), torch.tensor(tgt)
        cm, clo, chi = time_steps(lambda: cstep(tx, ty), steps, warmup)
        rows.append(dict(workload=label, impl="torch nn.LSTMCell in a Python loop", median_ms=cm, min_ms=clo,
                         max_ms=chi, ratio=cm / t_ms, role="extra",
                         note=f"ours fused is {cm / med:.2f}x faster" if med < cm else
                         f"ours fused is {med / cm:.2f}x SLOWER"))
    if extras:
        comp = OursCharModel(mode, V, E, H, layers, fused=False, device=device)
        cm, clo, chi = time_steps(lambda: comp.step(x, y), max(2, steps // 4), 1, device_sync(device))
        rows.append(dict(workload=label, impl=f"ours nn.{mode}(fused=False): composed cells", median_ms=cm,
                         min_ms=clo, max_ms=chi, ratio=cm / t_ms if t_ms else None, role="extra",
                         note="reference path"))
    if mode == "LSTM" and device == "cpu" and t_ms:
        mm = LSTMMatmuls(V, E, H, B, T, layers)
        r = measure(mm.step, steps, warmup, None, "cpu", "numpy", memory)
        rows.append(dict(workload=label, impl="matmuls only", role="extra", **r,
                         ratio=r["median_ms"] / t_ms,
                         note=f"the step's matrix products alone in NumPy (the BLAS floor): "
                              f"{r['median_ms'] / t_ms:.2f}x torch's whole step"))
    if numpy_ref and mode == "LSTM" and layers == 1 and device == "cpu":
        npm = NumpyCharLSTM(V, E, H)
        r = measure(lambda: npm.train_step(ids, tgt), steps, warmup, None, "cpu", "numpy", memory)
        vs = med / r["median_ms"]
        rows.append(dict(workload=label, impl="hand-written NumPy LSTM (no autograd)", role="numpy", **r,
                         ratio=r["median_ms"] / t_ms if t_ms else None, target=NUMPY_TARGET, ours_over_numpy=vs,
                         note=f"the NumPy floor; ours/numpy {vs:.2f}x, target <= {NUMPY_TARGET}x: "
                              f"{'met' if vs <= NUMPY_TARGET else 'NOT met'}"))


def tbptt_workload(rows, T=2000, B=8, I=16, H=64, k=50, repeats=2, device="cpu", memory=False):
    """One pass over a 2000-step sequence: full BPTT (one backward) vs truncated (k=50)."""
    label = f"LSTM H{H} B{B} I{I} seq {T}"
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((T, B, I)).astype(np.float32)
    ys = rng.standard_normal((T, B, H)).astype(np.float32)
    tg.manual_seed(0)
    lstm = nn.LSTM(I, H).to(device)
    opt = Adam(list(lstm.parameters()), lr=1e-3)
    x, y = tg.tensor(xs, device=device), tg.tensor(ys, device=device)

    def full():
        opt.zero_grad()
        out, _ = lstm(x)
        ((out - y) * (out - y)).mean().backward()
        opt.step()

    def truncated():
        state = None
        for xc, yc in tbptt_chunks(x, y, k=k):
            opt.zero_grad()
            out, state = lstm(xc, state)
            ((out - yc) * (out - yc)).mean().backward()
            opt.step()
            state = detach_state(state)

    names = ("full BPTT", f"truncated k={k}")
    results = {}
    for name, fn in zip(names, (full, truncated)):
        r = measure(fn, repeats, 1, device_sync(device), device, "ours", memory)
        note = ""
        if device == "cpu":
            gc.collect()
            tracemalloc.start()    # NumPy reports its buffers to tracemalloc: the peak is the arrays' memory
            fn()
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            note = f"peak traced memory {peak:.1f} MB"
            r.setdefault("peak_mb", peak)
        results[name] = r["median_ms"]
        rows.append(dict(workload=f"{label}: {name}", impl=f"ours {name}", role="ours", target=TARGETS["LSTM"],
                         note=note, **r))
    if torch is not None and (device == "cpu" or torch.cuda.is_available()):
        tdev = "cpu" if device == "cpu" else "cuda"
        tl = torch.nn.LSTM(I, H).to(tdev)
        topt = torch.optim.Adam(tl.parameters(), lr=1e-3)
        tx, ty = torch.tensor(xs, device=tdev), torch.tensor(ys, device=tdev)

        def tfull():
            topt.zero_grad()
            out, _ = tl(tx)
            ((out - ty) ** 2).mean().backward()
            topt.step()

        def ttrunc():
            state = None
            for s in range(0, T, k):
                topt.zero_grad()
                out, state = tl(tx[s:s + k], state)
                ((out - ty[s:s + k]) ** 2).mean().backward()
                topt.step()
                state = tuple(h.detach() for h in state)

        for name, fn in zip(names, (tfull, ttrunc)):
            r = measure(fn, repeats, 1, device_sync(device, "torch"), device, "torch", memory)
            for row in rows:
                if row["workload"] == f"{label}: {name}":
                    row["ratio"] = results[name] / r["median_ms"]
            rows.append(dict(workload=f"{label}: {name}", impl=f"torch {name}", role="torch", ratio=1.0,
                             note=f"ours/torch {results[name] / r['median_ms']:.2f}x", **r))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer timed steps (a smoke run)")
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    ap.add_argument("--only", default="lstm,gru,rnn,deep,tbptt", help="comma list of workloads")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile 20 of our char-LSTM train steps (after 3 warm-up steps), print the top entries")
    args = ap.parse_args(argv)
    tg.backend.set_host_malloc("cached")   # keep freed host memory, as a training program would
    if args.profile:
        V, E, H, B, T = (65, 8, 16, 4, 8) if args.quick else (65, 64, 256, 32, 64)
        rng = np.random.default_rng(0)
        x, y = tg.tensor(rng.integers(0, V, (T, B))), tg.tensor(rng.integers(0, V, (T, B)))
        tg.manual_seed(0)
        model = OursCharModel("LSTM", V, E, H)
        profile(lambda: model.step(x, y))
        return []
    only = set(args.only.split(","))
    steps, warmup = (3, 1) if args.quick else (10, 2)
    rows = []
    t0 = time.perf_counter()
    for mode in ("LSTM", "GRU", "RNN"):
        if mode.lower() in only:
            char_workload(mode, steps, warmup, rows)
    if "deep" in only:
        char_workload("LSTM", 2 if args.quick else 3, 1, rows, E=128, H=512, B=64, T=100, layers=2,
                      label="deep LSTM train step (2 layers, E128 H512 B64 T100)", extras=False)
    if "tbptt" in only:
        tbptt_workload(rows, repeats=1 if args.quick else 3)
    report(f"Recurrent layers vs PyTorch (CPU, float32) - {time.perf_counter() - t0:.0f} s", rows, args.json)


if __name__ == "__main__":
    main()
