"""Shared benchmark plumbing: timing, peak memory, the rich table and the JSON file, and the
train-step comparison against torch that lenet.py and textcnn.py share."""
import gc
import json
import os
import resource
import statistics
import sys
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


# ---------------------------------------------------------------- a train step against torch
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
