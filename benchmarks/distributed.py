"""Data-parallel cost on this machine: all-reduce time and bandwidth for gradient-sized buffers,
and the char-LSTM train step's throughput on 1 and 2 ranks (DistributedDataParallel).

    python -m benchmarks.distributed [--ranks 1,2] [--quick] [--json PATH]
    python -m benchmarks.distributed --backend nccl --device cuda --ranks 1,2,4,8   # on N GPUs

It launches `mpiexec -n N` itself (mpi4py and mpiexec needed: pip install "tinygrad-seq[mpi]"),
with one BLAS thread per rank (OPENBLAS_NUM_THREADS=1), so 2 ranks use 2 cores. The char-LSTM
step keeps the global batch fixed (32 streams, split over the ranks): the same step as on one
process, so throughput (characters per second) can be compared directly.

All-reduce bandwidth is given as algorithm bandwidth (bytes / time) and bus bandwidth
(2(N-1)/N * bytes / time, what a ring all-reduce moves over each link; nccl-tests' convention),
so the measured bus bandwidth plugs into the cost model of README.md ("Scaling out").
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES_MB = (0.25, 1, 4, 16, 64)


# ---------------------------------------------------------------- on every rank
def _timed(fn, reps, warmup, sync):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def worker(args):
    import tinygrad_seq as tg
    import tinygrad_seq.distributed as dist
    from tinygrad_seq import optim
    from tinygrad_seq.models import CharRNN
    from tinygrad_seq.nn import functional as F
    from tinygrad_seq.nn.parallel import DistributedDataParallel

    dist.init_process_group(args.backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    xp = tg.backend.xp(args.device)
    if args.device == "cuda":
        sync = lambda: (xp.cuda.get_current_stream().synchronize(), dist.barrier())  # noqa: E731
    else:
        sync = dist.barrier
    out = {"world": world, "allreduce": [], "step": None}
    quick = args.quick
    if world > 1:
        for mb in (SIZES_MB[:2] if quick else SIZES_MB):
            buf = xp.ones(int(mb * 2 ** 20) // 4, dtype=np.float32)
            reps = 3 if quick else max(5, min(50, int(200 / mb)))
            times = _timed(lambda: dist.all_reduce_array(buf), reps, 2, sync)
            # every rank's slowest view of each repetition: a collective ends when the last rank is done
            gathered = [None] * world
            dist.all_gather_object(gathered, times)
            t = statistics.median(max(ts[i] for ts in gathered) for i in range(reps))
            out["allreduce"].append({"mb": mb, "bytes": buf.nbytes, "ms": t * 1e3,
                                     "algbw_gbs": buf.nbytes / t / 1e9,
                                     "busbw_gbs": 2 * (world - 1) / world * buf.nbytes / t / 1e9})

    E, H, V, B, T = (8, 16, 65, 4, 8) if quick else (64, 256, 65, 32, 64)
    if B % world:
        raise SystemExit(f"the batch of {B} streams does not split over {world} ranks")
    tg.manual_seed(0)
    model = CharRNN(V, E, H).to(args.device)
    net = DistributedDataParallel(model)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    gen = np.random.default_rng(rank)
    b = B // world
    x = tg.tensor(gen.integers(0, V, (T, b)), device=args.device)
    y = tg.tensor(gen.integers(0, V, (T, b)), device=args.device)

    def step():
        logits, _ = net(x)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    steps = 2 if quick else args.steps
    times = _timed(step, steps, 1 if quick else 3, sync)
    grad_bytes = sum(p.numel() * p.dtype.itemsize for p in model.parameters())
    ms = statistics.median(times) * 1e3
    out["step"] = {"ms": ms, "min_ms": min(times) * 1e3, "chars_per_s": B * T / (ms / 1e3),
                   "batch": B, "seq": T, "hidden": H, "grad_mb": grad_bytes / 2 ** 20}
    if rank == 0:
        with open(args.worker_json, "w") as f:
            json.dump(out, f)
    dist.destroy_process_group()


# ---------------------------------------------------------------- the launcher
def launch(n, args, json_path):
    import shutil
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        raise SystemExit('benchmarks.distributed: mpiexec not found: pip install "tinygrad-seq[mpi]"')
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [mpiexec, "-n", str(n), sys.executable, "-m", "benchmarks.distributed", "--worker-json", json_path,
           "--backend", args.backend, "--device", args.device, "--steps", str(args.steps)]
    cmd += ["--quick"] if args.quick else []
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"benchmarks.distributed: {n} ranks failed:\n{done.stderr[-3000:]}")
    with open(json_path) as f:
        return json.load(f)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__.split("\n")[0])
    ap.add_argument("--ranks", default="1,2", help="comma list of process counts (default 1,2)")
    ap.add_argument("--backend", default="mpi", choices=("mpi", "nccl"))
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--steps", type=int, default=10, help="timed char-LSTM steps")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--json", metavar="PATH", help="default: benchmarks/results-distributed.json")
    ap.add_argument("--worker-json", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.backend == "nccl" and args.device != "cuda":
        ap.error("--backend nccl needs --device cuda")
    if args.worker_json:
        return worker(args)
    ranks = [int(r) for r in args.ranks.split(",") if r]
    if not ranks or min(ranks) < 1:
        ap.error(f"--ranks must list positive process counts, got {args.ranks!r}")
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in ranks:
            Console().print(f"[dim]running on {n} rank(s)...[/dim]")
            runs[n] = launch(n, args, os.path.join(tmp, f"{n}.json"))
    console = Console(width=100)
    ar = Table(title=f"all-reduce, {args.backend} on {args.device} (float32 sum, median)")
    for c in ("ranks", "buffer MB", "ms", "algbw GB/s", "busbw GB/s"):
        ar.add_column(c, justify="right")
    for n, run in runs.items():
        for r in run["allreduce"]:
            ar.add_row(str(n), f"{r['mb']:g}", f"{r['ms']:.3f}", f"{r['algbw_gbs']:.2f}", f"{r['busbw_gbs']:.2f}")
    if any(run["allreduce"] for run in runs.values()):
        console.print(ar)
    base = runs[ranks[0]]["step"]
    console.print(f"char-LSTM step: batch {base['batch']} x {base['seq']}, hidden {base['hidden']}, "
                  f"{base['grad_mb']:.2f} MB of gradients, 1 BLAS thread per rank")
    st = Table(title="char-LSTM step (Adam, DistributedDataParallel)")
    for c in ("ranks", "median ms", "min ms", "chars/s", f"speedup vs {ranks[0]}"):
        st.add_column(c, justify="right")
    for n, run in runs.items():
        s = run["step"]
        st.add_row(str(n), f"{s['ms']:.1f}", f"{s['min_ms']:.1f}", f"{s['chars_per_s']:,.0f}",
                   f"{s['chars_per_s'] / base['chars_per_s']:.2f}x")
    console.print(st)
    from benchmarks.common import machine_info
    path = args.json or os.path.join(ROOT, "benchmarks", "results-distributed.json")
    with open(path, "w") as f:
        json.dump({"backend": args.backend, "device": args.device, "quick": args.quick,
                   "machine": machine_info(), "runs": {str(n): r for n, r in runs.items()}}, f, indent=2)
    console.print(f"wrote {path}")
    return runs


if __name__ == "__main__":
    main()
