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


def console():
    """Where the tables go: at most 100 columns (a narrower terminal keeps its width; piped
    output gets 100)."""
    c = Console()
    return Console(width=min(c.width, 100) if c.is_terminal else 100)


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
    console().print(table)
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


# ---------------------------------------------------------------- peak memory of a step
def _rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the process's peak so far (growth shows only past the old peak)
        return int(peak_rss_mb() * 2**20)


def _trim_heap():
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: growth is measured from the cached heap
        pass


def peak_memory(step, sync=None, device="cpu", lib="ours", runs=2):
    """Peak memory growth while running step() `runs` times (untimed), in MB:
    {'peak_host_mb': resident-set growth, sampled every ~0.5 ms by a thread, and on cuda
    'peak_gpu_mb': CuPy's memory pool bytes in use (sampled) for ours, or
    torch.cuda.max_memory_allocated growth for torch}."""
    import threading
    pool = None
    if device != "cpu" and lib == "ours":
        import cupy
        pool = cupy.get_default_memory_pool()
    use_torch_cuda = device != "cpu" and lib == "torch"
    gc.collect()
    _trim_heap()  # hand freed heap pages back to the OS, so that the step's own peak shows as growth
    base_rss = _rss_bytes()
    base_gpu = pool.used_bytes() if pool is not None else 0
    if use_torch_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base_gpu = torch.cuda.memory_allocated()
    peak = {"rss": base_rss, "gpu": base_gpu}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], _rss_bytes())
            if pool is not None:
                peak["gpu"] = max(peak["gpu"], pool.used_bytes())
            time.sleep(0.0005)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        for _ in range(runs):
            step()
            if sync:
                sync()
    finally:
        stop.set()
        th.join()
    peak["rss"] = max(peak["rss"], _rss_bytes())
    out = {"peak_host_mb": (peak["rss"] - base_rss) / 2**20}
    if use_torch_cuda:
        out["peak_gpu_mb"] = (torch.cuda.max_memory_allocated() - base_gpu) / 2**20
    elif pool is not None:
        out["peak_gpu_mb"] = (max(peak["gpu"], pool.used_bytes()) - base_gpu) / 2**20
    return out


def measure(step, steps, warmup, sync=None, device="cpu", lib="ours", memory=True):
    """Timing (median/min/max ms per step after warm-up) and peak memory of one step function."""
    med, lo, hi = time_steps(step, steps, warmup, sync)
    row = dict(median_ms=med, min_ms=lo, max_ms=hi)
    if memory:
        row.update(peak_memory(step, sync, device, lib))
    return row


def device_sync(device, lib="ours"):
    """The function that waits for the device (None on cpu): timings must include the GPU's work."""
    if device == "cpu":
        return None
    if lib == "torch":
        return torch.cuda.synchronize
    import cupy
    return cupy.cuda.Device().synchronize
