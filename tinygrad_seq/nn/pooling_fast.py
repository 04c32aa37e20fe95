"""The fast path of nn/pooling.py: max, average and adaptive max pooling as Functions whose
forward and backward are written on arrays; tests/test_fast_paths.py checks each equal to the
window-slice form in pooling.py (max_pool_windows, avg_pool_windows, adaptive_max_windows).

A 2-D window reduction is done as two 1-D ones: first along W (for each of the kw kernel
columns, a strided view of the input), then along H over the result. Every step is a
whole-array operation on a strided view, so there are only kh + kw NumPy/CuPy calls per
pooling and no loop over output positions. For max pooling this also finds torch's winner:
the first maximum in row-major window order (the first row holding the maximum, then its
first column), and the backward routes each output's gradient to that one input (one strided
write per kernel offset). Small windows that sit side by side (2x2, stride 2) take one max
over the kh*kw views instead (_max_side_by_side). Gradients keep the input's memory layout
(batch-last or channels-last, see conv_fast.py), so the layers before see it too.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from . import pooling as plain
from .conv_fast import alloc_like, in_order, memory_order, pad_input


def _axis_slices(k, out, stride, dilation):
    """For each of the k kernel offsets, the slice of the padded axis it reads for all outputs."""
    return [slice(i * dilation, i * dilation + stride * (out - 1) + 1, stride) for i in range(k)]


def _index_dtype(n):
    return np.int8 if n <= 127 else np.int32


def _max_along(xp, x, axis, k, out, stride, dilation, payload=None, scale=1):
    """Running max over the k offsets of one axis: (values, index of the first maximum).
    With `payload` (an integer array shaped like x) the index is i * scale + payload at the
    winning offset i: how the H pass carries the W pass's column along. A window of 1 with
    stride 1 changes nothing: (x, payload)."""
    if k == 1 and stride == 1 and x.shape[axis] == out:
        return x, payload
    dt = _index_dtype(k * scale)
    sl = [slice(None)] * x.ndim
    best = idx = None
    for i, s in enumerate(_axis_slices(k, out, stride, dilation)):
        sl[axis] = s
        v = x[tuple(sl)]
        # (payload cast first: int8 + a wider scalar must widen on CuPy's casting rules too)
        cand = dt(i * scale) if payload is None else payload[tuple(sl)].astype(dt, copy=False) + dt(i * scale)
        if best is None:
            best, idx = v, cand
            continue
        better = v > best            # strict: an earlier equal value keeps the win, as in torch
        best = xp.maximum(best, v)   # (maximum, not where, so a NaN propagates like torch)
        if payload is None:          # offsets increase, so "i where better, else idx" is a max
            idx = better * cand if i == 1 else xp.maximum(idx, better * cand)
        else:
            idx = idx + better * (cand - idx)
    if getattr(idx, "ndim", 0) == 0:   # a kernel of size 1 (strided): index 0 everywhere
        idx = xp.zeros(best.shape, dtype=dt)
    return (best.copy() if k == 1 else best), idx.astype(dt, copy=False)


def _fits_side_by_side(k, stride, dilation):
    """Small windows (2 to 4 cells) that sit side by side (stride == kernel): _max_side_by_side's case."""
    return tuple(stride) == tuple(k) and tuple(dilation) == (1, 1) and 1 < k[0] * k[1] <= 4


def _max_side_by_side(xp, x, k, out):
    """Max over windows that sit side by side (stride == kernel), of up to 4 cells: the max of
    the kh*kw strided views, then the winner as the first view equal to it,
    e_0 * (1 + e_1 * (1 + e_2 ...)) with e_i = (view_i != max), in small integers."""
    (kh, kw), (OH, OW) = k, out
    views = [x[:, :, rs, cs] for rs in _axis_slices(kh, OH, kh, 1) for cs in _axis_slices(kw, OW, kw, 1)]
    y = xp.maximum(views[0], views[1])
    for v in views[2:]:
        xp.maximum(y, v, out=y)
    win = (views[-2] != y).astype(np.int8)
    for v in reversed(views[:-2]):
        win += 1
        win *= v != y
    return y, win


def _tiles(k, out, stride, dilation, size):
    """Do the windows cover the axis exactly once (stride == kernel, the usual pooling)?"""
    return stride == k and dilation == 1 and size == out * k


class MaxPoolNd(Function):
    """Max pooling of x (N, C, H, W), or (N, C, L) as a height-1 image. pads: ((top, bottom),
    (left, right)), already grown for ceil_mode; out: (OH, OW).

    Forward is separable (max along W, then along H of those row maxima), or for small windows
    side by side (2x2, stride 2) one max over the kh*kw views; it keeps one small integer per
    output, the winner's offset i * kw + j in its window. Backward then writes
    g * (winner == i * kw + j) through one strided view per kernel offset."""

    @staticmethod
    def forward(ctx, x, k, stride, pads, dilation, out):
        xp = ctx.xp
        one_d = x.ndim == 3
        if one_d:
            x = x[:, :, None, :]
        xpad = pad_input(xp, x, pads, value=-np.inf)
        (kh, kw), (sh, sw), (dh, dw), (OH, OW) = k, stride, dilation, out
        if _fits_side_by_side(k, stride, dilation):
            y, win = _max_side_by_side(xp, xpad, k, out)   # the usual 2x2 pooling: fewer passes
        else:
            rows, jw = _max_along(xp, xpad, 3, kw, OW, sw, dw)    # (N, C, Hp, OW), column of each row max
            # H pass over the row maxima, carrying the column along: winner = i * kw + j
            y, win = _max_along(xp, rows, 2, kh, OH, sh, dh, payload=jw, scale=kw)
        if win is None:   # a 1x1 window with stride 1: the output is a copy of the input
            y, win = y.copy(), xp.zeros(y.shape, dtype=np.int8)
        ctx.win = win
        ctx.order = memory_order(x)   # the gradient is laid out like x, for the layers before
        ctx.xshape, ctx.pshape, ctx.k, ctx.stride = x.shape, xpad.shape, k, stride
        ctx.pads, ctx.dilation, ctx.out, ctx.one_d = pads, dilation, out, one_d
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        win = ctx.win
        xshape, pshape, pads, one_d = ctx.xshape, ctx.pshape, ctx.pads, ctx.one_d
        (kh, kw), (sh, sw), (dh, dw), (OH, OW) = ctx.k, ctx.stride, ctx.dilation, ctx.out
        if one_d:
            g = g[:, :, None, :]
        tiles = _tiles(kh, OH, sh, dh, pshape[2]) and _tiles(kw, OW, sw, dw, pshape[3])
        g = in_order(xp, g, ctx.order)   # one copy now beats k*k strided passes across layouts
        # exact tiling writes every cell once: no zero fill, products go straight into place
        gpad = alloc_like(xp, None, pshape, g.dtype, fill=None if tiles else 0, order=ctx.order)
        for i, rs in enumerate(_axis_slices(kh, OH, sh, dh)):
            for j, cs in enumerate(_axis_slices(kw, OW, sw, dw)):
                part = gpad[:, :, rs, cs]
                if tiles:
                    xp.multiply(g, win == i * kw + j, out=part)
                else:
                    part += g * (win == i * kw + j)
        (pt, _), (pl, _) = pads
        gx = gpad[:, :, pt:pt + xshape[2], pl:pl + xshape[3]]
        return (gx[:, :, 0, :] if one_d else gx), None, None, None, None, None

    @staticmethod
    def composed(x, k, stride, pads, dilation, out):
        """The same pooling from differentiable ops (what create_graph differentiates)."""
        return plain.max_pool_windows(x, k, stride, pads, dilation, out)


def _spread(xp, g, axis, k, out, stride, size):
    """Backward of a window sum along `axis`: add g back at every offset onto an axis of `size`."""
    if k == 1 and stride == 1 and size == out:
        return g
    shape = list(g.shape)
    shape[axis] = size
    tiles = _tiles(k, out, stride, 1, size)
    res = alloc_like(xp, g, shape, g.dtype, fill=None if tiles else 0)
    sl = [slice(None)] * g.ndim
    for s in _axis_slices(k, out, stride, 1):
        sl[axis] = s
        if tiles:
            res[tuple(sl)] = g
        else:
            res[tuple(sl)] += g
    return res


class AvgPoolNd(Function):
    """Average pooling of x (N, C, H, W) (or (N, C, L)): window sums divided by `divisor`
    (an (OH, OW) array or a number). pads as in MaxPoolNd, padding with zeros."""

    @staticmethod
    def forward(ctx, x, k, stride, pads, out, divisor):
        xp = ctx.xp
        one_d = x.ndim == 3
        if one_d:
            x = x[:, :, None, :]
        xpad = pad_input(xp, x, pads)
        (kh, kw), (sh, sw), (OH, OW) = k, stride, out
        rows = _sum_along(xpad, 3, kw, OW, sw)
        y = (_sum_along(rows, 2, kh, OH, sh) / divisor).astype(x.dtype, copy=False)
        ctx.xshape, ctx.pshape, ctx.k, ctx.stride = x.shape, xpad.shape, k, stride
        ctx.pads, ctx.out, ctx.divisor, ctx.one_d = pads, out, divisor, one_d
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        xshape, pshape, pads, divisor, one_d = ctx.xshape, ctx.pshape, ctx.pads, ctx.divisor, ctx.one_d
        (kh, kw), (sh, sw), (OH, OW) = ctx.k, ctx.stride, ctx.out
        if one_d:
            g = g[:, :, None, :]
        g = (g / divisor).astype(g.dtype, copy=False)
        gpad = _spread(xp, _spread(xp, g, 2, kh, OH, sh, pshape[2]), 3, kw, OW, sw, pshape[3])
        (pt, _), (pl, _) = pads
        gx = gpad[:, :, pt:pt + xshape[2], pl:pl + xshape[3]]
        return (gx[:, :, 0, :] if one_d else gx), None, None, None, None, None

    @staticmethod
    def composed(x, k, stride, pads, out, divisor):
        """The same pooling from differentiable ops (what create_graph differentiates)."""
        return plain.avg_pool_windows(x, k, stride, pads, out, divisor)


def _sum_along(x, axis, k, out, stride):
    """Window sums over the k offsets of one axis."""
    if k == 1 and stride == 1 and x.shape[axis] == out:
        return x
    sl = [slice(None)] * x.ndim
    total = None
    for s in _axis_slices(k, out, stride, 1):
        sl[axis] = s
        total = x[tuple(sl)] + total if total is not None else x[tuple(sl)].copy()
    return total


def _first_max(xp, win):
    """win.argmax(axis=-1), the first maximum of each window (torch's winner), as a max and then
    the first offset equal to it (a max over small integers): plain reductions, which walk a
    channels-innermost conv output in its memory order, where an argmax across memory copies
    first. NumPy only, and without a NaN (it looks at the maxima for one): else the argmax."""
    if xp is not np:
        return win.argmax(axis=-1)
    m = win.max(axis=-1, keepdims=True)
    if np.isnan(m).any():
        return win.argmax(axis=-1)
    k = win.shape[-1]
    left = np.arange(k, 0, -1, dtype=np.int16 if k < 2**15 else np.int64)   # k - offset
    return k - ((win == m) * left).max(axis=-1)


class AdaptiveMaxPool1dFn(Function):
    """Max over `out` windows of x (N, C, L); window o covers [floor(o L / out), ceil((o+1) L / out)).
    Windows of unequal length are padded by repeating their last entry (never a new winner)."""

    @staticmethod
    def forward(ctx, x, out):
        xp = ctx.xp
        L = x.shape[-1]
        starts = (np.arange(out) * L) // out
        ends = -((-(np.arange(out) + 1) * L) // out)
        k = int((ends - starts).max())
        pos = np.minimum(starts[:, None] + np.arange(k)[None, :], ends[:, None] - 1)   # (out, k)
        if L % out == 0:
            win = x.reshape(x.shape[:-1] + (out, k))          # equal windows: a free reshape
        else:
            win = x[..., xp.asarray(pos)]                     # (N, C, out, k) gather
        a = _first_max(xp, win)                               # first maximum, as torch
        ctx.pos = xp.asarray(pos)[xp.arange(out), a]          # (N, C, out): winner's position in L
        ctx.shape, ctx.order = x.shape, memory_order(x)   # the gradient is laid out like x
        return xp.take_along_axis(win, a[..., None], axis=-1)[..., 0]

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gx = alloc_like(xp, None, ctx.shape, g.dtype, fill=0, order=ctx.order)
        lead = ctx.pos.shape[:-1]        # (N, C) or (C,): broadcastable aranges index those dims
        index = tuple(xp.arange(n).reshape((n,) + (1,) * (len(lead) - d)) for d, n in enumerate(lead))
        index += (ctx.pos,)
        if ctx.shape[-1] % g.shape[-1] == 0:
            gx[index] = g                # equal windows side by side: every winner is its own cell
        else:
            backend.scatter_add(xp, gx, index, g)            # adaptive windows may overlap: add
        return gx, None

    @staticmethod
    def composed(x, out):
        """The same pooling from differentiable ops (what create_graph differentiates)."""
        return plain.adaptive_max_windows(x, out)
