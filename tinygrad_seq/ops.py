"""The built-in ops: each a `Function` with forward and backward side by side,
on raw arrays, through `ctx.xp` (numpy or cupy). Gradients of broadcast inputs
are summed back to the input's shape by the engine (`autograd.unbroadcast`)."""
import math

from . import backend
from .autograd import Function, const, unbroadcast
from .tensor import Tensor


class View(Function):
    """An op whose output can be a view of its input's memory (reshape, permute, basic indexing,
    expand). Such an output shares the input's version counter, as in torch, so an in-place
    change made through either one is seen by a backward that saved the other."""
    @classmethod
    def apply(cls, x, *args):
        out = super(View, cls).apply(x, *args)
        if backend.xp(x.device).may_share_memory(out.array, x.array):
            out._vc = x._counter()
        return out


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
        na, nb = ctx.needs_input_grad   # save an operand only if the other one needs a gradient
        ctx.save_for_backward(a if nb else None, b if na else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g / b if na else None), (-g * (a / b) / b if nb else None)   # b*b could underflow


class Pow(Function):
    """a ** b for a tensor or scalar exponent. As torch: d/da is 0 where b == 0, and d/db is
    a^b ln a, but 0 where a == 0 and b >= 0 (NaN for a < 0, where ln a is)."""
    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        na, nb = ctx.needs_input_grad
        ctx.save_for_backward(a, b, out if nb else None)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        xp = ctx.xp
        ga = gb = None
        if na:   # a ** -0.5 as 1 / sqrt(a), as torch does (-0.0 gives -inf, -inf NaN)
            ga = g * (b * (1 / xp.sqrt(a) if b.__class__ is float and b == 0.5 else a ** (b - 1)))
            if _is_array(b):
                ga = xp.where(b == 0, xp.zeros((), dtype=ga.dtype), ga)
            elif b == 0:
                ga = xp.zeros_like(ga)
        if nb:
            if _is_array(a):
                with _quiet(xp):
                    gb = g * xp.where((a == 0) & (b >= 0), xp.zeros((), dtype=out.dtype), out * xp.log(a))
            else:   # a Python number (2 ** x)
                log_a = math.log(a) if a > 0 else -math.inf if a == 0 else math.nan
                with _quiet(xp):
                    gb = out * log_a
                if a == 0:
                    gb = xp.where(b >= 0, xp.zeros((), dtype=gb.dtype), gb)
                gb = g * gb
        return ga, gb


def _is_array(v):
    """An array operand (a Tensor under create_graph), not a Python number."""
    return backend.is_array(v) or isinstance(v, Tensor)


def _quiet(xp):
    """Silence NumPy's warnings for log of 0 or of a negative number: the results are torch's."""
    import contextlib
    return xp.errstate(divide="ignore", invalid="ignore") if hasattr(xp, "errstate") else contextlib.nullcontext()


class Maximum(Function):
    """Elementwise max, NaN if either is. As torch: where a == b each side gets half the
    gradient; where one is NaN (no order) both get all of it."""
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _pick(ctx.xp, g, a, b, a < b), _pick(ctx.xp, g, a, b, a > b)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _pick(ctx.xp, g, a, b, a > b), _pick(ctx.xp, g, a, b, a < b)


def _pick(xp, g, a, b, lost):
    """g, halved where a == b, and 0 where this side `lost`."""
    z = xp.zeros((), dtype=g.dtype)
    return xp.where(lost, z, xp.where(a == b, g * 0.5, g))


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)   # saved: backward checks it was not changed in place since
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        cond, = ctx.saved_tensors
        z = ctx.xp.zeros((), dtype=g.dtype)
        return None, ctx.xp.where(cond, g, z), ctx.xp.where(cond, z, g)


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
    def backward(ctx, g): return g * ctx.saved_tensors[0]


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log(a)

    @staticmethod
    def backward(ctx, g): return g / ctx.saved_tensors[0]


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g): return g / (2 * ctx.saved_tensors[0])


class Abs(Function):
    """|a|, with gradient sign(a): 0 at a == 0 and at NaN, as torch."""
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.abs(a)

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        return g * ((a > 0).astype(g.dtype) - (a < 0).astype(g.dtype))   # sign(a), 0 at 0 and NaN


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_tensors[0]
        return g * (const(1, y) - y * y)   # const: see autograd.const


class Sigmoid(Function):
    """σ(a) = 1 / (1 + e^-a), computed without overflow for large |a|."""
    @staticmethod
    def forward(ctx, a):
        out = sigmoid(ctx.xp, a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_tensors[0]
        return g * y * (const(1, y) - y)


def sigmoid(xp, a):
    # tanh form: exact for all a, never overflows, one transcendental call
    half = const(0.5, a)
    return half * xp.tanh(half * a) + half


class ReLU(Function):
    """max(a, 0); gradient 0 at a == 0, as torch. Not a multiply by the mask: that would give
    NaN at -inf and -0.0 for negative a (torch: 0; NaN stays NaN)."""
    @staticmethod
    def forward(ctx, a):
        ctx.mask = ~(a <= 0)   # NaN passes its gradient on, as torch's threshold_backward
        # into an array laid out like a (a channels-last conv output stays fast; a 0-d a stays an array)
        out = ctx.xp.maximum(a, 0, out=ctx.xp.empty_like(a))
        ctx.xp.copyto(out, a, where=a == 0)   # torch's relu keeps -0.0 (maximum gives +0.0)
        return out

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
        na, nb = ctx.needs_input_grad   # each gradient needs only the other operand
        ctx.save_for_backward(a if nb else None, b if na else None)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes   # the inputs' shapes, which the engine keeps for every node
        na, nb = ctx.needs_input_grad
        if len(a_shape) == 2 and len(b_shape) == 2:   # matrix @ matrix, the usual case
            return (g @ b.T if na else None), (a.T @ g if nb else None)
        a2_shape = (1,) + a_shape if len(a_shape) == 1 else a_shape   # vectors as 1-row / 1-col matrices
        b2_shape = b_shape + (1,) if len(b_shape) == 1 else b_shape
        g2 = g[..., None] if len(b_shape) == 1 else g      # put back the dims matmul dropped
        if len(a_shape) == 1:
            g2 = g2[..., None, :]
        ga = gb = None
        if na:
            b2 = b.reshape(b2_shape)
            ga = unbroadcast(g2 @ b2.swapaxes(-1, -2), a2_shape).reshape(a_shape)
        if nb:
            a2 = a.reshape(a2_shape)
            if len(b2_shape) == 2 and a2.ndim > 2:   # batch @ shared matrix: one big matmul, no (B, K, N) temporary
                rows = _count(a2.shape[:-1], None)   # not -1: a size-0 array cannot infer it
                gb = (a2.reshape(rows, a2.shape[-1]).T @ g2.reshape(rows, g2.shape[-1])).reshape(b_shape)
            else:
                gb = unbroadcast(a2.swapaxes(-1, -2) @ g2, b2_shape).reshape(b_shape)
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
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.broadcast_to(_expand_back(g, ctx.shape, ctx.axis, ctx.keepdims), ctx.shape), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.mean(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        g = _expand_back(g, ctx.shape, ctx.axis, ctx.keepdims) / _count(ctx.shape, ctx.axis)
        return ctx.xp.broadcast_to(g, ctx.shape), None, None


def _dof(shape, axis, correction):
    """N - correction, and forward's 1 / max(0, N - correction): inf when N <= correction, so
    the result is inf, or NaN for 0 / 0, as torch."""
    dof = _count(shape, axis) - correction
    return dof, (1.0 / dof if dof > 0 else float("inf"))


def _var_grad(ctx, g, d):
    """torch's var_backward for g shaped to broadcast against d = a - mean: 2 / dof * g * d. Over
    all dims with dof <= 0, torch gives inf (NaN where a == mean, inf * 0)."""
    xp, dof = ctx.xp, ctx.dof
    if ctx.at_mean is not None:
        nan, inf = xp.full((), float("nan"), dtype=d.dtype), xp.full((), float("inf"), dtype=d.dtype)
        return g * xp.where(ctx.at_mean, nan, inf)
    return g * (2.0 / dof if dof else float("inf")) * d


def _centered(ctx, a, axis, correction):
    """a - mean, and what backward needs: dof, and where a == mean when dof <= 0 over all dims."""
    mean = a.mean(axis=axis, keepdims=True)
    ctx.dof, scale = _dof(a.shape, axis, correction)
    ctx.at_mean = (a == mean) if axis is None and ctx.dof <= 0 else None
    return a - mean, scale


class Var(Function):
    """Σ(a - mean)² / (N - correction)."""
    @staticmethod
    def forward(ctx, a, axis, keepdims, correction):
        d, scale = _centered(ctx, a, axis, correction)
        ctx.save_for_backward(a)   # not d: a saved input keeps its graph under create_graph
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        with _quiet(ctx.xp):
            return (d * d).sum(axis=axis, keepdims=keepdims) * scale

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors
        shape, axis, keepdims = ctx.shape, ctx.axis, ctx.keepdims
        with _quiet(ctx.xp):
            d = a - a.mean(axis=axis, keepdims=True)
            return _var_grad(ctx, _expand_back(g, shape, axis, keepdims), d), None, None, None


class Std(Function):
    """sqrt(Σ(a - mean)² / (N - correction)); the gradient is 0 where the result is 0 (all
    values equal), as torch, not the 0/0 of sqrt's."""
    @staticmethod
    def forward(ctx, a, axis, keepdims, correction):
        d, scale = _centered(ctx, a, axis, correction)
        with _quiet(ctx.xp):
            out = ctx.xp.sqrt((d * d).sum(axis=axis, keepdims=True) * scale)
        out = out if keepdims else (out.reshape(()) if axis is None else out.squeeze(axis))
        ctx.save_for_backward(a, out)   # the input and the output: both keep their graphs
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        shape, axis, keepdims = ctx.shape, ctx.axis, ctx.keepdims
        xp = ctx.xp
        with _quiet(xp):
            d = a - a.mean(axis=axis, keepdims=True)
            out = _expand_back(out, shape, axis, keepdims)
            g = _expand_back(g, shape, axis, keepdims)
            g = xp.where(out == 0, xp.zeros((), dtype=g.dtype), g / (2 * out))
            return _var_grad(ctx, g, d), None, None, None


class Max(Function):
    """Largest values along axis; tied maxima share the gradient evenly (like torch.amax)."""
    reduce = "max"

    @classmethod
    def forward(cls, ctx, a, axis, keepdims):
        out = getattr(a, cls.reduce)(axis=axis, keepdims=True)
        mask = a == out
        ctx.mask = mask
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return out if keepdims else (out.reshape(()) if axis is None else out.squeeze(axis))

    @staticmethod
    def backward(ctx, g):
        shape, axis, keepdims = ctx.shape, ctx.axis, ctx.keepdims
        mask = ctx.mask.astype(g.dtype)   # in g's dtype: a bool / int division would be float64
        share = mask / mask.sum(axis=axis, keepdims=True)
        return _expand_back(g, shape, axis, keepdims) * share, None, None


class Min(Max):
    """Smallest values along axis; ties share the gradient evenly, as in Max."""
    reduce = "min"


class LogSumExp(Function):
    """log Σ exp(a), shifted by the max so logits of 1e4 do not overflow."""
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        xp = ctx.xp
        if a.size:
            m = a.max(axis=axis, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)
        else:   # the log of an empty sum, -inf (max() of nothing raises)
            m = xp.zeros_like(a.sum(axis=axis, keepdims=True))
        e = xp.exp(a - m)
        s = e.sum(axis=axis, keepdims=True)
        out = xp.log(s) + m
        out = out if keepdims else (out.reshape(()) if axis is None else out.squeeze(axis))
        ctx.save_for_backward(a, out)   # the input and the output: both keep their graphs
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        shape, axis, keepdims = ctx.shape, ctx.axis, ctx.keepdims
        p = ctx.xp.exp(a - _expand_back(out, shape, axis, keepdims))   # softmax of a along axis
        return _expand_back(g, shape, axis, keepdims) * p, None, None


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        if a.size == 0:   # nothing to normalize (and max() of nothing raises)
            ctx.save_for_backward(a)
            ctx.axis = axis
            return a.copy()
        e = ctx.xp.exp(a - a.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True)), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        xp = ctx.xp
        if a.size == 0:
            ctx.save_for_backward(a)
            ctx.axis = axis
            return a.copy()
        z = a - a.max(axis=axis, keepdims=True)
        out = z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g - ctx.xp.exp(y) * g.sum(axis=ctx.axis, keepdims=True), None


# ---------------------------------------------------------------- shapes
class Reshape(View):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g): return g.reshape(ctx.shape), None


class Permute(View):
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


class Expand(View):
    """broadcast_to: a view; its gradient is summed back by the engine's unbroadcast."""
    @staticmethod
    def forward(ctx, a, shape):
        return ctx.xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g): return g, None


class GetItem(View):
    """a[basic][adv] (see Tensor.__getitem__): `basic` of ints, slices and None gives a view;
    `adv`, integer arrays and slices, then picks from it (a copy). The backward of the
    integer arrays scatter-adds, so repeated indices accumulate."""
    @staticmethod
    def forward(ctx, a, basic, adv):
        ctx.shape, ctx.basic, ctx.adv = a.shape, basic, adv
        view = a[basic]
        return view if adv is None else view[adv]

    @staticmethod
    def backward(ctx, g):
        if g.__class__ is Tensor:   # create_graph: the scatter is an op whose backward is GetItem
            return IndexScatter.apply(g, ctx.shape, ctx.basic, ctx.adv), None, None
        return _scatter(ctx.xp, ctx.shape, ctx.basic, ctx.adv, g), None, None


def _scatter(xp, shape, basic, adv, g):
    """zeros(shape) with g placed at [basic][adv] (added up where integer indices repeat)."""
    out = xp.zeros(shape, dtype=g.dtype)
    if adv is None:
        out[basic] = g
    else:  # repeated indices must add up
        backend.scatter_add(xp, out[basic], adv, g)
    return out


class IndexScatter(Function):
    """GetItem's backward as an op of its own (used under create_graph): g placed into zeros
    of `shape` at [basic][adv]. Its backward reads the gradient back there: a GetItem."""
    @staticmethod
    def forward(ctx, g, shape, basic, adv):
        ctx.basic, ctx.adv = basic, adv
        return _scatter(ctx.xp, shape, basic, adv, g)

    @staticmethod
    def backward(ctx, gg):
        if gg.__class__ is Tensor:
            return GetItem.apply(gg, ctx.basic, ctx.adv), None, None, None
        view = gg[ctx.basic]
        return (view if ctx.adv is None else view[ctx.adv]), None, None, None


class SetItem(Function):
    """a[basic][adv] = v, written into a's own array (Tensor.__setitem__, copy_ and fill_ record
    it when v needs a gradient). a's gradient is g with the overwritten places zeroed; v's is
    g[basic][adv] (summed back over broadcasting by the engine). Nothing is saved, so later
    writes into the result are safe."""
    @staticmethod
    def forward(ctx, a, v, basic, adv):
        ctx.basic, ctx.adv, ctx.v_dtype = basic, adv, getattr(v, "dtype", None)
        target = a[basic]
        if adv is None:
            target[...] = v
        else:
            target[adv] = v
        return a

    @staticmethod
    def backward(ctx, g):
        basic, adv, v_dtype = ctx.basic, ctx.adv, ctx.v_dtype
        ga = gv = None
        if ctx.needs_input_grad[0]:   # g with the overwritten places zeroed (a constant mask)
            keep = _raw(ctx.xp).ones(g.shape, dtype=bool)
            hole = keep[basic]
            if adv is None:
                hole[...] = False
            else:
                hole[adv] = False
            ga = g * keep
        if ctx.needs_input_grad[1]:   # g read back where v was written
            gv = GetItem.apply(g, basic, adv) if g.__class__ is Tensor else \
                (g[basic] if adv is None else g[basic][adv])
            if v_dtype is not None and gv.dtype != v_dtype:
                gv = gv.astype(v_dtype)
        return ga, gv, None, None


def _place(xp, g, shape, idx):
    """zeros(shape) with g added at the advanced index `idx` (repeats add up). On Tensors
    (create_graph) it is an IndexScatter, whose backward reads g back: twice differentiable."""
    if g.__class__ is Tensor:
        return IndexScatter.apply(g, shape, (Ellipsis,), idx)
    return _scatter(xp, shape, (Ellipsis,), idx, g)


def _take(g, idx):
    """g[idx], recorded as a GetItem when g is a Tensor (create_graph)."""
    return GetItem.apply(g, (Ellipsis,), idx) if g.__class__ is Tensor else g[idx]


def _raw(xp):
    """numpy / cupy itself, also under create_graph (where ctx.xp is a TensorXP): for index
    arithmetic and masks, which are constants."""
    return getattr(xp, "raw", xp)


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = tuple(a.shape[axis] for a in arrays)   # a tuple: the collector drops it
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
        return _place(ctx.xp, g, ctx.shape, ctx.idx), None, None


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
        if g.__class__ is Tensor:   # create_graph: zero the overwritten entries with a mask
            hit = _raw(ctx.xp).zeros(g.shape, dtype=bool)
            hit[ctx.idx] = True
            ga = MaskedFill.apply(g, hit, 0)
        else:
            ga = g.copy()
            ga[ctx.idx] = 0
        gs = _take(g, ctx.idx) if ctx.needs_input_grad[3] else None
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
        return g, None, None, (_take(g, ctx.idx) if ctx.needs_input_grad[3] else None)


class Picked(Function):
    """Entries of `a` picked along `dim`, and their positions as a second output that gets no
    gradient (mark_non_differentiable): max / min with a dim, topk, sort. The gradient of each
    value goes to the entry it came from (for max(dim), the one the index names: a tie is
    not split, unlike amax)."""
    @staticmethod
    def pick(ctx, a, dim, index, keepdim=True):
        """values a[index along dim] and index, as forward's outputs; ctx keeps where they came from."""
        ctx.shape, ctx.index_shape = a.shape, index.shape
        ctx.idx = along(ctx.xp, index, dim)
        values = a[ctx.idx]
        if not keepdim:
            values, index = values.squeeze(dim), index.squeeze(dim)
        ctx.mark_non_differentiable(index)
        ctx.set_materialize_grads(False)   # no zeros made for the indices' (absent) gradient
        return values, index

    @staticmethod
    def backward(ctx, g, g_index):
        return _place(ctx.xp, g.reshape(ctx.index_shape), ctx.shape, ctx.idx), None, None, None


class MaxDim(Picked):
    """torch.max(a, dim) / torch.min(a, dim): (values, indices) in one op."""
    @staticmethod
    def forward(ctx, a, dim, keepdim, largest):
        xp = ctx.xp
        if a.ndim == 0:   # as a 1-entry vector; the engine sums its (1,) gradient back to ()
            return Picked.pick(ctx, a.reshape(1), 0, xp.zeros(1, dtype="int64"), False)
        index = (xp.argmax if largest else xp.argmin)(a, axis=dim, keepdims=True)
        return Picked.pick(ctx, a, dim, index.astype("int64", copy=False), keepdim)


class Sort(Picked):
    """torch.sort / torch.topk: the values along `dim` in order (the first k of them when k is
    not None), stable, and their indices."""
    @staticmethod
    def forward(ctx, a, dim, k, descending):
        if a.ndim == 0:
            return Picked.pick(ctx, a.reshape(1), 0, ctx.xp.zeros(1, dtype="int64"), False)
        index = argsort(ctx.xp, a, dim, descending)
        if k is not None:
            index = index[(slice(None),) * dim + (slice(0, k),)]
        return Picked.pick(ctx, a, dim, index)


class MedianDim(Picked):
    """torch.median(a, dim): the lower median of each slice along dim and its index: the
    entry at position (n - 1) // 2 of a stable sort (NaNs sort last), or the first NaN when
    the slice holds one, as torch does."""
    @staticmethod
    def forward(ctx, a, dim, keepdim):
        xp = ctx.xp
        if a.ndim == 0:
            return Picked.pick(ctx, a.reshape(1), 0, xp.zeros(1, dtype="int64"), False)
        mid = (a.shape[dim] - 1) // 2
        index = argsort(xp, a, dim, False)[(slice(None),) * dim + (slice(mid, mid + 1),)]
        if a.dtype.kind == "f":
            nan = xp.isnan(a)
            index = xp.where(nan.any(axis=dim, keepdims=True), xp.argmax(nan, axis=dim, keepdims=True), index)
        return Picked.pick(ctx, a, dim, index.astype("int64", copy=False), keepdim)

    @staticmethod
    def backward(ctx, g, g_index):
        return Picked.backward(ctx, g, g_index)[:3]   # forward took 3 arguments


class Median(Function):
    """torch.median(a): the lower median of all entries, NaN when one is NaN (and for no
    entries). Its gradient is shared evenly by the entries equal to it (by the NaNs when it
    is NaN), as torch's median() does, unlike median(dim), which picks one entry."""
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        flat = a.reshape(-1)
        if flat.size == 0:
            return xp.full((), xp.nan, dtype=a.dtype)
        value = xp.sort(flat)[(flat.size - 1) // 2]   # NaNs sort last
        if a.dtype.kind != "f":
            return xp.asarray(value)
        nan = xp.isnan(flat)
        value = xp.where(nan.any(), xp.asarray(xp.nan, dtype=a.dtype), value)
        mask = (a == value) | (xp.isnan(a) & xp.isnan(value))
        ctx.share = mask / mask.sum(dtype=a.dtype)
        return value

    @staticmethod
    def backward(ctx, g): return g * ctx.share


def argsort(xp, a, dim, descending):
    """Stable argsort along dim; descending keeps equal entries in their original order too."""
    if a.ndim == 0:
        return xp.zeros((), dtype="int64")
    if descending:   # reversed stable ascending sort of the reversed array, mapped back
        n = a.shape[dim]
        order = xp.argsort(xp.flip(a, dim), axis=dim, kind="stable")
        return xp.flip(n - 1 - order, dim).astype("int64", copy=False)
    return xp.argsort(a, axis=dim, kind="stable").astype("int64", copy=False)


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
        a, = ctx.saved_tensors
        a, g = xp.moveaxis(a, ax, -1), xp.moveaxis(g, ax, -1)
        n = a.shape[-1]
        before = _exclusive_cumprod(xp, a, -1)          # prod_{k<i} a_k
        # after[..., i, j] = prod_{i<k<=j} a_k (1 on and below the diagonal): a running product
        # over j of a_j, with a_k for k <= i replaced by 1
        raw = _raw(xp)
        upper = raw.triu(raw.ones((n, n), dtype=bool), 1)
        after = xp.cumprod(xp.where(upper, a[..., None, :], xp.ones((), dtype=a.dtype)), axis=-1)
        grad = before * (xp.where(upper | raw.eye(n, dtype=bool), after, 0) * g[..., None, :]).sum(-1)
        return xp.moveaxis(grad, -1, ax), None


class Prod(Function):
    """Product along `axis` (all entries when None). The gradient of a_i is the product of the
    others (before and after it), exact when some entries are zero."""
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.save_for_backward(a)
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return ctx.xp.prod(a, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a, = ctx.saved_tensors
        shape, axis, keepdims = ctx.shape, ctx.axis, ctx.keepdims
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
        ctx.shifts, ctx.axes = shifts, axes
        return ctx.xp.roll(a, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        shifts = ctx.shifts
        back = -shifts if isinstance(shifts, int) else tuple(-s for s in shifts)
        return ctx.xp.roll(g, back, ctx.axes), None, None


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
        ctx.shape, ctx.k = a.shape, k
        return ctx.xp.diag(a, k) if a.ndim == 1 else ctx.xp.diagonal(a, k).copy()

    @staticmethod
    def backward(ctx, g):
        shape, k = ctx.shape, ctx.k
        if len(shape) == 1:   # read diagonal k back (a Diag of the matrix g, under create_graph)
            return (Diag.apply(g, k) if g.__class__ is Tensor else ctx.xp.diagonal(g, k).copy()), None
        rows = _raw(ctx.xp).arange(g.shape[0]) + max(-k, 0)
        return _place(ctx.xp, g, shape, (rows, rows + k)), None


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
        y, = ctx.saved_tensors
        return -0.5 * g * y * y * y


class Log1p(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log1p(a)

    @staticmethod
    def backward(ctx, g): return g / (1 + ctx.saved_tensors[0])


class Expm1(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g): return g * (ctx.saved_tensors[0] + 1)


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
        out = xp.sqrt((a * a).sum(axis=axis, keepdims=True)) if p == 2 else \
            (xp.abs(a) ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        if not keepdims:
            out = out.reshape(()) if axis is None else out.squeeze(axis)
        ctx.save_for_backward(a, out)   # the input and the output: both keep their graphs
        ctx.shape, ctx.p, ctx.axis, ctx.keepdims = a.shape, p, axis, keepdims
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        a, out = ctx.saved_tensors
        shape, p, axis, keepdims = ctx.shape, ctx.p, ctx.axis, ctx.keepdims
        g = _expand_back(g, shape, axis, keepdims)
        out = _expand_back(out, shape, axis, keepdims)
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
        if len(s) != nd or s and not s.isalpha():   # '' names a 0-d operand
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
        arrays = ctx.saved_tensors
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
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g if na else None), (-g * ctx.xp.floor(a / b) if nb else None)


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.sin(a)

    @staticmethod
    def backward(ctx, g): return g * ctx.xp.cos(ctx.saved_tensors[0])


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.cos(a)

    @staticmethod
    def backward(ctx, g): return -g * ctx.xp.sin(ctx.saved_tensors[0])
