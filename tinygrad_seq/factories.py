"""Tensor factories, PyTorch-named. Random ones draw from the generator that
`manual_seed` seeds, so runs repeat exactly."""
import numpy as np

from . import backend
from .tensor import Tensor, _dim, _shape_args, float32, float64, int64, ops, get_default_dtype


def _make(arr_fn, shape, dtype, device, requires_grad):
    device = backend.normalize_device(device)
    arr = arr_fn(backend.xp(device), _shape_args(shape), np.dtype(dtype or get_default_dtype()), device)
    return Tensor(arr, requires_grad=requires_grad, device=device)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of data, as torch.tensor (as_tensor and from_numpy share)."""
    raw = data.array if isinstance(data, Tensor) else data
    t = Tensor(raw, requires_grad=requires_grad, dtype=dtype, device=device)
    if t.array is raw:   # no dtype or device change made a new array: copy, never alias the input
        t.array = raw.copy()
    return t


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, dt, d: xp.zeros(s, dtype=dt), shape, dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, dt, d: xp.ones(s, dtype=dt), shape, dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    """Filled with fill_value; its dtype by default follows the value, as torch: a bool gives
    bool, an int int64, a float the default dtype (get_default_dtype)."""
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
        dtype = int64 if ints else get_default_dtype()
    device = backend.normalize_device(device)
    arr = backend.xp(device).arange(start, end, step, dtype=np.dtype(dtype))
    return Tensor(arr, requires_grad=requires_grad, device=device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    device = backend.normalize_device(device)
    arr = backend.xp(device).eye(n, m, dtype=np.dtype(dtype or get_default_dtype()))
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


# ---------------------------------------------------------------- everyday PyTorch API
def empty(*shape, dtype=None, device=None, requires_grad=False):
    """torch.empty; here the memory is zeroed, so reading it before writing is harmless."""
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    device = backend.normalize_device(device)
    arr = backend.xp(device).linspace(start, end, int(steps), dtype=np.dtype(dtype or get_default_dtype()))
    return Tensor(arr, requires_grad=requires_grad, device=device)


def randperm(n, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1, from the generator manual_seed seeds."""
    device = backend.normalize_device(device)
    return Tensor(backend.permutation(int(n), device), dtype=dtype or int64, device=device,
                  requires_grad=requires_grad)


def _like(fn, t, dtype, device, requires_grad, *args):
    return fn(*t.shape, *args, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    return _like(empty, t, dtype, device, requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    return _like(rand, t, dtype, device, requires_grad)


def from_numpy(array):
    """A CPU tensor sharing memory with the NumPy array (writes show in both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def as_tensor(data, dtype=None, device=None):
    """A tensor from data, sharing memory when dtype and device already match."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    return Tensor(data, dtype=dtype, device=device)


def _probabilities(input, name):
    if not isinstance(input, Tensor) or input.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor of probabilities, got "
                        + (f"dtype {input.dtype}" if isinstance(input, Tensor) else type(input).__name__))
    return backend.xp(input.device), input.array


def bernoulli(input, p=None, *, generator=None):
    """1.0 with probability input (or p), else 0.0; same shape and dtype as input."""
    xp, probs = _probabilities(input, "bernoulli")
    if p is not None:
        probs = xp.full(probs.shape, p, dtype=probs.dtype)
    if probs.size:
        backend.check(xp, ((probs < 0) | (probs > 1)).any(),
                      "bernoulli: probabilities must lie in [0, 1]", error=ValueError)
    u = backend.rand(probs.shape, probs.dtype, input.device)
    return Tensor((u < probs).astype(probs.dtype), device=input.device)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Indices drawn from the categorical distribution(s) in the last dim of input (weights,
    need not sum to 1). Without replacement each row's draws are distinct: the top
    num_samples of log(w) + Gumbel noise, which is sequential sampling without replacement.
    The draws come from `generator` (a numpy.random.Generator) when one is given, else from
    the library generator."""
    xp, w = _probabilities(input, "multinomial")
    if input.ndim not in (1, 2):
        raise ValueError(f"multinomial: input must be 1-D or 2-D, got shape {input.shape}")
    w2 = w.reshape(-1, w.shape[-1])
    k, n = int(num_samples), w2.shape[1]
    if k <= 0:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    if not replacement and k > n:
        raise ValueError(f"multinomial: cannot draw {k} samples without replacement from {n} categories")
    backend.check(xp, (w2 < 0).any() | ~xp.isfinite(w2).all(),
                  "multinomial: weights must be finite and non-negative", error=ValueError)
    backend.check(xp, (w2.sum(axis=1) <= 0).any(), "multinomial: the weights of a row sum to 0",
                  error=ValueError)
    if not replacement:   # needs k categories of nonzero weight per row
        backend.check(xp, ((w2 > 0).sum(axis=1) < k).any(),
                      f"multinomial: a row has fewer than {k} categories of nonzero weight, "
                      "cannot draw that many without replacement", error=ValueError)
    shape = (w2.shape[0], k if replacement else n)
    u = (backend.rand(shape, np.dtype(float64), input.device) if generator is None else
         backend.to_device(generator.random(shape), input.device))
    if replacement:   # inverse CDF: the first category whose cumulative weight exceeds u
        cdf = xp.cumsum(w2.astype(float64), axis=1)
        cdf = cdf / cdf[:, -1:]
        out = (u[:, :, None] >= cdf[:, None, :]).sum(axis=2)
        out = xp.minimum(out, n - 1)
    else:
        with np.errstate(divide="ignore"):
            keys = xp.log(w2.astype(float64)) - xp.log(-xp.log(1 - u))
        out = xp.argsort(-keys, axis=1, kind="stable")[:, :k]
    out = out.astype(int64)
    return Tensor(out.reshape(w.shape[:-1] + (k,)), device=input.device)


def normal(mean=0.0, std=1.0, size=None, *, dtype=None, device=None, requires_grad=False):
    """torch.normal: samples with the given mean and std, either tensors (broadcast together,
    the result has their shape) or numbers with a `size`."""
    ts = [t for t in (mean, std) if isinstance(t, Tensor)]
    if ts:
        if size is not None:
            raise ValueError("normal: give size only when mean and std are both numbers")
        m = mean.array if isinstance(mean, Tensor) else mean
        s = std.array if isinstance(std, Tensor) else std
        dev = ts[0].device
        xp = backend.xp(dev)
        shape = np.broadcast_shapes(*[t.shape for t in ts])
        dt = np.result_type(*[t.dtype for t in ts])
        if dt.kind != "f":
            raise TypeError(f"normal: mean and std must be floating point tensors, got dtype {dt}")
        backend.check(xp, xp.asarray(s < 0).any(), "normal: std must be non-negative", error=ValueError)
        arr = backend.randn(shape, dt, dev) * s + m
        return Tensor(xp.asarray(arr, dtype=dt), device=dev, requires_grad=requires_grad)
    if size is None:
        raise ValueError("normal: with a number mean and std, give size")
    if std < 0:
        raise ValueError(f"normal: std must be non-negative, got {std}")
    t = randn(*_shape_args((size,)), dtype=dtype, device=device)
    t.array = (t.array * std + mean).astype(t.dtype, copy=False)
    return t.requires_grad_(requires_grad)


def _legacy(dtype, name):
    def make(*args, device=None):
        """torch's legacy constructor: Cls(data) shares an array or tensor already of its dtype (as
        torch does) and converts anything else; Cls(n, m, ...) is an (n, m, ...) zeros."""
        if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return zeros(*args, dtype=dtype, device=device)
        if len(args) != 1:
            raise TypeError(f"{name}: expected data or sizes, got {args!r}")
        data = args[0]
        return Tensor(data.array if isinstance(data, Tensor) else data, dtype=dtype, device=device)
    make.__name__ = make.__qualname__ = name
    make.dtype = dtype   # so x.type(tg.LongTensor) knows what to cast to
    return make


LongTensor = _legacy(int64, "LongTensor")
FloatTensor = _legacy(float32, "FloatTensor")
DoubleTensor = _legacy(np.dtype("float64"), "DoubleTensor")
IntTensor = _legacy(np.dtype("int32"), "IntTensor")
BoolTensor = _legacy(np.dtype("bool"), "BoolTensor")
