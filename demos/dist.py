"""What a demo needs to train data-parallel under `mpiexec -n N python -m demos NAME --distributed`:
the flag, the process group (MPI on CPU, NCCL on GPU), each rank's share of a batch, the loss
averaged over ranks for the log, and a console that prints on rank 0 only."""
import io
import sys

import numpy as np

import tinygrad_seq as tg


def add_flag(p):
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of `mpiexec -n N` (MPI on cpu, NCCL on cuda): "
                        "each batch is split across ranks")


def start(args, console):
    """Join the job when --distributed (a no-op otherwise). Returns (rank, world, console):
    ranks other than 0 get a console that prints nothing."""
    if not getattr(args, "distributed", False):
        return 0, 1, console
    import tinygrad_seq.distributed as dist
    if not dist.is_initialized():
        try:
            dist.init_process_group("nccl" if args.device == "cuda" else "mpi")
        except (ImportError, RuntimeError) as e:   # no mpi4py, no CuPy, too few GPUs: one line
            _fail(f"--distributed: {e}")
    rank, world = dist.get_rank(), dist.get_world_size()
    if rank != 0:
        from demos.common import make_console
        console = make_console(file=io.StringIO())
    return rank, world, console


def wrap(model, world):
    """The model to call in training: DistributedDataParallel over the ranks, or the model itself."""
    if world == 1:
        return model
    from tinygrad_seq.nn.parallel import DistributedDataParallel
    return DistributedDataParallel(model)


def shard(batch, rank, world, what="--batch"):
    """This rank's part of a batch of `batch` items (a slice): equal parts, so the averaged
    gradient is exactly the whole batch's."""
    if batch % world:
        _fail(f"--distributed: {what} {batch} does not split evenly over {world} ranks")
    n = batch // world
    return slice(rank * n, (rank + 1) * n)


def part(items, rank, world):
    """This rank's part of a batch whose size need not divide evenly (e.g. an epoch's last batch):
    parts differ by at most one item. None, on every rank alike, when there are fewer items than
    ranks (every rank must then skip the batch: a rank that trained alone would wait forever).
    Unequal parts are averaged with equal weight, a small departure from the whole batch."""
    if world == 1:
        return items
    if len(items) < world:
        return None
    return np.array_split(items, world)[rank]


def mean_loss(value, world):
    """The loss of the whole batch (the mean of the ranks' equal-sized shards), for the log."""
    if world == 1:
        return value
    import tinygrad_seq.distributed as dist
    t = tg.tensor(np.array([value], dtype=np.float64))
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    return t.item()


def all_agree(flag, world):
    """True on every rank only if `flag` is true on every rank (e.g. 'time is not up yet'),
    so all ranks stop at the same step."""
    if world == 1:
        return bool(flag)
    import tinygrad_seq.distributed as dist
    t = tg.tensor(np.array([1 if flag else 0], dtype=np.int64))
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def _fail(message):
    """A user error: one line on stderr and exit status 2, as every demo does."""
    print(message, file=sys.stderr)
    raise SystemExit(2)
