"""Tensor factories, PyTorch-named. Random ones draw from the generator that
`manual_seed` seeds, so runs repeat exactly."""
import numpy as np

from . import backend
from .tensor import Tensor, _dim, _shape_args, float32, int64, ops


def _make(arr_fn, shape, dtype, device, requires_grad):
    device = backend.normalize_device(device)
    arr = arr_fn(backend.xp(device), _shape_args(shape), np.dtype(dtype or float32), device)
    return Tensor(arr, requires_grad=requires_grad, device=device)


def tensor(data, dtype=None, device=None, requires_grad=False):
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, dt, d: xp.zeros(s, dtype=dt), shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, dt, d: xp.ones(s, dtype=dt), shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    """Filled with fill_value; its dtype by default follows the value, as torch: a bool gives
    bool, an int int64, a float float32."""
    if dtype is None and isinstance(fill_value, (bool, int, np.bool_, np.integer)):
        dtype = np.bool_ if isinstance(fill_value, (bool, np.bool_)) else int64
    return _make(lambda xp, s, dt, d: xp.full(s, fill_value, dtype=dt), (shape,), dtype, device,
                 requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    return _make(lambda xp, s, dt, d: backend.randn(s, dt, d), shape, dtype, device, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    return _make(lambda xp, s, dt, d: backend.rand(s, dt, d), shape, dtype, device, requires_grad)


def randint(low, high, shape, dtype=None, device=None):
    device = backend.normalize_device(device)
    arr = backend.rng("cpu").integers(low, high, size=_shape_args((shape,)))
    return Tensor(arr.astype(dtype or int64), device=device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if ints else float32
    device = backend.normalize_device(device)
    arr = backend.xp(device).arange(start, end, step, dtype=np.dtype(dtype))
    return Tensor(arr, requires_grad=requires_grad, device=device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    device = backend.normalize_device(device)
    arr = backend.xp(device).eye(n, m, dtype=np.dtype(dtype or float32))
    return Tensor(arr, requires_grad=requires_grad, device=device)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(*t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(*t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    return randn(*t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def _to_tensors(ts):
    ts = list(ts)
    if not ts:
        raise ValueError("expected a non-empty list of tensors")
    return [t if isinstance(t, Tensor) else Tensor(t) for t in ts]


def cat(tensors, axis=0, *, dim=None):
    ts = _to_tensors(tensors)
    if any(t.ndim == 0 for t in ts):
        raise RuntimeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    ax = _dim(dim if dim is not None else axis, ts[0].ndim, "cat")
    return ops.Cat.apply(*ts, axis=ax)


concatenate = cat


def stack(tensors, axis=0, *, dim=None):
    ts = _to_tensors(tensors)
    ax = _dim(dim if dim is not None else axis, ts[0].ndim + 1, "stack")
    return ops.Stack.apply(*ts, axis=ax)
