"""Conv1d / Conv2d as im2col + one matrix multiply.

Forward: pad the input once, expose every kernel window as a strided *view*
(as_strided, no copy), copy that view once into a (C*kh*kw) x (N*OH*OW) matrix
("im2col"), and multiply it with the (O, C*kh*kw) weight: one BLAS call makes
every output. Backward: the same matmul transposed gives the weight gradient
and the window gradients; col2im adds the window gradients back onto the input
with one strided add per kernel offset (kh*kw of them), never a loop over
output positions. Conv1d is the 2-D path with a height of 1. See BATCH_LAST
below for the memory layouts that keep these copies fast.

One special case has a path of its own, Conv1dShifted: a stride-1 Conv1d over an input with
its channels innermost (word vectors, as in a text CNN) needs no window matrix at all, only
k shifted matrix multiplies, so backward keeps the input instead of a k-times-larger copy.

ConvTranspose1d / 2d (at the end) are this convolution run on a zero-upsampled input with the
kernel flipped (conv_transpose_nd says how).
"""
import math

import numpy as np

from ..autograd import Function
from ..factories import stack
from ..tensor import Tensor
from . import init
from .module import Module, Parameter, check_size


def _ntuple(v, n, what):
    """An int or a length-n sequence of ints -> a tuple of n ints (PyTorch's _pair / _single)."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    t = tuple(int(a) for a in v)
    if len(t) != n:
        raise ValueError(f"{what} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def out_size(size, k, stride, pads, dilation, ceil_mode=False):
    """Output length of a sliding window over `size` entries padded by pads = (before, after):
    PyTorch's formula, with ceil_mode's rule that the last window must start inside the input
    or its left padding."""
    span = size + pads[0] + pads[1] - dilation * (k - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    n = -(-span // stride) + 1
    if (n - 1) * stride >= size + pads[0]:
        n -= 1
    return n


def memory_order(a):
    """a's axes from outermost to innermost in memory (largest stride first)."""
    return tuple(sorted(range(a.ndim), key=lambda ax: abs(a.strides[ax]), reverse=True))


def alloc_like(xp, like, shape, dtype, fill=None, order=None):
    """A new array of `shape` whose axes lie in memory in the same order as `like`'s (or as
    `order`, from memory_order), so pooling or padding a batch-last or channels-last array
    (see ConvNd) keeps its layout."""
    order = memory_order(like) if order is None else order
    mem_shape = tuple(shape[a] for a in order)
    buf = xp.empty(mem_shape, dtype=dtype) if fill is None else xp.full(mem_shape, fill, dtype=dtype)
    return buf.transpose(tuple(int(a) for a in np.argsort(order)))


def in_order(xp, a, order):
    """a, copied if needed so that its memory holds its axes in `order` (from memory_order)."""
    if memory_order(a) == order:
        return a
    return xp.ascontiguousarray(a.transpose(order)).transpose(tuple(int(i) for i in np.argsort(order)))


def pad_input(xp, x, pads, value=0):
    """x (N, C, H, W) with ((top, bottom), (left, right)) of `value` around H and W (one copy,
    in x's memory layout; x itself when there is nothing to pad)."""
    (pt, pb), (pl, pr) = pads
    if pt == pb == pl == pr == 0:
        return x
    N, C, H, W = x.shape
    out = alloc_like(xp, x, (N, C, H + pt + pb, W + pl + pr), x.dtype, fill=value)
    out[:, :, pt:pt + H, pl:pl + W] = x
    return out


# The two memory layouts ConvNd works in, as a permutation of (N, C, H, W). Both keep H, W in
# the middle, so padding and windows are the same code; the outer and inner axes differ:
#   batch-last    (C, H, W, N): im2col rows (C, i, j), columns (oh, ow, N); weight @ cols
#   channels-last (N, H, W, C): im2col rows (N, oh, ow), columns (i, j, C); cols @ weight^T
# The inner axis makes the copies and col2im adds run over long contiguous stretches (ow*N or
# kw*C elements) instead of one output row. An input whose memory already has C innermost (e.g.
# an embedding's (N, L, E) output transposed to (N, E, L)) uses channels-last; everything else
# batch-last. The output keeps the layout (an (N, O, OH, OW)-shaped view of it), so the next
# layers see it too and a stack of convs never converts.
BATCH_LAST, CHANNELS_LAST = (1, 2, 3, 0), (0, 2, 3, 1)


def _pick_layout(x, groups):
    big = [a for a in range(4) if x.shape[a] > 1]
    inner = min(big, key=lambda a: abs(x.strides[a])) if big else 0
    return CHANNELS_LAST if inner == 1 and groups == 1 else BATCH_LAST


def _windows(xp, P, k, out, stride, dilation, channels_last):
    """Strided view (no copy) of every kernel window of the padded, permuted input P (A, Hp, Wp, B):
    axes (A, i, j, oh, ow, B) for batch-last, (A, oh, ow, i, j, B) for channels-last."""
    sA, sH, sW, sB = P.strides
    i, j = (k[0], sH * dilation[0]), (k[1], sW * dilation[1])
    h, w = (out[0], sH * stride[0]), (out[1], sW * stride[1])
    axes = [(P.shape[0], sA)] + ([h, w, i, j] if channels_last else [i, j, h, w]) + [(P.shape[3], sB)]
    return xp.lib.stride_tricks.as_strided(P, tuple(a[0] for a in axes), tuple(a[1] for a in axes))


LONG_DOT_CHUNK = 2048


def long_dot(a, b):
    """a (G, M, L) @ b (G, L, N) where the inner dimension L is long and the M x N result small
    (a weight gradient: im2col rows times output gradients, summed over every position).
    OpenBLAS runs such a product about twice as fast cut into 2048-long pieces whose products
    are then summed, so it is done that way; any other shape is one matmul."""
    G, M, L = a.shape
    N, c = b.shape[2], LONG_DOT_CHUNK
    if L < 4 * c or M * N > 4096:
        return a @ b
    B = L // c
    head = a[:, :, :B * c].reshape(G, M, B, c).transpose(0, 2, 1, 3) @ b[:, :B * c].reshape(G, B, c, N)
    out = head.sum(axis=1)
    if B * c < L:
        out += a[:, :, B * c:] @ b[:, B * c:]
    return out


def _add_bias(xp, y, b):
    if b is None:
        return y
    return xp.add(y, b, out=y) if b.dtype == y.dtype else y + b   # in place: no extra array


def _kernel_offset(i, j, channels_last):
    """Index of kernel offset (i, j) in a 6-D window array from _windows."""
    return (slice(None),) * 3 + (i, j) if channels_last else (slice(None), i, j)


class ConvNd(Function):
    """Cross-correlation of x (N, C, H, W) or (N, C, L) with weight (O, C/groups, kh, kw) or
    (O, C/groups, k), plus an optional bias (O,). `pads` is ((top, bottom), (left, right))."""

    @staticmethod
    def forward(ctx, x, w, b, stride, pads, dilation, groups):
        xp = ctx.xp
        ctx.save_for_backward(w)  # (so an in-place change of the weight before backward is caught)
        one_d = x.ndim == 3
        if one_d:  # (N, C, L) -> (N, C, 1, L): the 2-D code with a height of 1
            x, w = x[:, :, None, :], w[:, :, None, :]
        N, C, H, W = x.shape
        O, Cg, kh, kw = w.shape
        (pt, pb), (pl, pr) = pads
        OH = out_size(H, kh, stride[0], pads[0], dilation[0])
        OW = out_size(W, kw, stride[1], pads[1], dilation[1])
        perm = _pick_layout(x, groups)
        cl = perm == CHANNELS_LAST
        P = xp.ascontiguousarray(x.transpose(perm))       # free when x already has this layout
        if pt or pb or pl or pr:
            Pp = xp.zeros((P.shape[0], H + pt + pb, W + pl + pr, P.shape[3]), dtype=P.dtype)
            Pp[:, pt:pt + H, pl:pl + W, :] = P
            P = Pp
        cols = xp.ascontiguousarray(_windows(xp, P, (kh, kw), (OH, OW), stride, dilation, cl))
        K, L = Cg * kh * kw, N * OH * OW
        if cl:
            wk = xp.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(O, K)   # rows (i, j, C)
            y = _add_bias(xp, cols.reshape(L, K) @ wk.T, b)                   # (N*OH*OW, O)
            out = y.reshape(N, OH, OW, O).transpose(0, 3, 1, 2)
        else:
            wk = w.reshape(groups, O // groups, K)                             # rows (C, i, j)
            y = (wk @ cols.reshape(groups, K, L)).reshape(O, L)                # (O, OH*OW*N)
            y = _add_bias(xp, y, None if b is None else b[:, None])
            out = y.reshape(O, OH, OW, N).transpose(3, 0, 1, 2)
        ctx.wk = wk
        ctx.cols = cols if ctx.needs_input_grad[1] else None
        ctx.geom = (x.shape, w.shape, P.shape, perm, (OH, OW), stride, pads, dilation, groups, one_d)
        return out[:, :, 0, :] if one_d else out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        wk = ctx.wk
        xshape, wshape, pshape, perm, (OH, OW), stride, pads, dilation, G, one_d = ctx.geom
        cl = perm == CHANNELS_LAST
        if one_d:
            g = g[:, :, None, :]
        N, C, H, W = xshape
        O, Cg, kh, kw = wshape
        K, L = Cg * kh * kw, N * OH * OW
        cols = ctx.cols
        # Without retain_graph the window matrix is done with once gw is made: the window
        # gradients (same shape) are written into its memory instead of a new array
        reuse = ctx.last_backward and cols is not None and cols.flags.c_contiguous
        if ctx.last_backward:
            ctx.cols = None
        nx, nw, nb = ctx.needs_input_grad[:3]
        gx = gw = gb = gcols = None
        if cl:
            g2 = xp.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(L, O)      # (N*OH*OW, O)
            if nb:
                gb = g2.sum(axis=0)
            if nw:
                gw = long_dot(g2.T[None], cols.reshape(1, L, K))[0].reshape(O, kh, kw, Cg).transpose(0, 3, 1, 2)
            if nx:
                gcols = xp.matmul(g2, wk, out=cols.reshape(L, K) if reuse else None)
                gcols = gcols.reshape(N, OH, OW, kh, kw, C)
        else:
            g2 = xp.ascontiguousarray(g.transpose(1, 2, 3, 0)).reshape(G, O // G, L)   # (O, OH*OW*N)
            if nb:
                gb = g2.reshape(O, L).sum(axis=1)
            if nw:  # as (cols @ g2^T)^T: BLAS then streams the big cols array in its stored order
                gw = long_dot(cols.reshape(G, K, L), g2.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(wshape)
            if nx:
                gcols = xp.matmul(wk.transpose(0, 2, 1), g2, out=cols.reshape(G, K, L) if reuse else None)
                gcols = gcols.reshape(C, kh, kw, OH, OW, N)
        del cols
        if nw and one_d:
            gw = gw[:, :, 0, :]
        if nx:
            # col2im: each kernel offset adds its slab of window gradients onto the (padded,
            # permuted) input; within one offset no two outputs touch the same input cell
            gP = xp.zeros(pshape, dtype=gcols.dtype)
            win = _windows(xp, gP, (kh, kw), (OH, OW), stride, dilation, cl)
            for i in range(kh):
                for j in range(kw):
                    at = _kernel_offset(i, j, cl)
                    win[at] += gcols[at]
            (pt, _), (pl, _) = pads
            gx = gP[:, pt:pt + H, pl:pl + W, :].transpose(tuple(int(a) for a in np.argsort(perm)))
            if one_d:
                gx = gx[:, :, 0, :]
        return gx, gw, gb, None, None, None, None

    @staticmethod
    def composed(x, w, b, stride, pads, dilation, groups):
        """The same convolution from differentiable ops (what create_graph differentiates):
        every kernel offset's strided slice of the padded input, stacked into windows, times
        the weights."""
        one_d = x.ndim == 3
        if one_d:
            x, w = x.unsqueeze(2), w.unsqueeze(2)
        N, C, H, W = x.shape
        O, Cg, kh, kw = w.shape
        (pt, pb), (pl, pr) = pads
        out = (out_size(H, kh, stride[0], pads[0], dilation[0]), out_size(W, kw, stride[1], pads[1], dilation[1]))
        windows = stack(window_slices(x.pad((pl, pr, pt, pb)), (kh, kw), stride, dilation, out), dim=2)
        cols = windows.reshape(N, groups, Cg * kh * kw, out[0] * out[1])       # rows (C, i, j) per group
        y = (w.reshape(groups, O // groups, Cg * kh * kw) @ cols).reshape(N, O, out[0], out[1])
        if b is not None:
            y = y + b.reshape(1, O, 1, 1)
        return y[:, :, 0, :] if one_d else y


def window_slices(x, k, stride, dilation, out):
    """The kh*kw strided slices of a padded (N, C, Hp, Wp) tensor, one per kernel offset
    (i, j), each (N, C, OH, OW): slice (i, j) holds every window's cell (i, j)."""
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = k, stride, dilation, out
    return [x[:, :, i * dh:i * dh + sh * (OH - 1) + 1:sh, j * dw:j * dw + sw * (OW - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]


class Conv1dShifted(Function):
    """Conv1d with stride 1 (any padding and dilation, groups 1) on an input whose channels
    are innermost in memory - an embedding's (N, L, E) output seen as (N, E, L), as in a text
    CNN - with no window matrix at all.

    Stack the batch into one long sequence X of N*Lp rows (Lp: the padded length), each row
    one position's C channels. Output row r is then sum_i X[r + i*d] @ W_i^T over the k kernel
    offsets: k plain matrix multiplies of shifted, contiguous row blocks of X. The rows whose
    window would run into the next sequence (the last d*(k-1) of every Lp) are computed and
    dropped. Backward keeps only X: gw_i = G^T X[shifted] and gX[shifted] += G W_i, with G
    zero on the dropped rows. The im2col path would keep a k-times-larger copy of X."""

    @staticmethod
    def forward(ctx, x, w, b, pads, dilation):
        xp = ctx.xp
        ctx.save_for_backward(w, x)   # (X below may be x's own memory: in-place edits are caught)
        N, C, L = x.shape
        O, _, k = w.shape
        (pl, pr), d = pads, dilation
        Lp = L + pl + pr
        OL = Lp - d * (k - 1)
        xl = x.transpose(0, 2, 1)                          # (N, L, C): free for channels-last x
        if pl or pr:
            X = xp.zeros((N, Lp, C), dtype=x.dtype)
            X[:, pl:pl + L] = xl
        else:
            X = xp.ascontiguousarray(xl)
        X = X.reshape(N * Lp, C)
        M = N * Lp - d * (k - 1)                           # rows whose window fits in X
        y = xp.empty((N * Lp, O), dtype=x.dtype)
        Wt = w.transpose(2, 1, 0)                          # Wt[i] = W_i^T, (C, O)
        xp.matmul(X[:M], Wt[0], out=y[:M])
        for i in range(1, k):
            y[:M] += X[i * d:i * d + M] @ Wt[i]
        y = y.reshape(N, Lp, O)[:, :OL]                    # drop the rows that straddle sequences
        if b is not None:
            y = _add_bias(xp, y, b)
        ctx.X = X
        ctx.geom = (N, C, L, Lp, OL, M, pl, d)
        return y.transpose(0, 2, 1)                        # (N, O, OL), channels innermost

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        (w, _), X = ctx.saved, ctx.X
        N, C, L, Lp, OL, M, pl, d = ctx.geom
        O, _, k = w.shape
        nx, nw, nb = ctx.needs_input_grad[:3]
        G = xp.zeros((N, Lp, O), dtype=g.dtype)
        G[:, :OL] = g.transpose(0, 2, 1)                   # zero on the dropped rows
        G = G.reshape(N * Lp, O)[:M]
        gb = g.sum(axis=(0, 2)) if nb else None
        gw = gx = None
        if nw:
            gw = xp.stack([G.T @ X[i * d:i * d + M] for i in range(k)], axis=2)   # (O, C, k)
        if nx:
            gX = xp.zeros((N * Lp, C), dtype=g.dtype)
            for i in range(k):
                gX[i * d:i * d + M] += G @ w[:, :, i]
            gx = gX.reshape(N, Lp, C)[:, pl:pl + L].transpose(0, 2, 1)
        return gx, gw, gb, None, None

    @staticmethod
    def composed(x, w, b, pads, dilation):
        """The same convolution from differentiable ops (see ConvNd.composed)."""
        return ConvNd.composed(x, w, b, (1, 1), ((0, 0), pads), (1, dilation), 1)


def _channels_innermost(x):
    """True when x (N, C, L) has its channels innermost in memory: of its axes longer than 1,
    C has the smallest stride."""
    big = [a for a in range(3) if x.shape[a] > 1]
    return x.shape[1] > 1 and min(big, key=lambda a: abs(x.strides[a])) == 1


# ---------------------------------------------------------------- functional form
def _conv_pads(padding, k, dilation, stride, n, name):
    """padding (int, tuple, 'valid' or 'same') -> ((before, after), ...) per spatial dim."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride})")
            pads = []
            for kk, d in zip(k, dilation):
                total = d * (kk - 1)
                pads.append((total // 2, total - total // 2))  # extra on the right, as torch
            return tuple(pads)
        raise ValueError(f"{name}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    p = _ntuple(padding, n, f"{name}: padding")
    if any(v < 0 for v in p):
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    return tuple((v, v) for v in p)


def conv_nd(x, weight, bias, stride, padding, dilation, groups, n, name):
    """Shared checks of conv1d / conv2d and the Conv layers; `name` is the one errors show."""
    dims = "H, W" if n == 2 else "L"
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    groups = check_size(name, "groups", groups, minimum=1)
    O, Cg = weight.shape[0], weight.shape[1]
    C = Cg * groups
    if x.ndim not in (n + 1, n + 2) or x.shape[-n - 1] != C:
        raise ValueError(f"{name}: expected input (N, {C}, {dims}) or ({C}, {dims}), got shape {x.shape}")
    if weight.ndim != n + 2:
        raise ValueError(f"{name}: expected a {n + 2}-D weight (out, in/groups, kernel...), got {weight.shape}")
    if O % groups or (bias is not None and tuple(bias.shape) != (O,)):
        raise ValueError(f"{name}: weight {weight.shape} / bias {None if bias is None else bias.shape} "
                         f"do not fit groups={groups}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got {x.dtype}")
    # no silent promotion (float64 input x float32 weight would give float64), as in torch
    if x.dtype != weight.dtype:
        raise TypeError(f"{name}: input dtype {x.dtype} does not match the weight's dtype {weight.dtype} "
                        "(use .double()/.float() on the module or the input)")
    if bias is not None and bias.dtype != weight.dtype:
        raise TypeError(f"{name}: bias dtype {bias.dtype} does not match the weight's dtype {weight.dtype}")
    k = tuple(weight.shape[2:])
    stride = _ntuple(stride, n, f"{name}: stride")
    dilation = _ntuple(dilation, n, f"{name}: dilation")
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise ValueError(f"{name}: stride and dilation must be positive, got {stride} and {dilation}")
    pads = _conv_pads(padding, k, dilation, stride, n, name)
    spatial = x.shape[-n:]
    padded = tuple(s + a + b for s, (a, b) in zip(spatial, pads))
    eff = tuple(d * (kk - 1) + 1 for kk, d in zip(k, dilation))
    if any(e > p for e, p in zip(eff, padded)):
        raise ValueError(f"{name}: kernel size {k} (dilated to {eff}) is larger than the padded input "
                         f"{padded} (input shape {x.shape}, padding {padding})")
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x.unsqueeze(0)
    if n == 1 and stride == (1,) and groups == 1 and _channels_innermost(x.data):
        out = Conv1dShifted.apply(x, weight, bias, pads[0], dilation[0])   # a text CNN's conv
    else:
        if n == 1:
            stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
        out = ConvNd.apply(x, weight, bias, stride, pads, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv1d: input (N, C, L), weight (O, C/groups, k)."""
    return conv_nd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d: input (N, C, H, W), weight (O, C/groups, kh, kw)."""
    return conv_nd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


# ---------------------------------------------------------------- layers
class _ConvNd(Module):
    n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        super().__init__()
        name = type(self).__name__
        in_channels = check_size(name, "in_channels", in_channels)
        out_channels = check_size(name, "out_channels", out_channels)
        groups = check_size(name, "groups", groups, minimum=1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ntuple(kernel_size, self.n, f"{name}: kernel_size")
        self.stride = _ntuple(stride, self.n, f"{name}: stride")
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, self.n, f"{name}: padding")
        self.dilation = _ntuple(dilation, self.n, f"{name}: dilation")
        # checked here, not only when called (torch waits for the forward)
        if min(self.kernel_size + self.stride + self.dilation) < 1:
            raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got "
                             f"{self.kernel_size}, {self.stride} and {self.dilation}")
        if isinstance(self.padding, str):
            _conv_pads(self.padding, self.kernel_size, self.dilation, self.stride, self.n, name)
        elif min(self.padding) < 0:
            raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = init.parameter(*shape)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            self.bias = init.parameter(out_channels)
            init.fan_in_uniform_(self.bias, (in_channels // groups) * math.prod(self.kernel_size))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return conv_nd(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                       self.n, type(self).__name__)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self.n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True): input (N, C, L); weight (out, in/groups, k), as torch."""
    n = 1


class Conv2d(_ConvNd):
    """Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True): input (N, C, H, W); weight (out, in/groups, kh, kw), as torch."""
    n = 2



# ---------------------------------------------------------------- transposed convolution
def _dilate(x, axis, s):
    """s - 1 zeros between neighbours along `axis`: (.., L, ..) -> (.., (L-1)*s + 1, ..)."""
    if s == 1:
        return x
    L = x.shape[axis]
    widths = [0, 0] * (x.ndim + 1)
    widths[2 * (x.ndim - axis - 1) + 1] = s - 1          # pad the new axis after `axis` by s-1
    y = x.unsqueeze(axis + 1).pad(widths).reshape(x.shape[:axis] + (L * s,) + x.shape[axis + 1:])
    return y[(slice(None),) * axis + (slice(0, (L - 1) * s + 1),)]


def _pad_or_crop(x, axis, before, after):
    """Pad `axis` with zeros (a positive amount) or crop it (a negative one) on each side."""
    if before < 0 or after < 0:
        n = x.shape[axis]
        x = x[(slice(None),) * axis + (slice(max(-before, 0), n - max(-after, 0)),)]
        before, after = max(before, 0), max(after, 0)
    if before or after:
        widths = [0, 0] * x.ndim
        widths[2 * (x.ndim - axis - 1):2 * (x.ndim - axis)] = [before, after]
        x = x.pad(widths)
    return x


def conv_transpose_nd(x, weight, bias, stride, padding, output_padding, groups, dilation, n, name):
    """The gradient of a convolution with respect to its input, as a convolution: put (stride - 1)
    zeros between the input's entries, pad each side by dilation*(k-1) - padding (plus
    output_padding on the far side), and convolve (stride 1) with the kernel flipped and its in / out
    channels swapped. weight is (in, out/groups, k...), as torch."""
    dims = "H, W" if n == 2 else "L"
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    if weight.ndim != n + 2:
        raise ValueError(f"{name}: expected a {n + 2}-D weight (in, out/groups, kernel...), got {weight.shape}")
    C, Og = weight.shape[0], weight.shape[1]
    if x.ndim not in (n + 1, n + 2) or x.shape[-n - 1] != C:
        raise ValueError(f"{name}: expected input (N, {C}, {dims}) or ({C}, {dims}) for weight {weight.shape}, "
                         f"got shape {x.shape}")
    if C % groups or (bias is not None and tuple(bias.shape) != (Og * groups,)):
        raise ValueError(f"{name}: weight {weight.shape} / bias {None if bias is None else bias.shape} "
                         f"do not fit groups={groups}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got {x.dtype}")
    k = tuple(weight.shape[2:])
    s = _ntuple(stride, n, f"{name}: stride")
    p = _ntuple(padding, n, f"{name}: padding")
    op = _ntuple(output_padding, n, f"{name}: output_padding")
    d = _ntuple(dilation, n, f"{name}: dilation")
    if min(s + d) < 1 or min(p + op) < 0:
        raise ValueError(f"{name}: stride and dilation must be positive and padding, output_padding "
                         f"non-negative, got {s}, {d}, {p}, {op}")
    if any(o >= max(ss, dd) for o, ss, dd in zip(op, s, d)):
        raise ValueError(f"{name}: output_padding {op} must be smaller than either stride {s} or dilation {d}")
    spatial = x.shape[-n:]
    out = tuple((L - 1) * ss - 2 * pp + dd * (kk - 1) + oo + 1
                for L, ss, pp, dd, kk, oo in zip(spatial, s, p, d, k, op))
    if min(out) < 1:
        raise ValueError(f"{name}: output size {out} is too small (input shape {x.shape}, kernel {k}, "
                         f"stride {s}, padding {p}, dilation {d})")
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x.unsqueeze(0)
    for i in range(n):
        a = 2 + i
        x = _dilate(x, a, s[i])
        q = d[i] * (k[i] - 1) - p[i]
        x = _pad_or_crop(x, a, q, q + op[i])
    # (in, out/g, k...) -> (out, in/g, k...), kernel flipped
    w = weight.reshape((groups, C // groups, Og) + k).transpose(1, 2).reshape((Og * groups, C // groups) + k)
    w = w.flip(tuple(range(2, 2 + n)))
    y = conv_nd(x, w, bias, 1, 0, d, groups, n, name)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose1d: input (N, C, L), weight (C, out/groups, k)."""
    return conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                             "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose2d: input (N, C, H, W), weight (C, out/groups, kh, kw)."""
    return conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                             "conv_transpose2d")


class _ConvTransposeNd(Module):
    n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1):
        super().__init__()
        name = type(self).__name__
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ntuple(kernel_size, self.n, f"{name}: kernel_size")
        self.stride = _ntuple(stride, self.n, f"{name}: stride")
        self.padding = _ntuple(padding, self.n, f"{name}: padding")
        self.output_padding = _ntuple(output_padding, self.n, f"{name}: output_padding")
        self.dilation = _ntuple(dilation, self.n, f"{name}: dilation")
        shape = (in_channels, out_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))   # fan_in from dim 1, as torch
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=np.float32))
            init.fan_in_uniform_(self.bias, (out_channels // groups) * math.prod(self.kernel_size))
        else:
            self.register_parameter("bias", None)

    def _output_padding(self, x, output_size):
        """output_padding that makes the output `output_size` (torch's forward(input, output_size))."""
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-self.n:]
        spatial = x.shape[-self.n:]
        op = []
        for i in range(self.n):
            least = ((spatial[i] - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            extra = size[i] - least
            if not 0 <= extra < max(self.stride[i], self.dilation[i]):
                raise ValueError(f"{type(self).__name__}: requested output size {tuple(size)} is not "
                                 f"reachable from input shape {x.shape} (dim {i}: {least} to "
                                 f"{least + max(self.stride[i], self.dilation[i]) - 1})")
            op.append(extra)
        return tuple(op)

    def forward(self, x, output_size=None):
        op = self._output_padding(x, output_size) if isinstance(x, Tensor) else self.output_padding
        return conv_transpose_nd(x, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                 self.dilation, self.n, type(self).__name__)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self.n:
            s += f", padding={self.padding}"
        if self.output_padding != (0,) * self.n:
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1,) * self.n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class ConvTranspose1d(_ConvTransposeNd):
    """ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
    groups=1, bias=True, dilation=1): weight (in, out/groups, k), as torch."""
    n = 1


class ConvTranspose2d(_ConvTransposeNd):
    """ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
    groups=1, bias=True, dilation=1): weight (in, out/groups, kh, kw), as torch."""
    n = 2
