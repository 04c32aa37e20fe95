"""The built-in ops: each a `Function` with forward and backward side by side,
on raw arrays, through `ctx.xp` (numpy or cupy). Gradients of broadcast inputs
are summed back to the input's shape by the engine (`autograd.unbroadcast`)."""
import math

from . import backend
from .autograd import Function, unbroadcast


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
            if backend.is_array(a):
                xp = ctx.xp
                gb = g * out * xp.log(xp.where(a > 0, a, 1))
            else:   # a Python number (2 ** x): CuPy's where wants an array condition
                gb = g * out * (math.log(a) if a > 0 else 0.0)
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
    def backward(ctx, g): return backend.to_device(g, ctx.src), None

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
        ctx.save_for_backward(d)
        ctx.info = (a.shape, axis, keepdims, scale)
        return (d * d).sum(axis=axis, keepdims=keepdims) * scale

    @staticmethod
    def backward(ctx, g):
        d, = ctx.saved
        shape, axis, keepdims, scale = ctx.info
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
        ctx.save_for_backward(e / s)
        ctx.info = (a.shape, axis, keepdims)
        return out if keepdims else (out.reshape(()) if axis is None else out.squeeze(axis))

    @staticmethod
    def backward(ctx, g):
        p, = ctx.saved
        shape, axis, keepdims = ctx.info
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
        return g.transpose(inv), None


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
        out = ctx.xp.zeros(shape, dtype=g.dtype)
        if _has_int_array(idx):  # repeated indices must add up
            backend.scatter_add(ctx.xp, out, idx, g)
        else:
            out[idx] = g
        return out, None


class SetItem(Function):
    """a[idx] = v, written into a's own array (Tensor.__setitem__ and copy_ record it when v
    needs a gradient). a's gradient is g with the overwritten places zeroed; v's is g[idx]
    (summed back over broadcasting by the engine). Nothing is saved, so later writes into
    the result are safe."""
    @staticmethod
    def forward(ctx, a, v, idx):
        ctx.info = (idx, getattr(v, "dtype", None))
        a[idx] = v
        return a

    @staticmethod
    def backward(ctx, g):
        idx, v_dtype = ctx.info
        ga = None
        if ctx.needs_input_grad[0]:
            ga = g.copy()
            ga[idx] = 0
        gv = g[idx] if ctx.needs_input_grad[1] else None
        if gv is not None and v_dtype is not None and gv.dtype != v_dtype:
            gv = gv.astype(v_dtype)
        return ga, gv, None


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
        return tuple(g.take(i, axis=ctx.axis) for i in range(g.shape[ctx.axis]))


class Pad(Function):
    """Constant padding; `widths` is one (before, after) pair per dim."""
    @staticmethod
    def forward(ctx, a, widths, value):
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return ctx.xp.pad(a, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g): return g[ctx.slices], None, None


# ================================================================ everyday PyTorch API
# Ops behind Tensor.gather / scatter / cumsum / sort / einsum and friends (see tensor.py's
# "everyday PyTorch API" section, which checks arguments before calling these).
def along(xp, index, dim):
    """The advanced index that picks a[..., index[i, j, k], ...] at position (i, j, k): `index`
    on axis `dim`, and the position itself (an arange, broadcast) on every other axis. This is
    what torch.gather reads and torch.scatter writes."""
    nd = index.ndim
    return tuple(index if d == dim else xp.arange(n).reshape([n if e == d else 1 for e in range(nd)])
                 for d, n in enumerate(index.shape))


class Gather(Function):
    """out[i][j] = a[i][index[i][j]] (dim=1). Backward scatter-adds: repeated indices add up."""
    @staticmethod
    def forward(ctx, a, dim, index):
        ctx.idx = along(ctx.xp, index, dim)
        ctx.shape = a.shape
        return a[ctx.idx]

    @staticmethod
    def backward(ctx, g):
        out = ctx.xp.zeros(ctx.shape, dtype=g.dtype)
        backend.scatter_add(ctx.xp, out, ctx.idx, g)
        return out, None, None


class Scatter(Function):
    """a with a[i][index[i][j]] = src[i][j] (dim=1); `src` a tensor shaped like index, or a number.
    The overwritten entries of `a` get no gradient; src gets the gradient at the places it went."""
    @staticmethod
    def forward(ctx, a, dim, index, src):
        ctx.idx = along(ctx.xp, index, dim)
        out = a.copy()
        out[ctx.idx] = src
        return out

    @staticmethod
    def backward(ctx, g):
        ga = g.copy()
        ga[ctx.idx] = 0
        gs = g[ctx.idx] if ctx.needs_input_grad[3] else None
        return ga, None, None, gs


class ScatterAdd(Function):
    """a with a[i][index[i][j]] += src[i][j] (dim=1); repeated indices add up."""
    @staticmethod
    def forward(ctx, a, dim, index, src):
        ctx.idx = along(ctx.xp, index, dim)
        out = a.copy()
        backend.scatter_add(ctx.xp, out, ctx.idx, src)
        return out

    @staticmethod
    def backward(ctx, g):
        return g, None, None, (g[ctx.idx] if ctx.needs_input_grad[3] else None)


class MaskedFill(Function):
    """a where mask is false, `value` (a number, cast to a's dtype) where it is true."""
    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.mask = mask
        return ctx.xp.where(mask, ctx.xp.asarray(value, dtype=a.dtype), a)

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.where(ctx.mask, ctx.xp.zeros((), dtype=g.dtype), g), None, None


class CumSum(Function):
    """Running sum along `axis`; the gradient is the running sum of g taken from the end."""
    @staticmethod
    def forward(ctx, a, axis):
        ctx.axis = axis
        return ctx.xp.cumsum(a, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp, ax = ctx.xp, ctx.axis
        return xp.flip(xp.cumsum(xp.flip(g, ax), axis=ax), ax), None


def _exclusive_cumprod(xp, a, axis, reverse=False):
    """Products of the entries strictly before (or after, reverse=True) each one along axis."""
    if reverse:
        return xp.flip(_exclusive_cumprod(xp, xp.flip(a, axis), axis), axis)
    a = xp.moveaxis(a, axis, -1)
    shifted = xp.concatenate([xp.ones_like(a[..., :1]), a[..., :-1]], axis=-1)
    return xp.moveaxis(xp.cumprod(shifted, axis=-1), -1, axis)


class CumProd(Function):
    """Running product along `axis`. d out_j / d a_i = prod_{k<=j, k!=i} a_k for i <= j, computed
    without dividing by a_i, so zeros in the input get exact gradients."""
    @staticmethod
    def forward(ctx, a, axis):
        ctx.save_for_backward(a)
        ctx.axis = axis
        return ctx.xp.cumprod(a, axis=axis)

    @staticmethod
    def backward(ctx, g):
        xp, ax = ctx.xp, ctx.axis
        a, = ctx.saved
        a, g = xp.moveaxis(a, ax, -1), xp.moveaxis(g, ax, -1)
        n = a.shape[-1]
        before = _exclusive_cumprod(xp, a, -1)          # prod_{k<i} a_k
        # after[..., i, j] = prod_{i<k<=j} a_k (1 on and below the diagonal): a running product
        # over j of a_j, with a_k for k <= i replaced by 1
        upper = xp.triu(xp.ones((n, n), dtype=bool), 1)
        after = xp.cumprod(xp.where(upper, a[..., None, :], xp.ones((), dtype=a.dtype)), axis=-1)
        grad = before * (xp.where(upper | xp.eye(n, dtype=bool), after, 0) * g[..., None, :]).sum(-1)
        return xp.moveaxis(grad, -1, ax), None


class Prod(Function):
    """Product along `axis` (all entries when None). The gradient of a_i is the product of the
    others (before and after it), exact when some entries are zero."""
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.save_for_backward(a)
        ctx.info = (a.shape, axis, keepdims)
        return ctx.xp.prod(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a, = ctx.saved
        shape, axis, keepdims = ctx.info
        flat = a.reshape(-1) if axis is None else a
        ax = 0 if axis is None else axis
        others = _exclusive_cumprod(xp, flat, ax) * _exclusive_cumprod(xp, flat, ax, reverse=True)
        return _expand_back(g, shape, axis, keepdims) * others.reshape(shape), None, None


class Flip(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return ctx.xp.flip(a, axes)

    @staticmethod
    def backward(ctx, g): return ctx.xp.flip(g, ctx.axes), None


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, axes):
        ctx.info = (shifts, axes)
        return ctx.xp.roll(a, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        shifts, axes = ctx.info
        back = -shifts if isinstance(shifts, int) else tuple(-s for s in shifts)
        return ctx.xp.roll(g, back, axes), None, None


class Triangle(Function):
    """tril / triu of the last two dims: entries kept where `keep` (an (n, m) mask) is true."""
    @staticmethod
    def forward(ctx, a, lower, k):
        xp = ctx.xp
        n, m = a.shape[-2:]
        keep = xp.tri(n, m, k, dtype=bool) if lower else ~xp.tri(n, m, k - 1, dtype=bool)
        ctx.keep = keep
        return xp.where(keep, a, xp.zeros((), dtype=a.dtype))

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.where(ctx.keep, g, ctx.xp.zeros((), dtype=g.dtype)), None, None


class Diag(Function):
    """torch.diag: a vector -> the square matrix with it on diagonal k; a matrix -> its diagonal k."""
    @staticmethod
    def forward(ctx, a, k):
        ctx.info = (a.shape, k)
        return ctx.xp.diag(a, k) if a.ndim == 1 else ctx.xp.diagonal(a, k).copy()

    @staticmethod
    def backward(ctx, g):
        shape, k = ctx.info
        xp = ctx.xp
        if len(shape) == 1:
            return xp.diagonal(g, k).copy(), None
        out = xp.zeros(shape, dtype=g.dtype)
        n = g.shape[0]
        rows = xp.arange(n) + max(-k, 0)
        out[rows, rows + k] = g
        return out, None


class Clone(Function):
    """A copy (C-contiguous) whose gradient passes straight through."""
    @staticmethod
    def forward(ctx, a): return ctx.xp.array(a, copy=True, order="C")

    @staticmethod
    def backward(ctx, g): return g


class Rsqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = 1 / ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved
        return -0.5 * g * y * y * y


class Log1p(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log1p(a)

    @staticmethod
    def backward(ctx, g): return g / (1 + ctx.saved[0])


class Expm1(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g): return g * (ctx.saved[0] + 1)


class Step(Function):
    """A piecewise-constant function (sign, floor, ceil, round, trunc): its gradient is zero
    everywhere it exists, as torch defines it."""
    @staticmethod
    def forward(ctx, a, fn):
        return fn(ctx.xp, a)

    @staticmethod
    def backward(ctx, g): return ctx.xp.zeros_like(g), None


class NanToNum(Function):
    """NaN / +Inf / -Inf replaced by numbers; the replaced entries get no gradient."""
    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        xp = ctx.xp
        ctx.finite = xp.isfinite(a)
        return xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.where(ctx.finite, g, ctx.xp.zeros((), dtype=g.dtype)), None, None, None


class Norm(Function):
    """The p-norm (Σ|a|^p)^(1/p) over `axis` (all entries when None), for finite p > 0.
    Where the norm is 0 the gradient is 0 (torch's subgradient), not NaN."""
    @staticmethod
    def forward(ctx, a, p, axis, keepdims):
        xp = ctx.xp
        mag = xp.abs(a)
        out = xp.sqrt((a * a).sum(axis=axis, keepdims=True)) if p == 2 else \
            (mag ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(a, out)
        ctx.info = (a.shape, p, axis, keepdims)
        if keepdims:
            return out
        return out.reshape(()) if axis is None else out.squeeze(axis)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a, out = ctx.saved
        shape, p, axis, keepdims = ctx.info
        g = _expand_back(g, shape, axis, keepdims)
        safe = xp.where(out == 0, xp.ones((), dtype=out.dtype), out)
        if p == 2:
            d = a / safe
        else:   # d/da_i = sign(a_i) |a_i|^(p-1) / norm^(p-1)
            d = xp.sign(a) * xp.abs(a) ** (p - 1) / safe ** (p - 1)
        return g * xp.where(out == 0, xp.zeros((), dtype=a.dtype), d), None, None, None


def _einsum_spec(equation, ndims):
    """'ij,jk->ik' (or implicit 'ij,jk', or with '...') -> ([subscripts per operand], output),
    every '...' spelled out with capital letters, one per broadcast dim."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ndims):
        raise ValueError(f"einsum: equation {equation!r} names {len(ins)} operands, got {len(ndims)}")
    n_ell = max((nd - len(s.replace("...", "")) for s, nd in zip(ins, ndims) if "..." in s), default=0)
    ell = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in eq)[:n_ell]
    spelled = []
    for s, nd in zip(ins, ndims):
        if "..." in s:
            k = nd - len(s.replace("...", ""))
            s = s.replace("...", ell[n_ell - k:])
        if len(s) != nd or not s.isalpha():
            raise ValueError(f"einsum: subscripts {s!r} do not fit an operand with {nd} dims")
        spelled.append(s)
    if arrow:
        out = out.replace("...", ell)
    else:   # implicit output: broadcast dims, then the letters used once, in order
        letters = "".join(spelled)
        out = ell + "".join(sorted(c for c in set(letters) if c not in ell and letters.count(c) == 1))
    return spelled, out


class Einsum(Function):
    """torch.einsum. The gradient of operand i is another einsum: the output gradient contracted
    with the other operands down to operand i's subscripts. Letters only operand i has are
    broadcast back with a ones vector, and a letter it repeats (a diagonal, 'ii') with an
    identity matrix, so every case is one more einsum."""
    @staticmethod
    def forward(ctx, spec, *arrays):
        ins, out = spec
        ctx.spec = spec
        ctx.save_for_backward(*arrays)
        return ctx.xp.einsum(",".join(ins) + "->" + out, *arrays)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        ins, out = ctx.spec
        arrays = ctx.saved
        sizes = {}
        for s, a in zip(ins, arrays):
            for c, n in zip(s, a.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads = [None]
        for i, (s, a) in enumerate(zip(ins, arrays)):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            subs, ops_ = [out], [g]
            for j, (sj, aj) in enumerate(zip(ins, arrays)):
                if j != i:
                    subs.append(sj)
                    ops_.append(aj)
            have = set("".join(subs))
            target, used = "", set()
            free = iter(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        if c not in sizes)
            for c, n in zip(s, a.shape):
                if c in used:   # repeated letter: a fresh one tied to c by an identity matrix
                    c2 = next(free)
                    subs.append(c + c2)
                    ops_.append(xp.eye(n, dtype=g.dtype))
                    target += c2
                    continue
                used.add(c)
                if c not in have:   # summed away inside operand i only: broadcast back
                    subs.append(c)
                    ops_.append(xp.ones(sizes[c], dtype=g.dtype))
                    have.add(c)
                target += c
            gi = xp.einsum(",".join(subs) + "->" + target, *ops_)
            grads.append(gi)    # a broadcast '...' dim of size 1 is summed back by the engine
        return tuple(grads)


class Remainder(Function):
    """a % b with the sign of b (Python's and torch.remainder's rule); a - b * floor(a / b)."""
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (g if na else None), (-g * ctx.xp.floor(a / b) if nb else None)


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.sin(a)

    @staticmethod
    def backward(ctx, g): return g * ctx.xp.cos(ctx.saved[0])


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.cos(a)

    @staticmethod
    def backward(ctx, g): return -g * ctx.xp.sin(ctx.saved[0])
