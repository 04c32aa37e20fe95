"""Shared benchmark plumbing: timing, peak memory, the rich table and the JSON file."""
import gc
import json
import os
import resource
import statistics
import time

from rich.console import Console
from rich.table import Table

try:
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
except ImportError:
    torch = None


def time_steps(step, steps, warmup, sync=None):
    """Milliseconds per call of step() after warm-up: (median, min, max)."""
    for _ in range(warmup):
        step()
    if sync:
        sync()
    times = []
    gc.collect()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        if sync:
            sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times), max(times)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(title, rows, json_path=None, machine=None):
    """rows: dicts with workload, impl, median_ms, min_ms, max_ms, and optional ratio / peak_mb / note."""
    table = Table(title=title)
    for col in ("workload", "impl", "median ms", "min ms", "max ms", "ratio vs torch", "note"):
        table.add_column(col, justify="right" if "ms" in col or "ratio" in col else "left")
    for r in rows:
        ratio = r.get("ratio")
        table.add_row(r["workload"], r["impl"], f"{r['median_ms']:.3f}", f"{r['min_ms']:.3f}", f"{r['max_ms']:.3f}",
                      "" if ratio is None else f"{ratio:.2f}x", r.get("note", ""))
    Console(width=max(Console().width, 110)).print(table)
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"title": title, "machine": machine or machine_info(), "rows": rows}, f, indent=2)


def machine_info():
    import platform
    import numpy as np
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "numpy": np.__version__, "torch": getattr(torch, "__version__", None),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info
