"""Collectives across processes, with torch.distributed's names.

Two engines do the work, never our own sockets:

- backend="mpi": MPI through mpi4py, for CPU processes on one machine or a cluster
  (`mpiexec -n 4 python train.py`, or `srun` under Slurm);
- backend="nccl": NCCL through CuPy, one GPU per process, on the current CuPy stream with no
  host copies. MPI still launches the processes and hands out the NCCL id (the rendezvous).

Rank and world size come from the launcher. Every process runs the same script:

    import tinygrad_seq.distributed as dist
    dist.init_process_group("mpi")
    x = tg.tensor([float(dist.get_rank())])
    dist.all_reduce(x)                     # in place: x is now the sum over ranks

Nothing happens at import: MPI starts in init_process_group, which also installs the
excepthook that aborts the whole job when one rank raises (so the others never hang).
sys.exit is not an exception the hook sees: a script that may exit with an error on one rank
only can be started as `mpiexec -n N python -m mpi4py train.py`, which aborts on that too.
"""
import sys
import time

import numpy as np

from . import backend
from .tensor import Tensor

_MPI_HINT = 'install it with `pip install "tinygrad-seq[mpi]"` (mpi4py and an MPI library, mpich)'


class ReduceOp:
    """How all_reduce combines the ranks' values."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


_OPS = (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX)
_group = None   # the one process group of this process (None: not initialized)


class _Group:
    """The world: an MPI communicator, plus a NCCL communicator for backend='nccl'."""

    def __init__(self, backend_name, MPI, comm):
        self.backend = backend_name
        self.MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.nccl = None
        self.prev_excepthook = None


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"tinygrad_seq.distributed: mpi4py is not installed ({e}); {_MPI_HINT}") from None
    return MPI


def init_process_group(backend="mpi", rank=None, world_size=None, init_method=None, **kwargs):
    """Join the job the launcher started (mpiexec / srun): rank and world size come from MPI.
    backend: "mpi" (CPU tensors; CUDA tensors go through the host) or "nccl" (CUDA tensors,
    one GPU per process). rank / world_size, if given, must match the launcher's."""
    global _group
    if _group is not None:
        raise RuntimeError("init_process_group: the process group is already initialized "
                           "(call destroy_process_group first)")
    if backend not in ("mpi", "nccl"):
        raise ValueError(f"init_process_group: unknown backend {backend!r}: expected 'mpi' or 'nccl'")
    if init_method not in (None, "env://") or kwargs:
        extra = ", ".join(sorted(kwargs)) or f"init_method={init_method!r}"
        raise ValueError(f"init_process_group: {extra} is not supported: rank and world size come "
                         "from the MPI launcher (mpiexec -n N / srun)")
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    g = _Group(backend, MPI, comm)
    for name, want, got in (("rank", rank, g.rank), ("world_size", world_size, g.size)):
        if want is not None and int(want) != got:
            raise ValueError(f"init_process_group: {name}={want} but the MPI launcher gave {got} "
                             f"(start the job with `mpiexec -n {world_size or g.size}`)")
    if backend == "nccl":
        g.nccl = _init_nccl(g)
    _group = g
    _install_excepthook(g)
    return None


def _init_nccl(g):
    """One GPU per process (the local rank picks it) and a NCCL communicator whose id rank 0
    makes and MPI broadcasts."""
    if backend._cupy is None:
        raise RuntimeError(f"init_process_group('nccl'): CuPy is not installed; {backend._CUDA_HINT}, "
                           "or use backend='mpi' on CPU")
    cp = backend._cupy
    try:
        from cupy.cuda import nccl
    except ImportError as e:
        raise RuntimeError(f"init_process_group('nccl'): CuPy was built without NCCL ({e}); "
                           "install the NCCL library (pip install nvidia-nccl-cu12) or use backend='mpi'") from None
    local = g.comm.Split_type(g.MPI.COMM_TYPE_SHARED)
    local_rank, local_size = local.Get_rank(), local.Get_size()
    local.Free()
    try:
        ngpu = cp.cuda.runtime.getDeviceCount()
    except Exception:
        ngpu = 0
    if ngpu < local_size:
        raise RuntimeError(f"init_process_group('nccl'): {local_size} ranks on this machine but only "
                           f"{ngpu} GPU(s): start at most {ngpu} processes per machine, or use backend='mpi'")
    cp.cuda.Device(local_rank).use()
    uid = nccl.get_unique_id() if g.rank == 0 else None
    uid = g.comm.bcast(uid, root=0)
    return nccl.NcclCommunicator(g.size, uid, g.rank)


def _install_excepthook(g):
    """An uncaught exception on one rank aborts every rank: the others would otherwise wait
    forever in their next collective."""
    prev = sys.excepthook

    def hook(etype, value, tb):
        prev(etype, value, tb)
        sys.stderr.write(f"tinygrad_seq.distributed: rank {g.rank} raised {etype.__name__}; "
                         "aborting all ranks\n")
        sys.stderr.flush()
        time.sleep(0.2)   # let the launcher forward this rank's stderr before Abort kills the job
        g.comm.Abort(1)

    g.prev_excepthook = prev
    sys.excepthook = hook


def destroy_process_group():
    """Leave the group (MPI itself is finalized by mpi4py at exit)."""
    global _group
    g = _require("destroy_process_group")
    if g.prev_excepthook is not None:
        sys.excepthook = g.prev_excepthook
    _group = None


def is_available():
    """True when mpi4py can be imported (the package needed for any backend)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_initialized():
    return _group is not None


def get_rank():
    """This process's rank (0 when no process group is initialized)."""
    return _group.rank if _group is not None else 0


def get_world_size():
    """The number of processes (1 when no process group is initialized)."""
    return _group.size if _group is not None else 1


def get_backend():
    return _require("get_backend").backend


def _require(what):
    if _group is None:
        raise RuntimeError(f"{what}: the process group is not initialized; call "
                           "tinygrad_seq.distributed.init_process_group() first (under mpiexec / srun)")
    return _group


def _check_tensor(what, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(t).__name__}")


# ---------------------------------------------------------------- raw arrays
# The collectives below work on backend arrays in place; DistributedDataParallel calls them
# on its flat gradient buckets, the Tensor functions on .array.

def _uses_nccl(g, arr):
    return g.nccl is not None and not isinstance(arr, np.ndarray)


def all_reduce_array(arr, op=ReduceOp.SUM):
    """Reduce a contiguous backend array across ranks, in place."""
    g = _require("all_reduce")
    if op not in _OPS:
        raise ValueError(f"all_reduce: unknown op {op!r}: expected one of ReduceOp.SUM, AVG, PRODUCT, MIN, MAX")
    if op == ReduceOp.AVG and arr.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating point tensor, got {arr.dtype}")
    if g.size == 1:
        return arr
    if _uses_nccl(g, arr):
        _nccl_all_reduce(g, arr, op)
    else:
        host = _host(arr)
        mpi_op = {ReduceOp.SUM: g.MPI.SUM, ReduceOp.AVG: g.MPI.SUM, ReduceOp.PRODUCT: g.MPI.PROD,
                  ReduceOp.MIN: g.MPI.MIN, ReduceOp.MAX: g.MPI.MAX}[op]
        g.comm.Allreduce(g.MPI.IN_PLACE, _as_mpi_buffer(host), op=mpi_op)
        if op == ReduceOp.AVG:
            host /= g.size
        _back(arr, host)
    return arr


def broadcast_array(arr, src=0):
    g = _require("broadcast")
    _check_src("broadcast", g, src)
    if g.size == 1:
        return arr
    if _uses_nccl(g, arr):
        cp = backend._cupy
        g.nccl.bcast(arr.data.ptr, arr.size, _nccl_dtype(arr.dtype), src, cp.cuda.get_current_stream().ptr)
    else:
        host = _host(arr)
        g.comm.Bcast(_as_mpi_buffer(host), root=src)
        _back(arr, host)
    return arr


def all_gather_array(arr):
    """A new array of shape (world_size, *arr.shape): every rank's arr, in rank order."""
    g = _require("all_gather")
    xp = backend.xp(backend.device_of(arr))
    src = xp.ascontiguousarray(arr)
    out = xp.empty((g.size,) + arr.shape, dtype=arr.dtype)
    if _uses_nccl(g, arr):
        cp = backend._cupy
        g.nccl.allGather(src.data.ptr, out.data.ptr, src.size, _nccl_dtype(arr.dtype),
                         cp.cuda.get_current_stream().ptr)
        return out
    host_out = np.empty(out.shape, dtype=arr.dtype)
    g.comm.Allgather(_as_mpi_buffer(backend.to_numpy(src)), _as_mpi_buffer(host_out))
    return host_out if xp is np else backend.to_device(host_out, "cuda")


def _check_src(what, g, src):
    if not 0 <= src < g.size:
        raise ValueError(f"{what}: src={src} is not a rank of this group (0..{g.size - 1})")


def _as_mpi_buffer(a):
    if a.dtype == np.bool_:   # MPI has no bool type: reduce the bytes
        return a.view(np.uint8)
    return a


def _host(arr):
    """A contiguous NumPy array holding arr's values (arr itself when it already is one)."""
    if isinstance(arr, np.ndarray):
        return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    return np.ascontiguousarray(backend.to_numpy(arr))


def _back(arr, host):
    if host is not arr:
        arr[...] = host if isinstance(arr, np.ndarray) else backend.to_device(host, "cuda")


def _nccl_dtype(dtype):
    from cupy.cuda import nccl
    table = {np.dtype(np.float16): nccl.NCCL_FLOAT16, np.dtype(np.float32): nccl.NCCL_FLOAT32,
             np.dtype(np.float64): nccl.NCCL_FLOAT64, np.dtype(np.int32): nccl.NCCL_INT32,
             np.dtype(np.int64): nccl.NCCL_INT64, np.dtype(np.uint8): nccl.NCCL_UINT8,
             np.dtype(np.bool_): nccl.NCCL_UINT8}
    if np.dtype(dtype) not in table:
        raise TypeError(f"nccl: no NCCL type for dtype {dtype}")
    return table[np.dtype(dtype)]


def _nccl_all_reduce(g, arr, op):
    from cupy.cuda import nccl
    cp = backend._cupy
    if not arr.flags.c_contiguous:
        raise ValueError("all_reduce (nccl): the tensor must be contiguous")
    nccl_op = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.AVG: nccl.NCCL_SUM, ReduceOp.PRODUCT: nccl.NCCL_PROD,
               ReduceOp.MIN: nccl.NCCL_MIN, ReduceOp.MAX: nccl.NCCL_MAX}[op]
    g.nccl.allReduce(arr.data.ptr, arr.data.ptr, arr.size, _nccl_dtype(arr.dtype), nccl_op,
                     cp.cuda.get_current_stream().ptr)
    if op == ReduceOp.AVG:   # a kernel on the same stream: no synchronisation, no host copy
        arr /= g.size


# ---------------------------------------------------------------- on tensors (torch's API)
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce `tensor` across all ranks, in place (every rank gets the result)."""
    _in_place("all_reduce", tensor, group, async_op, lambda data: all_reduce_array(data, op))


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank `src`'s tensor into every rank's tensor, in place."""
    _in_place("broadcast", tensor, group, async_op, lambda data: broadcast_array(data, src))


def _in_place(name, tensor, group, async_op, collective):
    """Run `collective` on the tensor's array in place (NCCL needs it contiguous: a copy then
    goes through and back) and bump its version, as any in-place change does."""
    _check_tensor(name, tensor)
    _no_group_arg(name, group, async_op)
    data = tensor.array
    if _uses_nccl(_require(name), data) and not data.flags.c_contiguous:
        data = backend._cupy.ascontiguousarray(data)
    collective(data)
    if data is not tensor.array:
        tensor.array[...] = data
    tensor._version += 1


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill tensor_list (one tensor per rank, shaped like `tensor`) with every rank's tensor."""
    _check_tensor("all_gather", tensor)
    _no_group_arg("all_gather", group, async_op)
    g = _require("all_gather")
    if not isinstance(tensor_list, list) or len(tensor_list) != g.size:
        got = f"a list of {len(tensor_list)}" if isinstance(tensor_list, list) else type(tensor_list).__name__
        raise ValueError(f"all_gather: tensor_list must be a list of world_size={g.size} tensors, got {got}")
    for i, t in enumerate(tensor_list):
        _check_tensor("all_gather", t)
        if t.shape != tensor.shape or t.dtype != tensor.dtype or t.device != tensor.device:
            raise ValueError(f"all_gather: tensor_list[{i}] is {t.shape} {t.dtype} on {t.device}, "
                             f"expected {tensor.shape} {tensor.dtype} on {tensor.device} like the input")
    gathered = all_gather_array(tensor.array)
    for i, t in enumerate(tensor_list):
        t.array[...] = gathered[i]
        t._version += 1
    return None


def all_gather_object(object_list, obj, group=None):
    """Fill object_list with every rank's (picklable) obj."""
    _no_group_arg("all_gather_object", group, False)
    g = _require("all_gather_object")
    if not isinstance(object_list, list) or len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list must be a list of world_size={g.size} items")
    object_list[:] = g.comm.allgather(obj)


def broadcast_object_list(object_list, src=0, group=None):
    """Replace object_list's items, on every rank, by rank src's."""
    _no_group_arg("broadcast_object_list", group, False)
    g = _require("broadcast_object_list")
    _check_src("broadcast_object_list", g, src)
    object_list[:] = g.comm.bcast(list(object_list) if g.rank == src else None, root=src)


def barrier(group=None, async_op=False):
    """Wait until every rank gets here."""
    _no_group_arg("barrier", group, async_op)
    g = _require("barrier")
    if g.nccl is not None:   # queued NCCL work first, so the barrier also orders the GPU
        backend._cupy.cuda.get_current_stream().synchronize()
    g.comm.Barrier()


def _no_group_arg(what, group, async_op):
    if group is not None:
        raise ValueError(f"{what}: only the default group (group=None) is supported")
    if async_op:
        raise ValueError(f"{what}: async_op=True is not supported; collectives complete before returning")


__all__ = ["ReduceOp", "init_process_group", "destroy_process_group", "is_available", "is_initialized",
           "get_rank", "get_world_size", "get_backend", "all_reduce", "broadcast", "all_gather",
           "all_gather_object", "broadcast_object_list", "barrier"]
