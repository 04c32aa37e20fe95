"""The whole benchmark suite in one command: ours beside PyTorch (and the hand-written NumPy
char-LSTM), one table, one JSON file.

    python -m benchmarks [--device cpu|cuda] [--quick] [--json PATH] [--only KEY,KEY] [--runs N]

Workloads (keys): char-LSTM, char-GRU, char-RNN (vocab 65, embedding 64, hidden 256, batch 32,
seq 64, Adam), deep-LSTM (2 layers, embedding 128, hidden 512, batch 64, seq 100), textcnn
(Kim CNN), lenet, overhead (per-op chain, microseconds per op), bptt-full and bptt-truncated
(LSTM over 2000 steps, k=50), graph-length (per-op cost of a chain of up to a million ops,
judged on its growth from 1,000 ops) and lstm-composed (composed LSTM cells over 10,000 steps,
judged against the fused layer): see benchmarks/graph_length.py. Each row: median / min / max ms per train step over the timed
steps after warm-up, peak memory growth during untimed extra steps (host RSS; on cuda also
CuPy's pool or torch.cuda.max_memory_allocated), the ratio to PyTorch on the same device
(medians; and best step against best step, which PyTorch's thread contention on a small
machine sways less), and the row's target with met / MISSED, judged only on 3 or more timed
steps after warm-up ("too few steps" otherwise). --quick: tiny sizes and 1-2 steps (a smoke
run: no verdicts). Without PyTorch one line says so and the comparisons show n/a.

Data parallelism has its own entry, which launches `mpiexec` itself (all-reduce bandwidth, the
char-LSTM step on 1 and 2 ranks): `python -m benchmarks distributed [options]`, the same as
`python -m benchmarks.distributed`.

Each workload runs in a fresh Python process (ours and torch side by side in it), so that
what one workload leaves in the heap does not count in the next one's memory growth;
--one-process runs them all in this one.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from rich.console import Console
from rich.table import Table

from benchmarks import graph_length, lenet, optim, overhead, rnn, textcnn
from benchmarks.common import console as common_console, machine_info, torch
from tinygrad_seq.backend import set_host_malloc

KEYS = ("char-LSTM", "char-GRU", "char-RNN", "deep-LSTM", "textcnn", "lenet", "adam", "adamw", "overhead",
        "bptt-full", "bptt-truncated", "graph-length", "lstm-composed")


def _char(mode, quick, device):
    rows = []
    if quick:
        rnn.char_workload(mode, 2, 1, rows, E=8, H=16, B=4, T=8, extras=False, numpy_ref=True,
                          device=device, memory=True)
    else:
        rnn.char_workload(mode, 10, 2, rows, extras=False, numpy_ref=True, device=device, memory=True)
    return rows


def _deep(quick, device):
    rows = []
    size = dict(E=8, H=16, B=4, T=8) if quick else dict(E=128, H=512, B=64, T=100)
    label = "deep LSTM train step (2 layers, E{E} H{H} B{B} T{T})".format(**size)
    rnn.char_workload("LSTM", 1 if quick else 3, 1, rows, layers=2, label=label, extras=False, device=device,
                      memory=True, **size)
    return rows


def _bptt(quick, device):
    rows = []
    size = dict(T=100, B=2, I=4, H=8, k=10) if quick else {}
    rnn.tbptt_workload(rows, repeats=1 if quick else 3, device=device, memory=True, **size)
    return rows


def run_workloads(quick, device, only=KEYS):
    """{key: rows} for the selected workloads."""
    out = {}
    for mode in ("LSTM", "GRU", "RNN"):
        if f"char-{mode}" in only:
            out[f"char-{mode}"] = _char(mode, quick, device)
    if "deep-LSTM" in only:
        out["deep-LSTM"] = _deep(quick, device)
    if "textcnn" in only:
        out["textcnn"] = textcnn.run(device, *((1, 1) if quick else (10, 2)), memory=True)
    if "lenet" in only:
        out["lenet"] = lenet.run(device, *((1, 1) if quick else (20, 3)), memory=True)
    for key, name in (("adam", "Adam"), ("adamw", "AdamW")):
        if key in only:
            out[key] = optim.step_workload(name, quick, device)
    if "overhead" in only:
        out["overhead"] = overhead.run(*((20, 2, 1) if quick else (200, 30, 3)), device=device, memory=True)
    if "bptt-full" in only or "bptt-truncated" in only:
        for r in _bptt(quick, device):     # the two passes are separate workloads
            key = "bptt-full" if "full" in r["impl"] else "bptt-truncated"
            if key in only:
                out.setdefault(key, []).append(r)
    if "graph-length" in only or "lstm-composed" in only:
        for key, rows in graph_length.suite_rows(quick).items():
            if key in only:
                out[key] = rows
    return out


def run_isolated(quick, device, only):
    """Rows of every selected workload, each run by `python -m benchmarks --only KEY` in a fresh
    process."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in only:
            Console().print(f"[dim]running {key} in its own process...[/dim]")
            path = os.path.join(tmp, f"{key}.json")
            cmd = [sys.executable, "-m", "benchmarks", "--only", key, "--device", device, "--json", path,
                   "--one-process", "--no-table"] + (["--quick"] if quick else [])
            done = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"benchmark workload {key} failed:\n{done.stderr[-3000:]}")
            with open(path) as f:
                rows += json.load(f)["rows"]
    return rows


# A verdict (met / missed) needs this many timed steps after warm-up: a ratio of one or two
# steps is noise (a --quick run says "too few steps" instead).
MIN_TIMED_STEPS = 3


def timed_steps(quick):
    """Timed steps (after warm-up) that run_workloads gives each workload."""
    if quick:
        return {"char-LSTM": 2, "char-GRU": 2, "char-RNN": 2, "deep-LSTM": 1, "textcnn": 1, "lenet": 1,
                "adam": 1, "adamw": 1,
                "overhead": 2, "bptt-full": 1, "bptt-truncated": 1, "graph-length": 1, "lstm-composed": 1}
    return {"char-LSTM": 10, "char-GRU": 10, "char-RNN": 10, "deep-LSTM": 3, "textcnn": 10, "lenet": 20,
            "adam": 30, "adamw": 30,
            "overhead": 30, "bptt-full": 3, "bptt-truncated": 3, "graph-length": 3, "lstm-composed": 3}


# Peak memory: ours' growth at most this times torch's, judged where torch's growth is at least
# MEMORY_FLOOR_MB (below it the resident-set samples are noise, not the workload's arrays).
MEMORY_TARGET = 1.2
MEMORY_FLOOR_MB = 5.0


def finalize(results, device, quick=False):
    """One flat list of rows with the same fields: ratio to torch, target, and the verdict:
    'met' / 'MISSED', 'too few steps' (under MIN_TIMED_STEPS timed steps), or 'no torch'.
    A target beside torch is met when the median ratio, the best-step ratio and (where judged)
    the peak-memory ratio are all within it; `missed` names the ones that are not."""
    rows = []
    steps = timed_steps(quick)
    for key, group in results.items():
        t_ms = next((r["median_ms"] for r in group if r.get("role") == "torch"), None)
        t_min = next((r["min_ms"] for r in group if r.get("role") == "torch"), None)
        t_mb = next((r.get("peak_host_mb") for r in group if r.get("role") == "torch"), None)
        ours_ms = next((r["median_ms"] for r in group if r.get("role") == "ours"), None)
        for r in group:
            row = dict(suite_key=key, device=device, workload=r["workload"], impl=r["impl"],
                       role=r.get("role", "extra"), median_ms=r["median_ms"], min_ms=r["min_ms"],
                       max_ms=r["max_ms"], peak_host_mb=r.get("peak_host_mb"), peak_gpu_mb=r.get("peak_gpu_mb"),
                       timed_steps=steps.get(key),
                       ratio=(r["median_ms"] / t_ms) if t_ms else None,
                       best_ratio=(r["min_ms"] / t_min) if t_min else None, target=None, target_of=None,
                       target_ratio=None, target_met=None, verdict=None, missed=[], memory_ratio=None,
                       note=r.get("note", ""))
            if row["role"] == "ours" and t_mb is not None and t_mb >= MEMORY_FLOOR_MB and r.get("peak_host_mb") is not None:
                row["memory_ratio"] = r["peak_host_mb"] / t_mb
            if row["role"] == "ours" and r.get("target_of") is not None:   # judged on its own ratio
                row.update(target=r["target"], target_of=r["target_of"], target_ratio=r["target_ratio"])
            elif row["role"] == "ours" and r.get("target") is not None:
                row.update(target=r["target"], target_of="ours/torch", target_ratio=row["ratio"])
            elif row["role"] == "ours":     # a workload that names its target only beside torch
                row.update(target_of="ours/torch", verdict="no torch")
            elif row["role"] == "numpy" and ours_ms:
                row.update(target=r["target"], target_of="ours/numpy", target_ratio=ours_ms / r["median_ms"])
            if row["target_of"] is not None and row["verdict"] is None:
                if row["target_ratio"] is None:
                    row["verdict"] = "no torch"
                elif row["timed_steps"] is not None and row["timed_steps"] < MIN_TIMED_STEPS:
                    row["verdict"] = "too few steps"
                else:
                    checks = [("median", row["target_ratio"], row["target"])]
                    if row["target_of"] == "ours/torch":
                        checks += [("best", row["best_ratio"], row["target"]),
                                   ("memory", row["memory_ratio"], MEMORY_TARGET)]
                    row["missed"] = [name for name, v, limit in checks if v is not None and v > limit]
                    row["target_met"] = not row["missed"]
                    row["verdict"] = "met" if row["target_met"] else "MISSED"
            rows.append(row)
    return rows


def short_impl(r):
    """The implementation in a few characters (the full name is in the JSON)."""
    if r["role"] in ("ours", "torch"):
        return r["role"]
    if r["role"] == "numpy":
        return "NumPy"
    return r["impl"][:16]


def print_table(title, rows, device, console=None):
    """The suite's table, under 100 columns: workload keys, the sizes beneath it. median, min: ms
    per step; MB: peak host memory growth; /torch: median over torch's; best: best step over
    torch's best step; target: ours over torch (or over NumPy) at most this."""
    console = console or common_console()
    table = Table(title=title)
    cols = ["workload", "impl", "median", "min", "MB"]
    cols += ["GPU MB"] if device != "cpu" else []
    cols += ["/torch", "best", "target", "verdict"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("workload", "impl", "target", "verdict") else "right")
    mb = lambda v: "" if v is None else f"{v:.1f}" if v < 100 else f"{v:.0f}"  # noqa: E731
    ms = lambda v: f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"  # noqa: E731
    for r in rows:
        target = verdict = ""
        if r["target_of"] is not None:
            target = "" if r["target"] is None else f"≤{r['target']}x"
            verdict = r["verdict"]
            if r["target_of"] != "ours/torch" and r["target_met"] is not None:   # not in /torch
                verdict = f"{r['target_ratio']:.2f}x {verdict}"
            elif r["missed"]:
                verdict = f"{verdict}:{','.join(m[:3] for m in r['missed'])}"   # one line: MISSED:med,bes
        cells = [r["suite_key"], short_impl(r), ms(r["median_ms"]), ms(r["min_ms"]), mb(r["peak_host_mb"])]
        cells += [mb(r["peak_gpu_mb"])] if device != "cpu" else []
        cells += ["" if r[k] is None else f"{r[k]:.2f}x" for k in ("ratio", "best_ratio")]
        cells += [target, verdict]
        table.add_row(*cells)
    console.print(table)
    console.print("median, min: ms per step (overhead: us per op); MB: peak host memory growth\n"
                  "/torch: median over torch's; best: best step over torch's best step\n"
                  "a target beside torch needs the median, the best step and the memory (MB over torch's,\n"
                  f"  judged where torch's is at least {MEMORY_FLOOR_MB:g} MB, at most {MEMORY_TARGET}x) within it;\n"
                  "  MISSED names the ones that are not (med: median, bes: best step, mem: memory)\n"
                  "target: ours over torch (NumPy row: ours over the NumPy LSTM; graph-length:\n"
                  "  ours per op at the longest chain over 1,000 ops; lstm-composed: over fused) at most\n"
                  f"verdict: judged on {MIN_TIMED_STEPS} or more timed steps after warm-up")
    seen = {}
    for r in rows:
        seen.setdefault(r["suite_key"], r["workload"])
    for key, what in seen.items():
        console.print(f"  {key}: {what}")


FIGURES = ("median_ms", "min_ms", "peak_host_mb", "ratio", "best_ratio", "target_ratio", "memory_ratio")


def summarize_runs(runs):
    """One row per (workload, impl) over several runs of the suite: the range of each figure
    (min, max over the runs) and in how many runs the target was met."""
    out = {}
    for rows in runs:
        for r in rows:
            s = out.setdefault((r["suite_key"], r["impl"]), dict(
                suite_key=r["suite_key"], impl=r["impl"], role=r["role"], workload=r["workload"],
                target=r["target"], target_of=r["target_of"], runs=0, met=0, judged=0, missed=set(),
                **{k: [] for k in FIGURES}))
            s["runs"] += 1
            for k in FIGURES:
                if r.get(k) is not None:
                    s[k].append(r[k])
            if r["target_met"] is not None:
                s["judged"] += 1
                s["met"] += bool(r["target_met"])
                s["missed"].update(r["missed"])
    summary = []
    for s in out.values():
        for k in FIGURES:
            s[k] = (min(s[k]), max(s[k])) if s[k] else None
        s["missed"] = [m for m in ("median", "best", "memory") if m in s["missed"]]
        summary.append(s)
    return summary


def print_summary(title, summary, console=None):
    """The table of several runs, one row per judged figure (ours, the NumPy floor): the range
    of each figure over the runs, under 100 columns."""
    console = console or common_console()
    table = Table(title=title)
    for c in ("workload", "ours", "torch", "/torch", "best", "mem", "≤", "met"):
        table.add_column(c, justify="left" if c in ("workload", "met") else "right")
    torch_ms = {s["suite_key"]: s["median_ms"] for s in summary if s["role"] == "torch"}

    def span(v, fmt):
        if v is None:
            return ""
        lo, hi = (fmt(x) for x in v)
        return lo if lo == hi else f"{lo}-{hi}"
    ms = lambda v: f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"  # noqa: E731
    x2 = lambda v: f"{v:.2f}"  # noqa: E731
    for s in summary:
        if s["target"] is None:
            continue
        beside = s["target_of"] == "ours/torch"
        met = "" if not s["judged"] else f"{s['met']}/{s['judged']}"
        if s["missed"] and beside:
            met += " " + ",".join(m[:3] for m in s["missed"])
        key = s["suite_key"] if s["role"] == "ours" else f"{s['suite_key']} {short_impl(s)}"
        table.add_row(key, span(s["median_ms"], ms), span(torch_ms.get(s["suite_key"]), ms) if beside else "",
                      span(s["ratio"] if beside else s["target_ratio"], x2), span(s["best_ratio"], x2) if beside else "",
                      span(s["memory_ratio"], x2) if beside else "", f"{s['target']}", met)
    console.print(table)
    console.print("ranges over the runs. ours, torch: median ms per step (overhead: us per op); /torch:\n"
                  "  ours over torch (NumPy row: ours over the NumPy LSTM; graph-length: ours per op at the\n"
                  "  longest chain over 1,000 ops; lstm-composed: composed over fused); best: best step over\n"
                  "  torch's best; mem: peak memory growth over torch's; ≤: the target; met: runs whose verdict\n"
                  "  was met, of those judged (what missed in the others: med, bes, mem)")


def main(argv=None):
    set_host_malloc("cached")   # keep freed host memory, as a training program would (README)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["distributed"]:
        from benchmarks import distributed
        return distributed.main(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--quick", action="store_true", help="tiny sizes, 1-2 steps: a smoke run")
    ap.add_argument("--json", metavar="PATH", help="default: benchmarks/results-<device>.json")
    ap.add_argument("--only", default=",".join(KEYS), help="comma list of workload keys")
    ap.add_argument("--one-process", action="store_true",
                    help="run every workload in this process (default: each in a fresh one)")
    ap.add_argument("--runs", type=int, default=1, help="run the whole suite N times; print the ranges")
    ap.add_argument("--no-table", action="store_true", help=argparse.SUPPRESS)   # (for run_isolated)
    args = ap.parse_args(argv)
    only = tuple(k for k in args.only.split(",") if k)
    unknown = [k for k in only if k not in KEYS]
    if unknown:
        ap.error(f"unknown workload(s) {unknown}; choose from {', '.join(KEYS)}")
    if args.device == "cuda":
        import tinygrad_seq as tg
        if not tg.cuda_available():
            ap.error("--device cuda needs CuPy and an NVIDIA GPU")
    if torch is None and not args.no_table:
        Console().print("PyTorch is not installed: every comparison with it shows n/a "
                        "(`pip install torch` to compare)")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    runs = []
    for run in range(args.runs):
        t0 = time.perf_counter()
        if args.one_process or len(only) == 1:
            rows = finalize(run_workloads(args.quick, args.device, only), args.device, args.quick)
        else:
            rows = run_isolated(args.quick, args.device, only)
        runs.append(rows)
        title = (f"benchmark suite ({args.device}{', quick' if args.quick else ''}"
                 f"{f', run {run + 1} of {args.runs}' if args.runs > 1 else ''}): ms per train step "
                 f"(overhead: us per op), {time.perf_counter() - t0:.0f} s")
        if not args.no_table:
            print_table(title, rows, args.device)
    summary = None
    if args.runs > 1:
        summary = summarize_runs(runs)
        if not args.no_table:
            print_summary(f"benchmark suite ({args.device}): {args.runs} runs", summary)

    path = args.json or os.path.join(os.path.dirname(os.path.abspath(__file__)), f"results-{args.device}.json")
    with open(path, "w") as f:
        json.dump({"title": title, "device": args.device, "quick": args.quick, "machine": machine_info(),
                   "torch": getattr(torch, "__version__", None), "workloads": list(only), "rows": rows,
                   "runs": runs, "summary": summary}, f, indent=2)
    if not args.no_table:
        Console().print(f"wrote {path}")
    return rows


if __name__ == "__main__":
    main()
