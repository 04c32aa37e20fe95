"""Max / average pooling (1-D and 2-D), adaptive max pooling (1-D, 2-D) and adaptive average
pooling (1-D, 2-D: one small matrix multiply per dim).

A 2-D window reduction is done as two 1-D ones: first along W (for each of the
kw kernel columns, a strided view of the input), then along H over the result.
Every step is a whole-array operation on a strided view, so there are only
kh + kw NumPy/CuPy calls per pooling and no loop over output positions. For
max pooling this also finds torch's winner: the first maximum in row-major
window order (the first row holding the maximum, then its first column), and
the backward routes each output's gradient to that one input (one strided
write per kernel offset).
"""
import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ..factories import cat, stack
from .conv import _ntuple, alloc_like, in_order, memory_order, out_size, pad_input, window_slices
from .module import Module


def _axis_slices(k, out, stride, dilation):
    """For each of the k kernel offsets, the slice of the padded axis it reads for all outputs."""
    return [slice(i * dilation, i * dilation + stride * (out - 1) + 1, stride) for i in range(k)]


def _geometry(x_shape, k, stride, pads, dilation, ceil_mode):
    """Output size and the padding actually applied: ceil_mode may need extra room on the
    bottom / right so the last window is in bounds (those cells never win nor count)."""
    out, full_pads = [], []
    for size, kk, s, p, d in zip(x_shape[2:], k, stride, pads, dilation):
        n = out_size(size, kk, s, p, d, ceil_mode)
        need = (n - 1) * s + d * (kk - 1) + 1
        out.append(n)
        full_pads.append((p[0], max(p[1], need - size - p[0])))
    return tuple(out), tuple(full_pads)


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
        ctx.geom = (x.shape, xpad.shape, k, stride, pads, dilation, out, one_d)
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        win = ctx.win
        xshape, pshape, (kh, kw), (sh, sw), pads, (dh, dw), (OH, OW), one_d = ctx.geom
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
        """The same pooling from differentiable ops (what create_graph differentiates): the max
        over the stacked kernel-offset slices of the input padded with -inf."""
        one_d = x.ndim == 3
        x4 = x.unsqueeze(2) if one_d else x
        (pt, pb), (pl, pr) = pads
        windows = stack(window_slices(x4.pad((pl, pr, pt, pb), value=-np.inf), k, stride, dilation, out), dim=-1)
        y = windows.amax(dim=-1)
        return y[:, :, 0, :] if one_d else y


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


def _divisor(xp, dtype, x_shape, k, stride, pads, out, count_include_pad, divisor_override):
    """The (OH, OW) map each window sum is divided by. torch counts the window's cells that
    lie in the padded input (count_include_pad) or in the input itself, never the extra
    ceil_mode cells; the region is a rectangle, so the count factors into rows x columns."""
    if divisor_override is not None:
        return divisor_override
    counts = []
    for size, kk, s, p, n in zip(x_shape[2:], k, stride, pads, out):
        pos = np.arange(n)[:, None] * s + np.arange(kk)[None, :]   # padded coordinates
        lo, hi = (0, size + p[0] + p[1]) if count_include_pad else (p[0], p[0] + size)
        counts.append(((pos >= lo) & (pos < hi)).sum(axis=1))
    return xp.asarray((counts[0][:, None] * counts[1][None, :]).astype(dtype))


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
        ctx.geom = (x.shape, xpad.shape, k, stride, pads, out, divisor, one_d)
        return y[:, :, 0, :] if one_d else y

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        xshape, pshape, (kh, kw), (sh, sw), pads, (OH, OW), divisor, one_d = ctx.geom
        if one_d:
            g = g[:, :, None, :]
        g = (g / divisor).astype(g.dtype, copy=False)
        gpad = _spread(xp, _spread(xp, g, 2, kh, OH, sh, pshape[2]), 3, kw, OW, sw, pshape[3])
        (pt, _), (pl, _) = pads
        gx = gpad[:, :, pt:pt + xshape[2], pl:pl + xshape[3]]
        return (gx[:, :, 0, :] if one_d else gx), None, None, None, None, None

    @staticmethod
    def composed(x, k, stride, pads, out, divisor):
        """The same pooling from differentiable ops: the sum of the kernel-offset slices of the
        zero-padded input, over the divisor."""
        one_d = x.ndim == 3
        x4 = x.unsqueeze(2) if one_d else x
        (pt, pb), (pl, pr) = pads
        total = None
        for v in window_slices(x4.pad((pl, pr, pt, pb)), k, stride, (1, 1), out):
            total = v if total is None else total + v
        y = total / divisor
        return y[:, :, 0, :] if one_d else y


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
        a = win.argmax(axis=-1)                               # first maximum, as torch
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
        backend.scatter_add(xp, gx, index, g)                # adaptive windows may overlap: add
        return gx, None

    @staticmethod
    def composed(x, out):
        """The same pooling from differentiable ops: the max of each window's slice."""
        L = x.shape[-1]
        return cat([x[..., (o * L) // out:-((-(o + 1) * L) // out)].amax(dim=-1, keepdim=True)
                    for o in range(out)], dim=-1)


# ---------------------------------------------------------------- functional forms
def _prep(x, n, kernel_size, stride, padding, dilation, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    dims = "H, W" if n == 2 else "L"
    if x.ndim not in (n + 1, n + 2):
        raise ValueError(f"{name}: expected input (N, C, {dims}) or (C, {dims}), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got {x.dtype}")
    return (x,) + _window_args(n, kernel_size, stride, padding, dilation, name)


def _window_args(n, kernel_size, stride, padding, dilation, name):
    """(k, s, p, d) as n-tuples, checked as torch checks them (the layers check at construction)."""
    k = _ntuple(kernel_size, n, f"{name}: kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _ntuple(stride, n, f"{name}: stride")
    p = _ntuple(padding, n, f"{name}: padding")
    d = _ntuple(dilation, n, f"{name}: dilation")
    if min(k + s + d) < 1 or min(p) < 0:
        raise ValueError(f"{name}: kernel_size, stride and dilation must be positive and padding "
                         f"non-negative, got {k}, {s}, {d}, {p}")
    for kk, pp in zip(k, p):
        if pp > kk // 2:
            raise ValueError(f"{name}: padding {p} should be at most half of the kernel size {k}")
    return k, s, p, d


def _pool(fn, x, n, k, s, p, d, ceil_mode, name, extra=None):
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x.unsqueeze(0)
    shape4 = x.shape if n == 2 else x.shape[:2] + (1,) + x.shape[2:]
    k2, s2, d2 = ((1,) + k, (1,) + s, (1,) + d) if n == 1 else (k, s, d)
    p2 = ((0, 0),) * (2 - n) + tuple((v, v) for v in p)
    out, pads = _geometry(shape4, k2, s2, p2, d2, ceil_mode)
    if min(out) < 1:
        padded = tuple(a + 2 * b for a, b in zip(x.shape[2:], p))
        raise ValueError(f"{name}: kernel size {k} is larger than the padded input {padded} "
                         f"(input shape {x.shape}, padding {p}): output size would be {out[2 - n:]}")
    if fn is MaxPoolNd:
        y = MaxPoolNd.apply(x, k2, s2, pads, d2, out)
    else:
        count_include_pad, divisor_override = extra
        if divisor_override is not None and divisor_override == 0:
            raise ValueError(f"{name}: divisor_override must be non-zero")
        div = _divisor(backend.xp(x.device), x.dtype, shape4, k2, s2, p2, out, count_include_pad,
                       divisor_override)
        y = AvgPoolNd.apply(x, k2, s2, pads, out, div)
    return y.squeeze(0) if unbatched else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """torch.nn.functional.max_pool1d on (N, C, L); pads with -inf."""
    x, k, s, p, d = _prep(input, 1, kernel_size, stride, padding, dilation, "max_pool1d")
    return _pool(MaxPoolNd, x, 1, k, s, p, d, ceil_mode, "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """torch.nn.functional.max_pool2d on (N, C, H, W); pads with -inf."""
    x, k, s, p, d = _prep(input, 2, kernel_size, stride, padding, dilation, "max_pool2d")
    return _pool(MaxPoolNd, x, 2, k, s, p, d, ceil_mode, "max_pool2d")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """torch.nn.functional.avg_pool1d on (N, C, L)."""
    x, k, s, p, d = _prep(input, 1, kernel_size, stride, padding, 1, "avg_pool1d")
    return _pool(AvgPoolNd, x, 1, k, s, p, d, ceil_mode, "avg_pool1d", (count_include_pad, None))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch.nn.functional.avg_pool2d on (N, C, H, W)."""
    x, k, s, p, d = _prep(input, 2, kernel_size, stride, padding, 1, "avg_pool2d")
    return _pool(AvgPoolNd, x, 2, k, s, p, d, ceil_mode, "avg_pool2d", (count_include_pad, divisor_override))


def adaptive_max_pool1d(input, output_size):
    """torch.nn.functional.adaptive_max_pool1d on (N, C, L) or (C, L); output_size=1 is
    max-over-time pooling."""
    name = "adaptive_max_pool1d"
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ValueError(f"{name}: expected input (N, C, L) or (C, L), got "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    out = _output_size(output_size, name)
    if input.shape[-1] < 1:
        raise ValueError(f"{name}: expected a non-empty input (length L >= 1), got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got {input.dtype}")
    if out == 0:   # as torch: an empty (N, C, 0) output
        return input[..., :0]
    return AdaptiveMaxPool1dFn.apply(input, out)


def _output_size(output_size, name):
    """An int or a 1-tuple, >= 0, as an int."""
    v = output_size[0] if isinstance(output_size, (tuple, list)) and len(output_size) == 1 else output_size
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"{name}: output_size must be a non-negative int (or a 1-tuple), got {output_size!r}")
    return int(v)


# ---------------------------------------------------------------- layers
class _MaxPoolNd(Module):
    n = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, *, ceil_mode=False):
        super().__init__()
        _window_args(self.n, kernel_size, stride, padding, dilation, type(self).__name__)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

    def forward(self, x):
        name = type(self).__name__
        x, k, s, p, d = _prep(x, self.n, self.kernel_size, self.stride, self.padding, self.dilation, name)
        return _pool(MaxPoolNd, x, self.n, k, s, p, d, self.ceil_mode, name)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """MaxPool1d(kernel_size, stride=None, padding=0, dilation=1, *, ceil_mode=False); stride
    defaults to kernel_size, padding is -inf."""
    n = 1


class MaxPool2d(_MaxPoolNd):
    """MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, *, ceil_mode=False); stride
    defaults to kernel_size, padding is -inf."""
    n = 2


class AvgPool1d(Module):
    """AvgPool1d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        _window_args(1, kernel_size, stride, padding, 1, "AvgPool1d")
        self.kernel_size = _ntuple(kernel_size, 1, "AvgPool1d: kernel_size")   # torch keeps 1-tuples
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1, "AvgPool1d: stride")
        self.padding = _ntuple(padding, 1, "AvgPool1d: padding")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        x, k, s, p, d = _prep(x, 1, self.kernel_size, self.stride, self.padding, 1, "AvgPool1d")
        return _pool(AvgPoolNd, x, 1, k, s, p, d, self.ceil_mode, "AvgPool1d", (self.count_include_pad, None))

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        _window_args(2, kernel_size, stride, padding, 1, "AvgPool2d")
        if divisor_override is not None and divisor_override == 0:
            raise ValueError("AvgPool2d: divisor_override must be non-zero")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        x, k, s, p, d = _prep(x, 2, self.kernel_size, self.stride, self.padding, 1, "AvgPool2d")
        return _pool(AvgPoolNd, x, 2, k, s, p, d, self.ceil_mode, "AvgPool2d",
                     (self.count_include_pad, self.divisor_override))

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveMaxPool1d(Module):
    """AdaptiveMaxPool1d(output_size): output_size=1 is max-over-time pooling (N, C, L) -> (N, C, 1)."""

    def __init__(self, output_size):
        super().__init__()
        _output_size(output_size, "AdaptiveMaxPool1d")
        self.output_size = output_size

    def forward(self, x):
        return adaptive_max_pool1d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"



# ---------------------------------------------------------------- adaptive average / 2-D max pooling
def _adaptive_sizes(x, output_size, n, name):
    """output_size (an int, or a tuple whose None entries keep the input's size) -> n ints."""
    dims = "H, W" if n == 2 else "L"
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in (n + 1, n + 2) or min(x.shape[-n:]) < 1:
        raise ValueError(f"{name}: expected non-empty input (N, C, {dims}) or (C, {dims}), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got {x.dtype}")
    sizes = (output_size,) * n if isinstance(output_size, (int, np.integer)) or output_size is None \
        else tuple(output_size)
    if len(sizes) != n:
        raise ValueError(f"{name}: output_size must be an int or a tuple of {n}, got {output_size!r}")
    sizes = tuple(int(x.shape[-n + i]) if s is None else int(s) for i, s in enumerate(sizes))
    if min(sizes) < 1:
        raise ValueError(f"{name}: output_size must be positive, got {output_size!r}")
    return sizes


def _window_mean_matrix(xp, L, out, dtype):
    """(L, out) matrix A with x @ A = the means of x's adaptive windows: window o covers
    [floor(o L / out), ceil((o+1) L / out)), column o holds 1/length on it."""
    starts = (np.arange(out) * L) // out
    ends = -((-(np.arange(out) + 1) * L) // out)
    pos = np.arange(L)[:, None]
    A = ((pos >= starts) & (pos < ends)) / (ends - starts)
    return xp.asarray(A.astype(dtype))


def _adaptive_avg(x, sizes):
    """Average pooling along the trailing dims, one matrix multiply per dim (windows are a product
    of per-dim windows, so the 2-D mean is the W-mean of the H-mean)."""
    xp = backend.xp(x.device)
    n = len(sizes)
    for i, out in enumerate(sizes):
        axis = x.ndim - n + i
        A = Tensor(_window_mean_matrix(xp, x.shape[axis], out, x.dtype), device=x.device)
        x = (x.transpose(axis, -1) @ A).transpose(axis, -1)
    return x


def adaptive_avg_pool1d(input, output_size):
    """torch.nn.functional.adaptive_avg_pool1d on (N, C, L) or (C, L)."""
    return _adaptive_avg(input, _adaptive_sizes(input, output_size, 1, "adaptive_avg_pool1d"))


def adaptive_avg_pool2d(input, output_size):
    """torch.nn.functional.adaptive_avg_pool2d on (N, C, H, W) or (C, H, W)."""
    return _adaptive_avg(input, _adaptive_sizes(input, output_size, 2, "adaptive_avg_pool2d"))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """torch.nn.functional.adaptive_max_pool2d on (N, C, H, W) or (C, H, W): the 1-D adaptive max
    along W, then along H (a rectangle's maximum is the maximum of its rows' maxima)."""
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices=True is not supported")
    oh, ow = _adaptive_sizes(input, output_size, 2, "adaptive_max_pool2d")
    y = AdaptiveMaxPool1dFn.apply(input, ow)
    return AdaptiveMaxPool1dFn.apply(y.transpose(-1, -2), oh).transpose(-1, -2)


class _AdaptivePool(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """AdaptiveAvgPool1d(output_size): (N, C, L) -> (N, C, output_size)."""

    def forward(self, x):
        return _adaptive_avg(x, _adaptive_sizes(x, self.output_size, 1, "AdaptiveAvgPool1d"))


class AdaptiveAvgPool2d(_AdaptivePool):
    """AdaptiveAvgPool2d(output_size): (N, C, H, W) -> (N, C, oh, ow); None keeps that dim."""

    def forward(self, x):
        return _adaptive_avg(x, _adaptive_sizes(x, self.output_size, 2, "AdaptiveAvgPool2d"))


class AdaptiveMaxPool2d(_AdaptivePool):
    """AdaptiveMaxPool2d(output_size): (N, C, H, W) -> (N, C, oh, ow); None keeps that dim."""

    def forward(self, x):
        _adaptive_sizes(x, self.output_size, 2, "AdaptiveMaxPool2d")
        return adaptive_max_pool2d(x, self.output_size)
