"""The fast path of nn/conv.py: the same convolution as `conv.im2col_conv`, as Functions whose
forward and backward are written on arrays (tests/test_fast_paths.py checks them equal).

ConvNd: pad the input once, expose every kernel window as a strided *view* (as_strided, no
copy), copy that view once into a (C*kh*kw) x (N*OH*OW) matrix and multiply it with the
(O, C*kh*kw) weight: one BLAS call makes every output. Backward: the same matmul transposed
gives the weight gradient (long_dot: in OpenBLAS-friendly pieces) and the window gradients;
col2im adds the window gradients back onto the input with one strided add per kernel offset.
Backward copies the window matrix again from the saved (padded) input rather than keeping
it from forward: it is kh*kw times the input's size, and kept, every conv's copy would be
alive at once between forward and backward.
It works in one of two memory layouts (BATCH_LAST, CHANNELS_LAST below) that keep those
copies fast.

Conv1dShifted: a stride-1 Conv1d over an input with its channels innermost (word vectors, as
in a text CNN) needs no window matrix at all, only k shifted matrix multiplies, so backward
keeps the input instead of a k-times-larger copy. When max-over-time pooling follows, the
output gradient has at most one nonzero per (sample, filter) row (_one_per_row): the weight
gradient is then a sum of those few windows instead of a product over every position, and the
input gradient a product over the positions that won some filter's max only.

`convolve` picks between them; nn/pooling_fast.py shares the layout helpers.
"""
import numpy as np

from ..autograd import Function
from . import conv as plain   # (out_size, and im2col_conv: what `composed` differentiates)


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


# The window matrix of a big convolution is made (forward) and made again (backward) in parts
# of about this many bytes, cut along the output positions, so that the kh*kw-times-larger
# copy of the input never exists whole: one part at a time is alive, as in a direct convolution.
# On a GPU each part costs a few dozen kernel launches, so the parts are far bigger there.
WINDOW_PART_BYTES, GPU_WINDOW_PART_BYTES = 2 << 20, 256 << 20


def _position_parts(win, channels_last):
    """Slices of the output positions to copy windows for, one part at a time: along the
    batch for channels-last windows (N, oh, ow, i, j, C), along the output rows for batch-last
    ones (C, i, j, oh, ow, N) - the outermost position axis, so a part's outputs are one block."""
    span = win.shape[0] if channels_last else win.shape[3]
    size = int(np.prod(win.shape)) * win.dtype.itemsize
    part = WINDOW_PART_BYTES if isinstance(win, np.ndarray) else GPU_WINDOW_PART_BYTES
    n = max(1, min(span, -(-size // part)))
    cuts = [span * p // n for p in range(n + 1)]
    return [slice(a, b) for a, b in zip(cuts, cuts[1:])]


def _copy_part(xp, win, s, channels_last):
    """The windows of positions part s as one contiguous array (rows as in ConvNd)."""
    return xp.ascontiguousarray(win[s] if channels_last else win[:, :, :, s])


def _per_part(xp, parts, shape, dtype, product, axis=0):
    """An array of `shape` made of product(s) for each part s, which fills shape's `axis` over
    s: one product is the whole array."""
    if len(parts) == 1:
        return product(parts[0]).reshape(shape)
    out = xp.empty(shape, dtype=dtype)
    for s in parts:
        at = (slice(None),) * axis + (s,)
        out[at] = product(s).reshape(out[at].shape)
    return out


class ConvNd(Function):
    """Cross-correlation of x (N, C, H, W) or (N, C, L) with weight (O, C/groups, kh, kw) or
    (O, C/groups, k), plus an optional bias (O,). `pads` is ((top, bottom), (left, right))."""

    @staticmethod
    def forward(ctx, x, w, b, stride, pads, dilation, groups):
        xp = ctx.xp
        x_in = x
        one_d = x.ndim == 3
        if one_d:  # (N, C, L) -> (N, C, 1, L): the 2-D code with a height of 1
            x, w = x[:, :, None, :], w[:, :, None, :]
        N, C, H, W = x.shape
        O, Cg, kh, kw = w.shape
        (pt, pb), (pl, pr) = pads
        OH = plain.out_size(H, kh, stride[0], pads[0], dilation[0])
        OW = plain.out_size(W, kw, stride[1], pads[1], dilation[1])
        perm = _pick_layout(x, groups)
        cl = perm == CHANNELS_LAST
        P = xp.ascontiguousarray(x.transpose(perm))       # free when x already has this layout
        if pt or pb or pl or pr:
            Pp = xp.zeros((P.shape[0], H + pt + pb, W + pl + pr, P.shape[3]), dtype=P.dtype)
            Pp[:, pt:pt + H, pl:pl + W, :] = P
            P = Pp
        win = _windows(xp, P, (kh, kw), (OH, OW), stride, dilation, cl)
        parts = _position_parts(win, cl)
        K, L = Cg * kh * kw, N * OH * OW
        dt = xp.result_type(P, w)
        if cl:
            wk = xp.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(O, K)   # rows (i, j, C)

            def product(s):   # the outputs of samples s: rows (n, oh, ow)
                return _copy_part(xp, win, s, cl).reshape((s.stop - s.start) * OH * OW, K) @ wk.T
            y = _per_part(xp, parts, (N, OH * OW, O), dt, product)
            y = _add_bias(xp, y.reshape(L, O), b)                              # (N*OH*OW, O)
            out = y.reshape(N, OH, OW, O).transpose(0, 3, 1, 2)
        else:
            wk = w.reshape(groups, O // groups, K)                             # rows (C, i, j)

            def product(s):   # the outputs of output rows s: columns (oh, ow, n)
                return wk @ _copy_part(xp, win, s, cl).reshape(groups, K, (s.stop - s.start) * OW * N)
            y = _per_part(xp, parts, (groups, O // groups, OH, OW * N), dt, product, axis=2)
            y = _add_bias(xp, y.reshape(O, L), None if b is None else b[:, None])   # (O, OH*OW*N)
            out = y.reshape(O, OH, OW, N).transpose(3, 0, 1, 2)
        ctx.wk = wk
        ctx.P = P if ctx.needs_input_grad[1] else None   # backward copies the windows again from it
        # (so that an in-place change of the weight, or of x when P is x's own memory, is caught)
        ctx.save_for_backward(*((w, x_in) if ctx.P is not None and xp.may_share_memory(P, x) else (w,)))
        ctx.xshape, ctx.wshape, ctx.pshape, ctx.perm = x.shape, w.shape, P.shape, perm
        ctx.out, ctx.stride, ctx.pads, ctx.dilation, ctx.groups, ctx.one_d = (OH, OW), stride, pads, dilation, groups, one_d
        return out[:, :, 0, :] if one_d else out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        wk = ctx.wk
        xshape, wshape, pshape, perm, (OH, OW) = ctx.xshape, ctx.wshape, ctx.pshape, ctx.perm, ctx.out
        stride, pads, dilation, G, one_d = ctx.stride, ctx.pads, ctx.dilation, ctx.groups, ctx.one_d
        cl = perm == CHANNELS_LAST
        if one_d:
            g = g[:, :, None, :]
        N, C, H, W = xshape
        O, Cg, kh, kw = wshape
        K, L = Cg * kh * kw, N * OH * OW
        nx, nw, nb = ctx.needs_input_grad[:3]
        gx = gw = gb = None
        if cl:
            g2 = xp.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(L, O)      # (N*OH*OW, O)
            gb = g2.sum(axis=0) if nb else None
            g2 = g2.reshape(N, OH * OW, O)
        else:
            g2 = xp.ascontiguousarray(g.transpose(1, 2, 3, 0)).reshape(G, O // G, L)   # (O, OH*OW*N)
            gb = g2.reshape(O, L).sum(axis=1) if nb else None
            g2 = g2.reshape(G, O // G, OH, OW * N)
        if nw or nx:
            win = _windows(xp, ctx.P, (kh, kw), (OH, OW), stride, dilation, cl) if nw else None
            if nx:
                gP = xp.zeros(pshape, dtype=g.dtype)
                gwin = _windows(xp, gP, (kh, kw), (OH, OW), stride, dilation, cl)
            for s in _position_parts(gwin if nx else win, cl):
                n = s.stop - s.start   # (batch items or output rows in this part)
                # the windows of this part again (forward kept only P); the window gradients
                # (same shape) are then written into their memory, not a new array
                cols = _copy_part(xp, win, s, cl) if nw else None
                if cl:
                    gs = g2[s].reshape(n * OH * OW, O)                                     # rows (n, oh, ow)
                    if nw:
                        part = long_dot(gs.T[None], cols.reshape(1, n * OH * OW, K))[0]
                        gw = part if gw is None else gw + part
                    if nx:
                        gcols = xp.matmul(gs, wk, out=None if cols is None else cols.reshape(n * OH * OW, K))
                        gcols = gcols.reshape((n, OH, OW, kh, kw, C))
                else:
                    gs = g2[:, :, s].reshape(G, O // G, n * OW * N)                       # columns (oh, ow, n)
                    if nw:  # as (cols @ gs^T)^T: BLAS then streams the big cols array in its stored order
                        part = long_dot(cols.reshape(G, K, n * OW * N), gs.transpose(0, 2, 1)).transpose(0, 2, 1)
                        gw = part if gw is None else gw + part
                    if nx:
                        into = None if cols is None else cols.reshape(G, K, n * OW * N)
                        gcols = xp.matmul(wk.transpose(0, 2, 1), gs, out=into)
                        gcols = gcols.reshape((C, kh, kw, n, OW, N))
                del cols
                if nx:
                    # col2im: each kernel offset adds its slab of window gradients onto the (padded,
                    # permuted) input; within one offset no two outputs touch the same input cell
                    gv = gwin[s] if cl else gwin[:, :, :, s]
                    for i in range(kh):
                        for j in range(kw):
                            at = _kernel_offset(i, j, cl)
                            gv[at] += gcols[at]
        if nw:
            gw = gw.reshape(O, kh, kw, Cg).transpose(0, 3, 1, 2) if cl else gw.reshape(wshape)
            if one_d:
                gw = gw[:, :, 0, :]
        if nx:
            (pt, _), (pl, _) = pads
            gx = gP[:, pt:pt + H, pl:pl + W, :].transpose(tuple(int(a) for a in np.argsort(perm)))
            if one_d:
                gx = gx[:, :, 0, :]
        return gx, gw, gb, None, None, None, None

    @staticmethod
    def composed(x, w, b, stride, pads, dilation, groups):
        """The same convolution from differentiable ops (what create_graph differentiates)."""
        if x.ndim == 3:   # (forward's arguments carry a height of 1 for a 1-D input)
            stride, pads, dilation = stride[1:], pads[1:], dilation[1:]
        return plain.im2col_conv(x, w, b, stride, pads, dilation, groups)


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
        ctx.N, ctx.C, ctx.L, ctx.Lp, ctx.OL, ctx.M, ctx.pl, ctx.d = N, C, L, Lp, OL, M, pl, d   # sizes above
        return y.transpose(0, 2, 1)                        # (N, O, OL), channels innermost

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        (w, _), X = ctx.saved_tensors, ctx.X
        N, C, L, Lp, OL, M, pl, d = ctx.N, ctx.C, ctx.L, ctx.Lp, ctx.OL, ctx.M, ctx.pl, ctx.d
        O, _, k = w.shape
        nx, nw, nb = ctx.needs_input_grad[:3]
        # (where, value) of each row's one nonzero. Host only: the test reads the gradient, which
        # on a GPU would make the step wait for the device, where the dense products are cheap
        picked = _one_per_row(xp, g) if (nw or nx) and xp is np else None
        gx = gw = gb = None
        if nb:
            gb = picked[1].sum(axis=0) if picked is not None else g.sum(axis=(0, 2))
        if picked is not None:
            if nw:
                gw = _picked_windows_grad(xp, X, *picked, Lp, k, d)
            if nx:
                gX = _picked_rows_grad(xp, w, *picked, Lp, d, N * Lp)
        elif nw or nx:
            G = xp.zeros((N, Lp, O), dtype=g.dtype)
            G[:, :OL] = g.transpose(0, 2, 1)                   # zero on the dropped rows
            G = G.reshape(N * Lp, O)[:M]
            if nw:
                gw = xp.stack([G.T @ X[i * d:i * d + M] for i in range(k)], axis=2)   # (O, C, k)
            if nx:
                gX = xp.zeros((N * Lp, C), dtype=g.dtype)
                for i in range(k):
                    gX[i * d:i * d + M] += G @ w[:, :, i]
        if nx:
            gx = gX.reshape(N, Lp, C)[:, pl:pl + L].transpose(0, 2, 1)
        return gx, gw, gb, None, None

    @staticmethod
    def composed(x, w, b, pads, dilation):
        """The same convolution from differentiable ops (what create_graph differentiates)."""
        return plain.im2col_conv(x, w, b, (1,), (pads,), (dilation,), 1)


# A row-sparse output gradient pays off only over sequences at least this long (the dense
# products cost one multiply per position, the picked windows a gather per row)
MIN_PICKED_LENGTH = 8
PICKED_CHUNK = 1 << 19    # elements of gathered windows per step of _picked_windows_grad


def _one_per_row(xp, g):
    """When every row g[n, o, :] holds at most one nonzero (the gradient through a max over
    time, or through one picked time step): (t, v), that nonzero's position and value, both
    (N, O) (t is 0 and v is 0 in an all-zero row). Otherwise None: the gradient is dense."""
    N, O, T = g.shape
    if T < MIN_PICKED_LENGTH or g.size == 0:
        return None
    # walked in memory order (a conv output's gradient has its channels innermost): twice as fast
    gm, axis = (g.transpose(0, 2, 1), 1) if abs(g.strides[1]) < abs(g.strides[2]) else (g, 2)
    nonzero = gm != 0
    nonzeros = int(xp.count_nonzero(nonzero))
    if nonzeros > N * O:
        return None
    # the last nonzero of each row: the largest of position * nonzero (a max over small
    # integers is a plain reduction, several times faster than an argmax along the axis)
    steps = xp.arange(T, dtype=np.int16 if T < 2**15 else np.int64)
    t = (nonzero * (steps[:, None] if axis == 1 else steps)).max(axis=axis).astype(np.intp)
    v = xp.take_along_axis(g, t[:, :, None], axis=2)[:, :, 0]
    # every nonzero of g was picked exactly when the picked values hold as many nonzeros
    return (t, v) if int(xp.count_nonzero(v)) == nonzeros else None


def _picked_windows_grad(xp, X, t, v, Lp, k, d):
    """Weight gradient (O, C, k) from an output gradient with one nonzero v[n, o] per row, at
    output position t[n, o]: gw[o, :, i] = sum_n v[n, o] X[n * Lp + t[n, o] + i * d], a sum of N
    gathered windows per filter. X: (N * Lp, C), the stacked padded input of Conv1dShifted."""
    (N, O), C = t.shape, X.shape[1]
    rows = (xp.arange(N)[:, None] * Lp + t).T          # (O, N): each window's first row in X
    vt = v.T
    # zeros (dropout, a ReLU at or below 0) need no window: each filter's nonzeros first, then
    # only as many columns as the filter with the most nonzeros has
    n = int((vt != 0).sum(axis=1).max()) if O else 0
    if n < N:
        first = xp.argsort(vt == 0, axis=1)[:, :n]
        rows, vt = xp.take_along_axis(rows, first, axis=1), xp.take_along_axis(vt, first, axis=1)
    s0, s1 = X.strides
    windows = xp.lib.stride_tricks.as_strided(X, (X.shape[0] - d * (k - 1), k, C), (s0, d * s0, s1))
    out = xp.empty((O, 1, k * C), dtype=xp.result_type(v, X))
    step = max(1, PICKED_CHUNK // max(1, n * k * C))          # filters per gather: it stays in cache
    for o in range(0, O, step):
        part = windows[rows[o:o + step]]                 # (filters, n, k, C)
        xp.matmul(vt[o:o + step, None, :], part.reshape(part.shape[0], n, k * C), out=out[o:o + step])
    return out.reshape(O, k, C).transpose(0, 2, 1)


def _picked_rows_grad(xp, w, t, v, Lp, d, rows_total):
    """Input gradient (rows_total, C) of Conv1dShifted (rows as its X) from an output gradient
    with one nonzero v[n, o] per row, at position t[n, o]: only the rows of G that hold a
    nonzero (the positions that won some filter's max: about half of them) enter the products
    with the weights, added back at each kernel offset."""
    O, C, k = w.shape
    n, o = xp.nonzero(v)
    rows, inv = xp.unique(n * Lp + t[n, o], return_inverse=True)
    Gc = xp.zeros((rows.size, O), dtype=v.dtype)
    Gc[inv.reshape(-1), o] = v[n, o]                    # one (n, o) per entry: no two writes meet
    gX = xp.zeros((rows_total, C), dtype=xp.result_type(v, w))
    for i in range(k):                                  # rows are distinct: a plain indexed add
        gX[rows + i * d] += Gc @ w[:, :, i]
    return gX


def _channels_innermost(x):
    """True when x (N, C, L) has its channels innermost in memory: of its axes longer than 1,
    C has the smallest stride."""
    big = [a for a in range(3) if x.shape[a] > 1]
    return x.shape[1] > 1 and min(big, key=lambda a: abs(x.strides[a])) == 1


def convolve(x, weight, bias, stride, pads, dilation, groups):
    """conv.im2col_conv's convolution of a batched, checked input (N, C, L) or (N, C, H, W),
    by the fastest Function that fits."""
    if x.ndim == 3 and stride == (1,) and groups == 1 and _channels_innermost(x.array):
        return Conv1dShifted.apply(x, weight, bias, pads[0], dilation[0])   # a text CNN's conv
    if x.ndim == 3:
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    return ConvNd.apply(x, weight, bias, stride, pads, dilation, groups)
