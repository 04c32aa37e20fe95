"""The built-in ops: each a `Function` with forward and backward side by side,
on raw arrays, through `ctx.xp` (numpy or cupy). Gradients of broadcast inputs
are summed back to the input's shape by the engine (`autograd.unbroadcast`)."""
import math

from . import backend
from .autograd import Function, unbroadcast
from .tensor import Tensor


# ---------------------------------------------------------------- binary, broadcasting
class Add(Function):
    @staticmethod
    def forward(ctx, a, b): return a + b

    @staticmethod
    def backward(ctx, g): return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b): return a - b

    @staticmethod
    def backward(ctx, g): return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (g / b if na else None), (-g * a / (b * b) if nb else None)


class Pow(Function):
    """a ** b for a tensor or scalar exponent (d/db = a^b ln a, defined where a > 0)."""
    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = g * b * a ** (b - 1) if na else None
        gb = None
        if nb:   # ln a is undefined for a <= 0: use 0 there
            if isinstance(a, (int, float)):   # a Python number (2 ** x): CuPy's where wants an array condition
                gb = g * out * (math.log(a) if a > 0 else 0.0)
            else:
                xp = ctx.xp
                gb = g * out * xp.log(xp.where(a > 0, a, 1))
        return ga, gb


class Maximum(Function):
    """Elementwise max; where a == b the gradient is split in half, as torch does."""
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        wa = ((a > b) + 0.5 * (a == b)).astype(g.dtype, copy=False)   # bools + 0.5 are float64
        return g * wa, g * (1 - wa)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        wa = ((a < b) + 0.5 * (a == b)).astype(g.dtype, copy=False)
        return g * wa, g * (1 - wa)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        z = ctx.xp.zeros((), dtype=g.dtype)
        return None, ctx.xp.where(ctx.cond, g, z), ctx.xp.where(ctx.cond, z, g)


# ---------------------------------------------------------------- unary
class Neg(Function):
    @staticmethod
    def forward(ctx, a): return -a

    @staticmethod
    def backward(ctx, g): return -g


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g): return g * ctx.saved[0]


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log(a)

    @staticmethod
    def backward(ctx, g): return g / ctx.saved[0]


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g): return g / (2 * ctx.saved[0])


class Abs(Function):
    """|a|, with gradient sign(a) (0 at a == 0, as torch)."""
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.abs(a)

    @staticmethod
    def backward(ctx, g): return g * ctx.xp.sign(ctx.saved[0])


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        return g * (1 - y * y)


class Sigmoid(Function):
    """σ(a) = 1 / (1 + e^-a), computed without overflow for large |a|."""
    @staticmethod
    def forward(ctx, a):
        out = sigmoid(ctx.xp, a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved[0]
        return g * y * (1 - y)


def sigmoid(xp, a):
    # tanh form: exact for all a, never overflows, one transcendental call
    return 0.5 * xp.tanh(0.5 * a) + 0.5


class ReLU(Function):
    """max(a, 0); gradient 0 at a == 0, as torch."""
    @staticmethod
    def forward(ctx, a):
        mask = a > 0
        ctx.mask = mask
        return a * mask

    @staticmethod
    def backward(ctx, g): return g * ctx.mask


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, a, slope):
        ctx.mask = a > 0
        ctx.slope = slope
        return ctx.xp.where(ctx.mask, a, a * slope)

    @staticmethod
    def backward(ctx, g): return ctx.xp.where(ctx.mask, g, g * ctx.slope), None


class Clip(Function):
    """clamp(a, lo, hi): gradient passes where lo <= a <= hi (inclusive, as torch)."""
    @staticmethod
    def forward(ctx, a, lo, hi):
        mask = True
        if lo is not None:
            mask = mask & (a >= lo)
        if hi is not None:
            mask = mask & (a <= hi)
        ctx.mask = mask
        return ctx.xp.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g): return g * ctx.mask, None, None


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.src = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g): return g.astype(ctx.src), None


class ToDevice(Function):
    @staticmethod
    def forward(ctx, a, device):
        ctx.src = backend.device_of(a)
        return backend.to_device(a, device)

    @staticmethod
    def backward(ctx, g):
        return (g.to(ctx.src) if isinstance(g, Tensor) else backend.to_device(g, ctx.src)), None

    @classmethod
    def apply(cls, x, device):
        # the output lives on `device`, not on the input's: fix the tensor's device tag
        out = super().apply(x, device)
        out.device = device
        return out


# ---------------------------------------------------------------- matmul
class MatMul(Function):
    """a @ b for 1-D, 2-D and batched (broadcast) operands, like numpy.matmul."""
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs at least 1-D operands")
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a          # treat vectors as 1-row / 1-col matrices
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g[..., None] if b.ndim == 1 else g      # put back the dims matmul dropped
        if a.ndim == 1:
            g2 = g2[..., None, :]
        ga = gb = None
        if na:
            ga = unbroadcast(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if nb:
            if b2.ndim == 2 and a2.ndim > 2:   # batch @ shared matrix: one big matmul, no (B, K, N) temporary
                gb = (a2.reshape(-1, a2.shape[-1]).T @ g2.reshape(-1, g2.shape[-1])).reshape(b.shape)
            else:
                gb = unbroadcast(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


# ---------------------------------------------------------------- reductions
def _expand_back(g, in_shape, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input again."""
    if axis is None or keepdims:
        return g.reshape([1] * len(in_shape)) if axis is None and not keepdims else g
    axes = axis if isinstance(axis, tuple) else (axis,)
    shape = list(in_shape)
    for ax in axes:
        shape[ax] = 1
    return g.reshape(shape)


def _count(shape, axis):
    if axis is None:
        n = 1
        for s in shape:
            n *= s
        return n
    axes = axis if isinstance(axis, tuple) else (axis,)
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.info = (a.shape, axis, keepdims)
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        shape, axis, keepdims = ctx.info
        return ctx.xp.broadcast_to(_expand_back(g, shape, axis, keepdims), shape), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.info = (a.shape, axis, keepdims)
        return a.mean(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        shape, axis, keepdims = ctx.info
        g = _expand_back(g, shape, axis, keepdims) / _count(shape, axis)
        return ctx.xp.broadcast_to(g, shape), None, None


class Var(Function):
    """Σ(a - mean)² / (N - correction)."""
    @staticmethod
    def forward(ctx, a, axis, keepdims, correction):
        d = a - a.mean(axis=axis, keepdims=True)
        n = _count(a.shape, axis)
        scale = 1.0 / (n - correction) if n > correction else float("nan")  # torch: nan when N <= correction
        ctx.save_for_backward(a)   # not d: a saved input keeps its graph for create_graph
        ctx.info = (a.shape, axis, keepdims, scale)
        return (d * d).sum(axis=axis, keepdims=keepdims) * scale

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved
        shape, axis, keepdims, scale = ctx.info
        d = a - a.mean(axis=axis, keepdims=True)
        return _expand_back(g, shape, axis, keepdims) * (2 * scale) * d, None, None, None


class Max(Function):
    """Largest values along axis; tied maxima share the gradient evenly (like torch.amax)."""
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        out = a.max(axis=axis, keepdims=True)
        mask = a == out
        ctx.mask = mask
        ctx.info = (a.shape, axis, keepdims)
        return out if keepdims else (out.reshape(()) if axis is None else out.squeeze(axis))

    @staticmethod
    def backward(ctx, g):
        shape, axis, keepdims = ctx.info
        mask = ctx.mask.astype(g.dtype)   # in g's dtype: a bool / int division would be float64
        share = mask / mask.sum(axis=axis, keepdims=True)
        return _expand_back(g, shape, axis, keepdims) * share, None, None


class LogSumExp(Function):
    """log Σ exp(a), shifted by the max so logits of 1e4 do not overflow."""
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        xp = ctx.xp
        m = a.max(axis=axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        e = xp.exp(a - m)
        s = e.sum(axis=axis, keepdims=True)
        out = xp.log(s) + m
        out = out if keepdims else (out.reshape(()) if axis is None else out.squeeze(axis))
        ctx.save_for_backward(a, out)   # the input and the output: both keep their graphs
        ctx.info = (a.shape, axis, keepdims)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved
        shape, axis, keepdims = ctx.info
        p = ctx.xp.exp(a - _expand_back(out, shape, axis, keepdims))   # softmax of a along axis
        return _expand_back(g, shape, axis, keepdims) * p, None, None


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        e = ctx.xp.exp(a - a.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True)), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        xp = ctx.xp
        z = a - a.max(axis=axis, keepdims=True)
        out = z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved
        return g - ctx.xp.exp(y) * g.sum(axis=ctx.axis, keepdims=True), None


# ---------------------------------------------------------------- shapes
class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g): return g.reshape(ctx.shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        inv = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inv[d] = i
        return ctx.xp.transpose(g, inv), None


class Expand(Function):
    """broadcast_to: a view; its gradient is summed back by the engine's unbroadcast."""
    @staticmethod
    def forward(ctx, a, shape):
        return ctx.xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g): return g, None


def _has_int_array(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    return any(backend.is_array(i) and i.dtype.kind in "iu" for i in items)


class GetItem(Function):
    """a[idx]: slices, ints, None, Ellipsis and integer / boolean arrays. The backward
    of an integer-array index scatter-adds, so repeated indices accumulate."""
    @staticmethod
    def forward(ctx, a, idx):
        ctx.info = (a.shape, a.dtype, idx)
        return a[idx]

    @staticmethod
    def backward(ctx, g):
        shape, dtype, idx = ctx.info
        if isinstance(g, Tensor):   # create_graph: the scatter is an op whose backward is a[idx]
            return IndexScatter.apply(g, shape, idx), None
        return _scatter(ctx.xp, shape, idx, g), None


def _scatter(xp, shape, idx, g):
    """zeros(shape) with g placed at idx (added up where integer indices repeat)."""
    out = xp.zeros(shape, dtype=g.dtype)
    if _has_int_array(idx):  # repeated indices must add up
        backend.scatter_add(xp, out, idx, g)
    else:
        out[idx] = g
    return out


class IndexScatter(Function):
    """GetItem's backward as an op of its own (used under create_graph): g placed into zeros
    of `shape` at idx. Its backward reads the gradient back at idx."""
    @staticmethod
    def forward(ctx, g, shape, idx):
        ctx.idx = idx
        return _scatter(ctx.xp, shape, idx, g)

    @staticmethod
    def backward(ctx, gg):
        return gg[ctx.idx], None, None


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return ctx.xp.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        out, start = [], 0
        lead = (slice(None),) * ctx.axis
        for n in ctx.sizes:
            out.append(g[lead + (slice(start, start + n),)])
            start += n
        return tuple(out)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return ctx.xp.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        return tuple(g[lead + (i,)] for i in range(g.shape[ctx.axis]))


class Pad(Function):
    """Constant padding; `widths` is one (before, after) pair per dim."""
    @staticmethod
    def forward(ctx, a, widths, value):
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return ctx.xp.pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g): return g[ctx.slices], None, None
