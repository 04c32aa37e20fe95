"""DistributedDataParallel: data parallelism over the ranks of tinygrad_seq.distributed.

Every process holds the whole model and runs it on its own shard of each batch; after
backward every rank holds the gradient averaged over all ranks, so the same optimizer step
keeps the copies identical. How:

- construction checks that every rank built the same model (names, shapes, dtypes) and
  copies rank 0's parameters and buffers to all ranks;
- gradients are packed, last layer first, into buckets of about bucket_cap_mb; a hook on each
  parameter (Tensor.register_post_accumulate_grad_hook) says when the engine has finished its
  gradient, and a bucket is flattened into one contiguous buffer and all-reduced (one collective)
  as soon as it is complete, while backward goes on through earlier layers. Buckets are reduced
  in the same order on every rank, so their collectives always match.
"""
import contextlib

import numpy as np

from .. import autograd, backend
from .. import distributed as dist
from ..tensor import Tensor
from .module import Module


class _Bucket:
    __slots__ = ("params", "offsets", "pending", "dtype", "device")

    def __init__(self, params):
        self.params = params
        self.offsets = np.cumsum([0] + [p.numel() for p in params]).tolist()
        self.dtype, self.device = params[0].dtype, params[0].device
        self.pending = 0


class DistributedDataParallel(Module):
    """DistributedDataParallel(module, bucket_cap_mb=25, find_unused_parameters=False,
    broadcast_buffers=True), with torch's names.

    `.module` is the wrapped model (state_dict keys start with 'module.'). On one process
    (world size 1, or no process group) it is exactly the module it wraps.
    find_unused_parameters=True: parameters that the forward's output does not reach count as
    zero gradients on that rank; a parameter that gets a gradient on no rank keeps grad None.
    On more than one rank, construction also gives each rank its own stream of random numbers
    (drawn from the seeded generator and the rank): weights made before it are the same on every
    rank after tg.manual_seed, dropout masks after it differ from rank to rank.
    """

    def __init__(self, module, device_ids=None, output_device=None, broadcast_buffers=True,
                 bucket_cap_mb=25, find_unused_parameters=False, **kwargs):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        if kwargs:
            raise TypeError(f"DistributedDataParallel: unsupported arguments: {', '.join(sorted(kwargs))}")
        if device_ids is not None and (not isinstance(device_ids, (list, tuple)) or len(device_ids) > 1):
            raise ValueError("DistributedDataParallel: device_ids must be None or a list of one device "
                             "(one process per GPU)")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = bucket_cap_mb
        self.find_unused_parameters = bool(find_unused_parameters)
        self.world_size = dist.get_world_size()
        self.rank = dist.get_rank()
        self.require_backward_grad_sync = True
        self._armed = False
        self._buckets = []
        self._handles = []
        self._absent = []   # (parameter, its averaged slice) for parameters without a local gradient
        if self.world_size == 1:
            return
        _check_same_model(module, self.rank)
        with autograd.no_grad():
            _broadcast_arrays([p for p in module.parameters()] + list(module.buffers()))
        _split_rng(self.rank)
        params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = _make_buckets(list(reversed(params)), int(bucket_cap_mb * 2 ** 20))
        self._where = {}   # id(param) -> (bucket index, position in bucket)
        for b, bucket in enumerate(self._buckets):
            for i, p in enumerate(bucket.params):
                self._where[id(p)] = (b, i)
                self._handles.append(p.register_post_accumulate_grad_hook(self._grad_ready))

    # ------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        if self.world_size > 1:
            self._check_previous_iteration()
            if self.broadcast_buffers:
                bufs = list(self.module.buffers())
                if bufs:
                    _broadcast_arrays(bufs)
        out = self.module(*args, **kwargs)
        if self.world_size > 1:
            self._arm(out)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes of forwards run inside this block only accumulate gradients locally;
        the first backward after it averages the accumulated gradients."""
        prev, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = prev

    # ------------------------------------------------------------ gradient reduction
    def _arm(self, out):
        outputs = [t for t in _tensors_in(out) if t.requires_grad]
        if not (self.require_backward_grad_sync and autograd.is_grad_enabled() and outputs):
            self._armed = False
            return
        self._armed = True
        self._fired = 0
        self._next = 0
        self._ready = [[False] * len(b.params) for b in self._buckets]
        for b in self._buckets:
            b.pending = len(b.params)
        if self.find_unused_parameters:   # parameters the output does not reach are ready now
            reached = _leaves_reached(outputs)
            for b, bucket in enumerate(self._buckets):
                for i, p in enumerate(bucket.params):
                    if id(p) not in reached:
                        self._mark(b, i)
            self._launch_ready()

    def _grad_ready(self, p):
        if not self._armed:
            return
        b, i = self._where[id(p)]
        self._fired += 1
        if not self._ready[b][i]:
            self._mark(b, i)
            self._launch_ready()

    def _mark(self, b, i):
        self._ready[b][i] = True
        self._buckets[b].pending -= 1

    def _launch_ready(self):
        # in bucket order on every rank, so the collectives of all ranks pair up
        while self._next < len(self._buckets) and self._buckets[self._next].pending == 0:
            self._reduce(self._buckets[self._next])
            self._next += 1
        if self._next == len(self._buckets):
            self._armed = False
            if self.find_unused_parameters:
                self._finish_unused()

    def _reduce(self, bucket):
        xp = backend.xp(bucket.device)
        flat = xp.concatenate([(p.grad.array if p.grad is not None else xp.zeros(p.shape, bucket.dtype)).reshape(-1)
                               for p in bucket.params])
        dist.all_reduce_array(flat, dist.ReduceOp.AVG)
        for p, lo, hi in zip(bucket.params, bucket.offsets, bucket.offsets[1:]):
            view = flat[lo:hi].reshape(p.shape)
            if p.grad is not None:
                p.grad.array = view
            else:   # no gradient here: it gets one only if some other rank had one
                self._absent.append((p, view))

    def _finish_unused(self):
        params = [p for b in self._buckets for p in b.params]
        have = np.array([p.grad is not None for p in params], dtype=np.int32)
        dist.all_reduce_array(have, dist.ReduceOp.MAX)
        used = {id(p) for p, h in zip(params, have) if h}
        for p, view in self._absent:
            if id(p) in used:
                p.grad = Tensor._wrap(view, p.device)
        self._absent = []

    def _check_previous_iteration(self):
        if self._armed and self._fired:
            names = {id(p): n for n, p in self.module.named_parameters()}
            missing = [names[id(p)] for b, bucket in enumerate(self._buckets)
                       for i, p in enumerate(bucket.params) if not self._ready[b][i]]
            self._armed = False
            fix = ("backward must reach every parameter that the forward's output depends on"
                   if self.find_unused_parameters else
                   "pass find_unused_parameters=True if some parameters are not used in every forward")
            raise RuntimeError(
                "DistributedDataParallel: the previous backward gave no gradient to parameter(s) "
                f"{', '.join(missing)}, so their gradients were never averaged across ranks; {fix}")

    def extra_repr(self):
        return f"world_size={self.world_size}, buckets={len(self._buckets)}"


# ---------------------------------------------------------------- helpers
def _tensors_in(obj):
    """The tensors in a forward's output (a tensor, or nested tuples / lists / dicts of them)."""
    stack, found = [obj], []
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            found.append(o)
        elif isinstance(o, (tuple, list)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    return found


def _leaves_reached(outputs):
    """ids of the leaf tensors that the graphs of `outputs` lead back to."""
    leaves, seen, stack = set(), set(), []
    for t in outputs:
        if t._ctx is None:
            leaves.add(id(t))
        else:
            stack.append(t._ctx)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for p in node.parents or ():
            if p is None:
                continue
            if p.__class__ is autograd.Node:
                stack.append(p)
            else:
                leaves.add(id(p))
    return leaves


def _signature(module):
    return ([("parameter", n, tuple(p.shape), str(p.dtype)) for n, p in module.named_parameters()]
            + [("buffer", n, tuple(b.shape), str(b.dtype)) for n, b in module.named_buffers()])


def _check_same_model(module, rank):
    """Raise, on every rank, naming the first parameter or buffer where a rank's model differs
    from rank 0's."""
    sigs = [None] * dist.get_world_size()
    dist.all_gather_object(sigs, _signature(module))
    ref = sigs[0]
    for r, sig in enumerate(sigs[1:], start=1):
        if sig == ref:
            continue
        for k, (a, b) in enumerate(zip(ref, sig)):
            if a != b:
                what = (f"rank 0 has {a[0]} '{a[1]}' {a[2]} {a[3]}, "
                        f"rank {r} has {b[0]} '{b[1]}' {b[2]} {b[3]} (entry {k})")
                break
        else:
            longer, short_r = (ref, r) if len(ref) > len(sig) else (sig, 0)
            extra = longer[min(len(ref), len(sig))]
            has = 0 if longer is ref else r
            what = f"rank {has} has {extra[0]} '{extra[1]}' {extra[2]} that rank {short_r} lacks"
        raise RuntimeError(f"DistributedDataParallel: the ranks built different models: {what}")


def _broadcast_arrays(tensors):
    """Give every rank rank 0's values: one collective per (device, dtype) group."""
    groups = {}
    for t in tensors:
        groups.setdefault((t.device, t.dtype), []).append(t)
    for (device, dtype), ts in groups.items():
        xp = backend.xp(device)
        flat = xp.concatenate([t.array.reshape(-1) for t in ts])
        dist.broadcast_array(flat, 0)
        offset = 0
        for t in ts:
            n = t.numel()
            t.array = flat[offset:offset + n].reshape(t.shape).copy()
            offset += n


def _make_buckets(params, cap_bytes):
    buckets, current, size = [], [], 0
    for p in params:
        nbytes = p.numel() * p.dtype.itemsize
        if current and (size + nbytes > cap_bytes or (p.dtype, p.device) != (current[0].dtype, current[0].device)):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _split_rng(rank):
    """Reseed the library generator from a draw of it (the same on every rank after the same
    manual_seed) and the rank: reproducible, and different on each rank."""
    draw = int(backend.rng("cpu").integers(2 ** 63))
    backend.manual_seed(int(np.random.SeedSequence([draw, rank]).generate_state(1)[0]))
