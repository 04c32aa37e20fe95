"""nn.functional: float64 gradchecks, parity with torch.nn.functional (outputs and every
gradient) on seeded random configurations, the fused/strided fast paths against readable
compositions of Tensor ops, and the error messages."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tests.conftest import torch, requires_torch, assert_close


def arr(rng, *shape):
    return rng.standard_normal(shape)


def parity(ours, theirs, arrays, rtol=1e-7, atol=1e-9, seed=0):
    """ours(*tinygrad tensors) vs theirs(*torch tensors) on the same arrays (float64 ones require
    grad; integer ones are int64 indices): the outputs, then every input's gradient under the same
    random upstream gradient."""
    xs = [tg.Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    o, t = ours(*xs), theirs(*ts)
    assert_close(o, t, rtol, atol, "output")
    g = np.random.default_rng(seed).standard_normal(o.shape)
    o.backward(tg.Tensor(g))
    t.backward(torch.tensor(g))
    for i, (x, tt) in enumerate(zip(xs, ts)):
        if x.requires_grad:
            assert_close(x.grad, tt.grad, rtol, atol, f"gradient of input {i}")


def channels_last(a):
    """The same (N, C, ...) values stored with C innermost: how conv sees an embedding's
    (N, L, E) output after .transpose(1, 2). Exercises ConvNd's channels-last path."""
    perm = (0,) + tuple(range(2, a.ndim)) + (1,)
    inv = tuple(int(i) for i in np.argsort(perm))
    return np.ascontiguousarray(a.transpose(perm)).transpose(inv)


def tg_leaf(a):
    """A float64 leaf whose data keeps the memory layout of `a` (Tensor(a) would too; this just says so)."""
    t = tg.Tensor(a, requires_grad=True)
    assert t.array.strides == a.strides
    return t


# ---------------------------------------------------------------- conv
def conv_configs(n, count, dims):
    for seed in range(count):
        rng = np.random.default_rng(100 * dims + seed)
        N, C, O = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        k = tuple(int(v) for v in rng.integers(1, 4, dims))
        s = tuple(int(v) for v in rng.integers(1, 3, dims))
        d = tuple(int(v) for v in rng.integers(1, 3, dims))
        p = tuple(int(v) for v in rng.integers(0, 3, dims))
        size = tuple(int((kk - 1) * dd + 1 + rng.integers(0, 4)) for kk, dd in zip(k, d))
        yield seed, rng, N, C, O, k, s, d, p, size


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("cfg", list(conv_configs(2, 4, 2)), ids=lambda c: f"cfg{c[0]}")
def test_conv2d_gradcheck(cfg, layout):
    seed, rng, N, C, O, k, s, d, p, size = cfg
    x = arr(rng, N, C, *size)
    if layout == "channels_last":
        x = channels_last(x)
    x, w, b = tg_leaf(x), tg_leaf(arr(rng, O, C, *k)), tg_leaf(arr(rng, O))
    assert tg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, s, p, d), [x, w, b])


@pytest.mark.parametrize("layout", ["ncl", "channels_last"])
def test_conv1d_gradcheck(layout):
    rng = np.random.default_rng(1)
    x = arr(rng, 2, 3, 9)
    if layout == "channels_last":
        x = channels_last(x)
    x, w, b = tg_leaf(x), tg_leaf(arr(rng, 4, 3, 3)), tg_leaf(arr(rng, 4))
    assert tg.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2), [x, w, b])


def test_conv2d_groups_and_same_padding_gradcheck():
    rng = np.random.default_rng(2)
    x, w = tg_leaf(arr(rng, 2, 4, 5, 4)), tg_leaf(arr(rng, 6, 2, 2, 3))
    assert tg.gradcheck(lambda x, w: F.conv2d(x, w, None, padding="same", groups=2), [x, w])


@requires_torch
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("layout", ["default", "channels_last"])
def test_conv_parity_with_torch(dims, layout):
    ours, theirs = (F.conv1d, torch.nn.functional.conv1d) if dims == 1 else (F.conv2d, torch.nn.functional.conv2d)
    for seed, rng, N, C, O, k, s, d, p, size in conv_configs(dims, 5, dims):
        x = arr(rng, N, C, *size)
        if layout == "channels_last":
            x = channels_last(x)
        parity(lambda x, w, b: ours(x, w, b, s, p, d), lambda x, w, b: theirs(x, w, b, s, p, d),
               [x, arr(rng, O, C, *k), arr(rng, O)])


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv_groups_and_string_padding_parity():
    rng = np.random.default_rng(3)
    x, w = arr(rng, 2, 6, 7, 6), arr(rng, 9, 2, 3, 2)
    parity(lambda x, w: F.conv2d(x, w, None, 1, "same", (2, 1), 3),
           lambda x, w: torch.nn.functional.conv2d(x, w, None, 1, "same", (2, 1), 3), [x, w])
    parity(lambda x, w: F.conv2d(x, w, None, (2, 1), "valid", 1, 3),
           lambda x, w: torch.nn.functional.conv2d(x, w, None, (2, 1), "valid", 1, 3), [x, w])
    x1, w1 = arr(rng, 2, 4, 9), arr(rng, 5, 4, 4)   # even kernel: 'same' pads one more on the right
    parity(lambda x, w: F.conv1d(x, w, padding="same"),
           lambda x, w: torch.nn.functional.conv1d(x, w, padding="same"), [x1, w1])


def conv2d_composed(x, w, b, stride, padding, dilation):
    """The readable definition: for every kernel offset, the strided input slice it sees times
    that offset's (O, C) weight, summed. Only Tensor ops (pad, slicing, permute, matmul)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    O, C, kh, kw = w.shape
    xp = x.pad((pw, pw, ph, ph))
    OH = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    OW = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = None
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * dh:i * dh + sh * (OH - 1) + 1:sh, j * dw:j * dw + sw * (OW - 1) + 1:sw]
            term = patch.permute(0, 2, 3, 1) @ w[:, :, i, j].T        # (N, OH, OW, O)
            out = term if out is None else out + term
    return out.permute(0, 3, 1, 2) + b.reshape(1, O, 1, 1)


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_im2col_conv_equals_composed_conv(layout):
    """The im2col + one-matmul fast path (both memory layouts) against conv2d_composed."""
    rng = np.random.default_rng(4)
    x = arr(rng, 3, 4, 8, 7)
    if layout == "channels_last":
        x = channels_last(x)
    w, b, g = arr(rng, 5, 4, 3, 2), arr(rng, 5), None
    results = []
    for fn in (lambda x, w, b: F.conv2d(x, w, b, (2, 1), (1, 2), (1, 2)),
               lambda x, w, b: conv2d_composed(x, w, b, (2, 1), (1, 2), (1, 2))):
        ts = [tg_leaf(x), tg.Tensor(w, requires_grad=True), tg.Tensor(b, requires_grad=True)]
        out = fn(*ts)
        g = np.random.default_rng(0).standard_normal(out.shape) if g is None else g
        out.backward(tg.Tensor(g))
        results.append([out.numpy()] + [t.grad.numpy() for t in ts])
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


SHIFTED_CASES = [(2, 3, 9, 4, 3, 0, 1), (3, 5, 11, 2, 4, 2, 2), (1, 4, 6, 3, 1, 0, 1), (2, 6, 8, 3, 4, "same", 1), (2, 3, 10, 2, 3, "same", 2)]


@pytest.mark.parametrize("case", SHIFTED_CASES, ids=lambda c: f"k{c[4]}p{c[5]}d{c[6]}")
def test_shifted_conv1d_gradcheck_and_equals_im2col(case, monkeypatch):
    """Stride-1 Conv1d on channels-innermost input (a text CNN's) takes Conv1dShifted, which
    keeps no window matrix: gradcheck it, and check outputs and every gradient against the
    im2col path on the same input."""
    from tinygrad_seq.nn import conv_fast as conv
    N, C, L, O, k, p, d = case
    rng = np.random.default_rng(15)
    x, w, b = channels_last(arr(rng, N, C, L)), arr(rng, O, C, k), arr(rng, O)
    fn = lambda x, w, b: F.conv1d(x, w, b, padding=p, dilation=d)  # noqa: E731
    assert fn(*[tg.Tensor(a) for a in (x, w, b)])._ctx is None       # (no grad: no node)
    ts = [tg_leaf(x), tg_leaf(w), tg_leaf(b)]
    assert fn(*ts)._ctx.fn is conv.Conv1dShifted
    assert tg.gradcheck(fn, ts)
    results = []
    for shifted in (True, False):
        if not shifted:   # the same input, seen as not channels-innermost: the im2col path
            monkeypatch.setattr(conv, "_channels_innermost", lambda a: False)
        ts = [tg_leaf(x), tg_leaf(w), tg_leaf(b)]
        out = fn(*ts)
        assert (out._ctx.fn is conv.Conv1dShifted) == shifted
        out.backward(tg.Tensor(np.random.default_rng(0).standard_normal(out.shape)))
        results.append([out.numpy()] + [t.grad.numpy() for t in ts])
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)


@requires_torch
def test_shifted_conv1d_parity_with_torch_float32():
    """The text CNN case itself: embedding output (N, L, E) transposed to (N, E, L)."""
    from tinygrad_seq.nn import conv_fast as conv
    rng = np.random.default_rng(16)
    for k, p in ((3, 0), (4, 1), (5, 2)):
        x = rng.standard_normal((4, 12, 8)).astype(np.float32).transpose(0, 2, 1)
        w, b = rng.standard_normal((6, 8, k)).astype(np.float32), rng.standard_normal(6).astype(np.float32)
        assert F.conv1d(tg.Tensor(x, requires_grad=True), tg.Tensor(w), padding=p)._ctx.fn is conv.Conv1dShifted
        parity(lambda x, w, b: F.conv1d(x, w, b, padding=p),
               lambda x, w, b: torch.nn.functional.conv1d(x, w, b, padding=p), [x, w, b], rtol=1e-4, atol=1e-4)


def test_long_dot_equals_one_matmul():
    """conv's weight-gradient product in 2048-long pieces (taken when the inner dimension is
    long and the result small) equals a plain matmul, remainder and strided inputs included."""
    from tinygrad_seq.nn.conv_fast import long_dot
    rng = np.random.default_rng(18)
    for G, M, L, N in [(1, 25, 9000, 16), (2, 3, 8192, 5), (1, 400, 9000, 32), (1, 4, 100, 3)]:
        a, b = rng.standard_normal((G, M, L)), rng.standard_normal((G, N, L)).transpose(0, 2, 1)
        np.testing.assert_allclose(long_dot(a, b), a @ b, rtol=1e-12, atol=1e-10)


@requires_torch
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_conv_weight_gradient_over_many_positions_parity(layout):
    """Enough output positions (N * OH * OW >= 8192) for the pieced weight-gradient product."""
    rng = np.random.default_rng(19)
    x = arr(rng, 2, 2, 70, 70)
    if layout == "channels_last":
        x = channels_last(x)
    parity(lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: torch.nn.functional.conv2d(x, w, b),
           [x, arr(rng, 3, 2, 5, 5), arr(rng, 3)])


def test_conv_output_keeps_values_in_any_layout_and_float32():
    rng = np.random.default_rng(5)
    x, w = arr(rng, 2, 3, 6, 6).astype(np.float32), arr(rng, 4, 3, 3, 3).astype(np.float32)
    a = F.conv2d(tg.Tensor(x), tg.Tensor(w))
    c = F.conv2d(tg.Tensor(channels_last(x)), tg.Tensor(w))
    assert a.dtype == np.float32 and c.dtype == np.float32
    np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-5, atol=1e-5)
    # a conv of a conv's (batch-last) output, and an unbatched (C, H, W) input
    twice = F.conv2d(a, tg.Tensor(arr(rng, 2, 4, 2, 2).astype(np.float32)))
    assert twice.shape == (2, 2, 3, 3)
    single = F.conv2d(tg.Tensor(x[0]), tg.Tensor(w))
    np.testing.assert_allclose(single.numpy(), a.numpy()[0], rtol=1e-5, atol=1e-6)


def test_conv_errors():
    x, w = tg.randn(2, 3, 5, 5), tg.randn(4, 3, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: expected input \(N, 3, H, W\) or \(3, H, W\), got shape \(2, 2, 5, 5\)"):
        F.conv2d(tg.randn(2, 2, 5, 5), w)
    with pytest.raises(ValueError, match=r"conv2d: expected input \(N, 3, H, W\)"):
        F.conv2d(tg.randn(5, 5), w)
    with pytest.raises(ValueError, match=r"conv2d: kernel size \(3, 3\) \(dilated to \(7, 7\)\) is larger than the padded input \(5, 5\)"):
        F.conv2d(x, w, dilation=3)
    with pytest.raises(ValueError, match=r"conv1d: kernel size \(7,\).*larger than the padded input \(6,\)"):
        F.conv1d(tg.randn(1, 2, 4), tg.randn(1, 2, 7), padding=1)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="stride must be an int or a tuple of 2 ints"):
        F.conv2d(x, w, stride=(1, 1, 1))
    with pytest.raises(TypeError, match="conv2d: expected a floating point input, got int64"):
        F.conv2d(tg.Tensor(np.zeros((1, 3, 4, 4), dtype=np.int64)), w)


# ---------------------------------------------------------------- pooling
POOL2D = [  # kernel, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False), (3, 2, 1, 1, False), ((2, 3), (1, 2), (1, 0), (2, 1), False),
    (3, 2, 1, 1, True), ((3, 2), 2, (1, 1), 1, True), (1, 2, 0, 1, False),
]


@pytest.mark.parametrize("cfg", POOL2D)
def test_max_pool2d_gradcheck(cfg):
    k, s, p, d, ceil = cfg
    x = tg_leaf(arr(np.random.default_rng(6), 2, 2, 7, 6))
    assert tg.gradcheck(lambda x: F.max_pool2d(x, k, s, p, d, ceil), [x])


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("cfg", [c for c in POOL2D if c[3] == 1])
def test_avg_pool2d_gradcheck(cfg, count_include_pad):
    k, s, p, _, ceil = cfg
    x = tg_leaf(arr(np.random.default_rng(7), 2, 2, 7, 6))
    assert tg.gradcheck(lambda x: F.avg_pool2d(x, k, s, p, ceil, count_include_pad), [x])


def test_pool1d_and_adaptive_gradcheck():
    x = tg_leaf(arr(np.random.default_rng(8), 2, 3, 11))
    assert tg.gradcheck(lambda x: F.max_pool1d(x, 3, 2, 1, dilation=2), [x])
    assert tg.gradcheck(lambda x: F.avg_pool1d(x, 4, 3, 2, ceil_mode=True, count_include_pad=False), [x])
    for out in (1, 3, 4):
        assert tg.gradcheck(lambda x: F.adaptive_max_pool1d(x, out), [x])


@requires_torch
@pytest.mark.parametrize("dims", [1, 2])
def test_pooling_parity_with_torch(dims):
    TF = torch.nn.functional
    mx, tmx = (F.max_pool1d, TF.max_pool1d) if dims == 1 else (F.max_pool2d, TF.max_pool2d)
    av, tav = (F.avg_pool1d, TF.avg_pool1d) if dims == 1 else (F.avg_pool2d, TF.avg_pool2d)
    for seed in range(6):
        rng = np.random.default_rng(200 + seed)
        k = tuple(int(v) for v in rng.integers(1, 4, dims))
        s = tuple(int(v) for v in rng.integers(1, 4, dims))
        p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
        d = tuple(int(v) for v in rng.integers(1, 3, dims))
        ceil, cip = bool(rng.integers(2)), bool(rng.integers(2))
        size = tuple(int((kk - 1) * dd + 1 + rng.integers(0, 5)) for kk, dd in zip(k, d))
        x = arr(rng, 2, 3, *size)
        if seed % 2:
            x = channels_last(x)
        parity(lambda x: mx(x, k, s, p, d, ceil), lambda x: tmx(x, k, s, p, d, ceil), [x])
        parity(lambda x: av(x, k, s, p, ceil, cip), lambda x: tav(x, k, s, p, ceil, cip), [x])
    x = arr(np.random.default_rng(9), 2, 3, 9, 8)
    parity(lambda x: F.avg_pool2d(x, 3, 2, 1, divisor_override=5),
           lambda x: TF.avg_pool2d(x, 3, 2, 1, divisor_override=5), [x])


@requires_torch
def test_max_pool_ties_go_to_the_first_maximum_like_torch():
    """Post-ReLU activations tie constantly (zeros): exactly one winner per window, the first
    in row-major order, as torch picks."""
    rng = np.random.default_rng(10)
    x = rng.integers(0, 2, (2, 3, 6, 6)).astype(np.float64)
    parity(lambda x: F.max_pool2d(x, 2), lambda x: torch.nn.functional.max_pool2d(x, 2), [x])
    parity(lambda x: F.max_pool2d(x, 3, 1, 1), lambda x: torch.nn.functional.max_pool2d(x, 3, 1, 1), [x])
    parity(lambda x: F.adaptive_max_pool1d(x, 1), lambda x: torch.nn.functional.adaptive_max_pool1d(x, 1),
           [x.reshape(2, 3, 36)])
    z = tg.zeros(1, 1, 2, 2, requires_grad=True, dtype=tg.float64)
    F.max_pool2d(z, 2).sum().backward()
    assert z.grad.numpy().ravel().tolist() == [1.0, 0.0, 0.0, 0.0]


@requires_torch
def test_adaptive_max_pool1d_parity():
    rng = np.random.default_rng(11)
    for L, out in [(10, 1), (10, 3), (7, 7), (9, 4), (5, 2)]:
        x = arr(rng, 2, 3, L)
        parity(lambda x: F.adaptive_max_pool1d(x, out),
               lambda x: torch.nn.functional.adaptive_max_pool1d(x, out), [x])


def test_separable_max_pool_equals_composed_max():
    """The two-pass (W then H) max pool against the readable definition: the max over a stack
    of every kernel offset's strided slice (no ties in random data)."""
    rng = np.random.default_rng(12)
    x = arr(rng, 2, 3, 9, 8)
    k, s, d = (3, 2), (2, 1), (1, 2)
    fast = tg.Tensor(x, requires_grad=True)
    ref = tg.Tensor(x, requires_grad=True)
    OH, OW = (9 - d[0] * (k[0] - 1) - 1) // s[0] + 1, (8 - d[1] * (k[1] - 1) - 1) // s[1] + 1
    y1 = F.max_pool2d(fast, k, s, 0, d)
    slices = [ref[:, :, i * d[0]:i * d[0] + s[0] * (OH - 1) + 1:s[0], j * d[1]:j * d[1] + s[1] * (OW - 1) + 1:s[1]]
              for i in range(k[0]) for j in range(k[1])]
    y2 = tg.stack(slices, 0).amax(dim=0)
    g = tg.Tensor(rng.standard_normal(y1.shape))
    y1.backward(g)
    y2.backward(g)
    np.testing.assert_allclose(y1.numpy(), y2.numpy())
    np.testing.assert_allclose(fast.grad.numpy(), ref.grad.numpy())


class _SeeGrad(tg.Function):
    """Identity that keeps the gradient arriving at it, to check its memory layout."""
    seen = None

    @staticmethod
    def forward(ctx, a):
        return a

    @staticmethod
    def backward(ctx, g):
        _SeeGrad.seen = g
        return g


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pool_gradient_keeps_the_input_layout(pool):
    """A conv's output is batch-last in memory; max pooling's input gradient must come back in
    that layout (so the conv backward needs no copy), whatever layout the incoming gradient has
    (a flatten's gradient is plain NCHW), and equal the NCHW computation."""
    rng = np.random.default_rng(13)
    x = arr(rng, 3, 4, 8, 6)
    batch_last = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    fn = (lambda t: F.max_pool2d(t, 2)) if pool == "max" else (lambda t: F.avg_pool2d(t, 2))
    g = rng.standard_normal((3, 4, 4, 3))
    grads = []
    for data in (x, batch_last):
        t = tg_leaf(data)
        fn(_SeeGrad.apply(t)).backward(tg.Tensor(g))
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    if pool == "max":
        order = tuple(sorted(range(4), key=lambda ax: -_SeeGrad.seen.strides[ax]))
        assert order == (1, 2, 3, 0)


@pytest.mark.parametrize("k", [(2, 2), (1, 2), (2, 1), (1, 3), (3, 1), (1, 4)])
def test_side_by_side_max_pool_equals_separable(k, monkeypatch):
    """Small windows with stride == kernel take _max_side_by_side; outputs, winners (ties
    included: small integers tie constantly) and gradients equal the separable path's,
    with ceil_mode's padded last windows too."""
    from tinygrad_seq.nn import pooling_fast as pooling
    rng = np.random.default_rng(17)
    for x in (rng.integers(0, 3, (2, 3, 8, 12)).astype(np.float64), arr(rng, 2, 3, 7, 9)):
        g = rng.standard_normal(F.max_pool2d(tg.Tensor(x), k, ceil_mode=True).shape)
        results = []
        for side_by_side in (True, False):
            if not side_by_side:   # every window then takes the separable path
                monkeypatch.setattr(pooling, "_fits_side_by_side", lambda k, stride, dilation: False)
            t = tg_leaf(x)
            y = F.max_pool2d(t, k, ceil_mode=True)
            y.backward(tg.Tensor(g))
            results.append((y.numpy(), t.grad.numpy()))
        np.testing.assert_array_equal(results[0][0], results[1][0])
        np.testing.assert_array_equal(results[0][1], results[1][1])


def test_pool_output_shapes_and_errors():
    x = tg.randn(2, 3, 7, 7)
    assert F.max_pool2d(x, 2).shape == (2, 3, 3, 3)
    assert F.max_pool2d(x, 2, ceil_mode=True).shape == (2, 3, 4, 4)
    assert F.avg_pool2d(x[0], 3, 1, 1).shape == (3, 7, 7)           # unbatched
    assert F.adaptive_max_pool1d(tg.randn(2, 5, 9), 1).shape == (2, 5, 1)
    with pytest.raises(ValueError, match=r"max_pool2d: kernel size \(9, 9\) is larger than the padded input \(7, 7\)"):
        F.max_pool2d(x, 9)
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) should be at most half of the kernel size \(3, 3\)"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"max_pool1d: expected input \(N, C, L\) or \(C, L\), got shape \(7,\)"):
        F.max_pool1d(tg.randn(7), 2)
    with pytest.raises(ValueError, match="divisor_override must be non-zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="adaptive_max_pool1d: output_size must be a non-negative int"):
        F.adaptive_max_pool1d(tg.randn(1, 2, 3), -1)
    assert F.adaptive_max_pool1d(tg.randn(1, 2, 3), 0).shape == (1, 2, 0)   # empty, as torch


# ---------------------------------------------------------------- linear, layer_norm, activations
def test_linear_gradcheck_and_composed_equivalence():
    rng = np.random.default_rng(13)
    x, w, b = tg_leaf(arr(rng, 2, 3, 4)), tg_leaf(arr(rng, 5, 4)), tg_leaf(arr(rng, 5))
    assert tg.gradcheck(F.linear, [x, w, b])
    assert tg.gradcheck(lambda x, w: F.linear(x, w), [tg_leaf(arr(rng, 4)), w])
    fused = F.linear(x, w, b)
    composed = x @ w.T + b
    np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-12)


@requires_torch
def test_linear_layer_norm_activation_parity():
    TF = torch.nn.functional
    rng = np.random.default_rng(14)
    parity(F.linear, TF.linear, [arr(rng, 3, 2, 4), arr(rng, 6, 4), arr(rng, 6)])
    parity(lambda x, w, b: F.layer_norm(x, (3, 4), w, b, 1e-3),
           lambda x, w, b: TF.layer_norm(x, (3, 4), w, b, 1e-3), [arr(rng, 2, 3, 4), arr(rng, 3, 4), arr(rng, 3, 4)])
    parity(lambda x: F.layer_norm(x, 4), lambda x: TF.layer_norm(x, (4,)), [arr(rng, 5, 4)])
    x = arr(rng, 3, 5)
    for ours, theirs in [(F.relu, TF.relu), (F.tanh, torch.tanh), (F.sigmoid, torch.sigmoid),
                         (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
                         (lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0)),
                         (lambda x: F.log_softmax(x, dim=1), lambda x: TF.log_softmax(x, dim=1)),
                         (lambda x: F.pad(x, (1, 2, 0, 1), value=0.5), lambda x: TF.pad(x, (1, 2, 0, 1), value=0.5))]:
        parity(ours, theirs, [x])


def test_layer_norm_gradcheck_and_composed_equivalence():
    rng = np.random.default_rng(15)
    x, w, b = tg_leaf(arr(rng, 3, 2, 4)), tg_leaf(arr(rng, 2, 4)), tg_leaf(arr(rng, 2, 4))
    assert tg.gradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), w, b), [x, w, b])
    assert tg.gradcheck(lambda x: F.layer_norm(x, 4, eps=0.1), [x])
    fused = F.layer_norm(x, (2, 4), w, b)
    mu = x.mean(dim=(1, 2), keepdim=True)
    composed = (x - mu) / (x.var(dim=(1, 2), keepdim=True, correction=0) + 1e-5).sqrt() * w + b
    np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match=r"layer_norm: expected input with trailing dims \(5,\)"):
        F.layer_norm(x, 5)


def test_softmax_implicit_dim_follows_torch_with_a_warning():
    x = tg.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(x)
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1.0, rtol=1e-6)


def test_linear_errors():
    with pytest.raises(ValueError, match=r"linear: expected input \(\*, 4\) for weight \(3, 4\) \(in_features=4\), got shape \(2, 5\)"):
        F.linear(tg.randn(2, 5), tg.randn(3, 4))
    with pytest.raises(ValueError, match="bias of shape"):
        F.linear(tg.randn(2, 4), tg.randn(3, 4), tg.randn(4))


# ---------------------------------------------------------------- embedding, one_hot, pad
def test_embedding_gradcheck_and_repeated_indices_accumulate():
    rng = np.random.default_rng(16)
    w = tg_leaf(arr(rng, 6, 3))
    idx = tg.Tensor(np.array([[0, 2, 2], [5, 2, 0]]))
    assert tg.gradcheck(lambda w: F.embedding(idx, w), [w])
    # (the padding row is looked up but, by design, gets no gradient, so gradcheck it unused)
    assert tg.gradcheck(lambda w: F.embedding(idx, w, padding_idx=4) * 2, [tg_leaf(arr(rng, 6, 3))])
    w.grad = None
    F.embedding(idx, w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy()[:, 0], [2, 0, 3, 0, 0, 1])
    w.grad = None
    F.embedding(idx, w, padding_idx=-4).sum().backward()      # -4 is row 2
    np.testing.assert_allclose(w.grad.numpy()[:, 0], [2, 0, 0, 0, 0, 1])


@requires_torch
def test_embedding_parity():
    rng = np.random.default_rng(17)
    idx = rng.integers(0, 7, (3, 5))
    parity(lambda w: F.embedding(tg.Tensor(idx), w, padding_idx=3),
           lambda w: torch.nn.functional.embedding(torch.tensor(idx), w, padding_idx=3), [arr(rng, 7, 4)])


def test_embedding_errors():
    w = tg.randn(5, 2)
    with pytest.raises(TypeError, match="embedding: expected an integer \\(int64\\) index tensor, got dtype float32"):
        F.embedding(tg.Tensor([0.0, 1.0]), w)
    with pytest.raises(IndexError, match=r"embedding: index 5 is out of range for num_embeddings=5 \(valid indices are 0..4\)"):
        F.embedding(tg.Tensor([0, 5]), w)
    with pytest.raises(IndexError, match="index -1 is out of range"):
        F.embedding(tg.Tensor([-1, 2]), w)


def test_one_hot_and_pad():
    oh = F.one_hot(tg.Tensor([[0, 2], [1, 2]]))
    assert oh.dtype == np.int64 and oh.shape == (2, 2, 3)
    assert oh.numpy().tolist() == [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 1]]]
    assert F.one_hot(tg.Tensor([1]), num_classes=4).numpy().tolist() == [[0, 1, 0, 0]]
    with pytest.raises(IndexError, match=r"one_hot: class values must be in \[0, 2\)"):
        F.one_hot(tg.Tensor([0, 2]), 2)
    with pytest.raises(TypeError, match="one_hot: expected an integer index Tensor"):
        F.one_hot(tg.Tensor([0.5]))
    x = tg_leaf(arr(np.random.default_rng(18), 2, 3))
    assert tg.gradcheck(lambda x: F.pad(x, (1, 1, 2, 0)), [x])
    with pytest.raises(ValueError, match="only mode='constant' is supported"):
        F.pad(x, (1, 1), mode="reflect")


# ---------------------------------------------------------------- dropout (functional)
def test_dropout_functional_modes():
    x = tg.ones(1000, requires_grad=True)
    assert F.dropout(x, 0.3, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    assert float(y.sum()) == 0.0
    y = F.dropout(x, 0.25)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)    # the same mask scales the gradient
    with pytest.raises(ValueError, match="dropout: probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_gradcheck_with_fixed_seed():
    x = tg_leaf(arr(np.random.default_rng(19), 4, 5))

    def f(x):
        tg.manual_seed(3)   # the same mask on every evaluation
        return F.dropout(x, 0.4)
    assert tg.gradcheck(f, [x])


def test_conv_backward_twice_with_retain_graph():
    """Conv's backward frees its im2col buffer early only when the graph is being released:
    with retain_graph=True a second backward still works and doubles the gradients."""
    rng = np.random.default_rng(14)
    x, w = tg_leaf(arr(rng, 2, 3, 6, 6)), tg_leaf(arr(rng, 4, 3, 3, 3))
    y = (F.conv2d(x, w, padding=1) ** 2).sum()
    y.backward(retain_graph=True)
    gx, gw = x.grad.numpy().copy(), w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * gx)
    np.testing.assert_allclose(w.grad.numpy(), 2 * gw)
    with pytest.raises(tg.AutogradError, match="second time"):
        y.backward()
