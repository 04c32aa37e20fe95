"""Cost per op as the graph grows: a chain of elementwise ops (add, mul, tanh alternating) on a
tensor of 8 floats, forward plus backward, at 1,000 / 10,000 / 100,000 / 1,000,000 ops, ours
beside PyTorch; and an LSTM over 10,000 steps, composed cells (fused=False) against the fused
layer. Targets: ours per op at the longest chain at most 1.3x ours at 1,000 ops (with Python's
garbage collector on, as a program runs); the composed LSTM at most 3x the fused one.

    python -m benchmarks.graph_length [--quick] [--json out.json]

Times are wall-clock; each length runs at least three times, and the per-op
figures are the median and the best of those runs. PyTorch runs on one thread here: tensors
this small gain nothing from more, and on a busy machine its idle threads' spinning costs it
seconds. --quick: up to 10,000 ops and 200 LSTM
steps (a smoke run).
"""
import argparse
import gc
import statistics
import time

import numpy as np

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from benchmarks.common import torch, console, _rss_bytes

GROWTH_TARGET = 1.3    # ours per op at the longest chain over ours per op at 1,000 ops
LSTM_TARGET = 3.0      # composed LSTM over fused LSTM, 10,000 steps
LENGTHS = (1_000, 10_000, 100_000, 1_000_000)
QUICK_LENGTHS = (100, 1_000, 10_000)


def chain(x, n_ops):
    y = x
    for i in range(n_ops):
        k = i % 3
        y = y + 0.5 if k == 0 else (y * 0.9 if k == 1 else y.tanh())
    return y.sum()


def _runs(n, quick):
    """Runs per length: enough ops in all for a stable median, at least 3."""
    return max(3, min(30, (30_000 if quick else 300_000) // n))


def time_chain(x, n, runs):
    """(median, best) microseconds per op of chain(x, n).backward(), and the graph's memory in MB
    (resident-set growth from before the forward to its end, when the whole graph is alive)."""
    per_op, mem = [], 0.0
    for _ in range(runs):
        gc.collect()
        r0 = _rss_bytes()
        t0 = time.perf_counter()
        y = chain(x, n)
        mem = max(mem, (_rss_bytes() - r0) / 2**20)
        y.backward()
        per_op.append((time.perf_counter() - t0) * 1e6 / (n + 1))
        del y
        x.grad = None
    return statistics.median(per_op), min(per_op), max(per_op), mem


def chain_rows(lengths, quick):
    """One row per (length, implementation): us per op, forward plus backward."""
    x0 = np.random.default_rng(0).standard_normal(8).astype(np.float32)
    ours_x = tg.Tensor(x0, requires_grad=True)
    theirs_x = torch.tensor(x0, requires_grad=True) if torch is not None else None
    chain(ours_x, 100).backward()   # warm-up
    if theirs_x is not None:
        chain(theirs_x, 100).backward()
    rows = []
    for n in lengths:
        runs = _runs(n, quick)
        pair = {}
        for impl, x in (("ours", ours_x), ("torch", theirs_x)):
            if x is None:
                continue
            med, best, worst, mem = time_chain(x, n, runs)
            pair[impl] = dict(ops=n, impl=impl, runs=runs, median_us=med, min_us=best, max_us=worst, graph_mb=mem)
        if "torch" in pair:
            pair["ours"]["ratio"] = pair["ours"]["median_us"] / pair["torch"]["median_us"]
        rows += list(pair.values())
    for impl in ("ours", "torch"):
        mine = [r for r in rows if r["impl"] == impl]
        if mine:
            for r in mine:   # growth: per op at this length over per op at the first one
                r["growth"] = r["median_us"] / mine[0]["median_us"]
    return rows


def lstm_rows(T, quick):
    """Forward + backward of an LSTM (input 8, hidden 16, batch 4) over T steps: fused, composed,
    and torch's nn.LSTM; ms per pass."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((T, 4, 8)).astype(np.float32)
    runs = 3 if not quick else 1
    rows = []
    for impl, fused in (("ours fused", True), ("ours composed", False)):
        tg.manual_seed(0)
        lstm = nn.LSTM(8, 16, fused=fused)
        x = tg.Tensor(xs)

        def step():
            out, _ = lstm(x)
            out.sum().backward()
        rows.append(dict(impl=impl, steps=T, **_time_ms(step, runs)))
    if torch is not None:
        tl = torch.nn.LSTM(8, 16)
        tx = torch.tensor(xs)

        def tstep():
            out, _ = tl(tx)
            out.sum().backward()
        rows.append(dict(impl="torch nn.LSTM", steps=T, **_time_ms(tstep, runs)))
    rows[1]["ratio_to_fused"] = rows[1]["median_ms"] / rows[0]["median_ms"]
    return rows


def _time_ms(step, runs):
    step()   # warm-up
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    return dict(median_ms=statistics.median(times), min_ms=min(times), max_ms=max(times), runs=runs)


def run(quick=False):
    """{'chain': rows, 'lstm': rows}: what the table shows."""
    threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        return {"chain": chain_rows(QUICK_LENGTHS if quick else LENGTHS, quick),
                "lstm": lstm_rows(200 if quick else 10_000, quick)}
    finally:
        if torch is not None:
            torch.set_num_threads(threads)


def suite_rows(quick=False):
    """The rows `python -m benchmarks` shows: {'graph-length': [...], 'lstm-composed': [...]}.
    graph-length: ours and torch per op at the longest chain (us), ours judged on its growth
    from the shortest chain; the shorter chains as extra rows. lstm-composed: the composed
    LSTM judged against the fused one, torch's nn.LSTM beside them."""
    res = run(quick)
    chain_, lstm = res["chain"], res["lstm"]
    longest = max(r["ops"] for r in chain_)
    graph = []
    for r in sorted(chain_, key=lambda r: (r["ops"] != longest, r["ops"], r["impl"])):
        row = dict(workload=f"chain of {longest:,} elementwise ops on 8 floats, us per op (fwd+bwd)",
                   impl=f"{r['impl']} {r['ops']:,} ops", median_ms=r["median_us"], min_ms=r["min_us"],
                   max_ms=r["max_us"], peak_host_mb=r["graph_mb"], role="extra",
                   note=f"growth {r['growth']:.2f}x over {min(q['ops'] for q in chain_):,} ops")
        if r["ops"] == longest:
            row["role"] = r["impl"]
            if r["impl"] == "ours":
                row.update(target=GROWTH_TARGET, target_of=f"ours {longest:,} / {chain_[0]['ops']:,} ops",
                           target_ratio=r["growth"])
        graph.append(row)
    T = lstm[0]["steps"]
    lstm_out = []
    for r, role in zip(lstm, ("extra", "ours", "torch")):
        row = dict(workload=f"LSTM I8 H16 B4, {T:,} steps, fwd+bwd (ms)", impl=r["impl"], role=role,
                   median_ms=r["median_ms"], min_ms=r["min_ms"], max_ms=r["max_ms"], peak_host_mb=0.0)
        if role == "ours":
            row.update(target=LSTM_TARGET, target_of="composed / fused", target_ratio=r["ratio_to_fused"])
        lstm_out.append(row)
    return {"graph-length": graph, "lstm-composed": lstm_out}


def print_tables(res, con=None):
    from rich.table import Table
    con = con or console()
    t = Table(title="cost per op as the chain grows (us per op, forward + backward)")
    for c in ("ops", "runs", "ours", "min", "torch", "min", "/torch", "growth",
              "torch growth", "MB"):
        t.add_column(c, justify="right", no_wrap=True)
    chain_ = res["chain"]
    for n in sorted({r["ops"] for r in chain_}):
        o = next(r for r in chain_ if r["ops"] == n and r["impl"] == "ours")
        th = next((r for r in chain_ if r["ops"] == n and r["impl"] == "torch"), None)
        f = lambda v: f"{v:.2f}"  # noqa: E731
        t.add_row(f"{n:,}", str(o["runs"]), f(o["median_us"]), f(o["min_us"]),
                  f(th["median_us"]) if th else "n/a", f(th["min_us"]) if th else "n/a",
                  f"{o['ratio']:.2f}x" if th else "n/a", f"{o['growth']:.2f}x",
                  f"{th['growth']:.2f}x" if th else "n/a", f"{o['graph_mb']:.0f}")
    con.print(t)
    g = max((r for r in chain_ if r["impl"] == "ours"), key=lambda r: r["ops"])["growth"]
    con.print("ours, torch: median (min: best run); growth: per op over per op at the shortest\n"
              "chain; MB: ours, resident memory growth by the end of forward (the graph)")
    con.print(f"ours growth, longest over shortest chain: {g:.2f}x (target <= {GROWTH_TARGET}x: "
              f"{'met' if g <= GROWTH_TARGET else 'MISSED'})")
    t = Table(title=f"LSTM (I8 H16 B4) over {res['lstm'][0]['steps']:,} steps, forward + backward (ms)")
    for c in ("impl", "runs", "median", "min", "max", "/ ours fused"):
        t.add_column(c, justify="left" if c == "impl" else "right")
    fused = res["lstm"][0]["median_ms"]
    for r in res["lstm"]:
        t.add_row(r["impl"], str(r["runs"]), f"{r['median_ms']:.1f}", f"{r['min_ms']:.1f}",
                  f"{r['max_ms']:.1f}", f"{r['median_ms'] / fused:.2f}x")
    con.print(t)
    ratio = res["lstm"][1]["ratio_to_fused"]
    con.print(f"composed over fused: {ratio:.2f}x (target <= {LSTM_TARGET}x: "
              f"{'met' if ratio <= LSTM_TARGET else 'MISSED'})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="up to 10,000 ops, 200 LSTM steps")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    a = p.parse_args(argv)
    res = run(a.quick)
    print_tables(res)
    if a.json:
        import json
        from benchmarks.common import machine_info
        with open(a.json, "w") as f:
            json.dump({"machine": machine_info(), "quick": a.quick, **res}, f, indent=2)
    return res


if __name__ == "__main__":
    main()
