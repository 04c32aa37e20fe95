"""Each fast path (nn/conv_fast.py, nn/pooling_fast.py) equals the plain form a student reads
in nn/conv.py / nn/pooling.py: outputs and every gradient, in float64, over shapes, options
and memory layouts. Each case also checks which fast Function ran, so a dispatch change that
skipped the path under test would fail here."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq.nn import conv, conv_fast, pooling, pooling_fast


def channels_last(a):
    """The same (N, C, ...) values stored with C innermost (an embedding's output transposed)."""
    perm = (0,) + tuple(range(2, a.ndim)) + (1,)
    return np.ascontiguousarray(a.transpose(perm)).transpose(tuple(int(i) for i in np.argsort(perm)))


def run(fn, arrays, g_seed=0):
    """fn(*float64 leaves) -> (output, gradients of every input) under one random upstream gradient."""
    ts = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(tg.Tensor(np.random.default_rng(g_seed).standard_normal(out.shape)))
    return out, [out.numpy()] + [t.grad.numpy() for t in ts]


def assert_same(fast, plain):
    assert len(fast) == len(plain)
    for what, a, b in zip(["output"] + [f"gradient {i}" for i in range(len(fast) - 1)], fast, plain):
        assert a.shape == b.shape, what
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=what)


# ---------------------------------------------------------------- convolution
# (N, C, H, W, O, k, stride, padding, dilation, groups, layout, bias)
CONV2D = [
    (2, 3, 7, 8, 4, (3, 3), (1, 1), 1, (1, 1), 1, "nchw", True),
    (2, 4, 9, 7, 6, (3, 2), (2, 1), 2, (1, 2), 2, "nchw", False),
    (1, 6, 8, 8, 6, (2, 3), (1, 2), 0, (2, 1), 3, "nchw", True),
    (3, 3, 6, 9, 5, (3, 3), (2, 2), 1, (1, 1), 1, "channels_last", True),
    (2, 5, 7, 7, 2, (1, 4), (1, 3), 0, (1, 1), 1, "channels_last", False),
    (2, 2, 70, 70, 3, (3, 3), (1, 1), 0, (1, 1), 1, "nchw", True),            # long_dot's pieces
    (2, 2, 70, 70, 3, (3, 3), (1, 1), 0, (1, 1), 1, "channels_last", True),
]


@pytest.mark.parametrize("case", CONV2D, ids=lambda c: f"{c[10]}-k{c[5]}s{c[6]}p{c[7]}d{c[8]}g{c[9]}")
def test_conv2d_fast_equals_im2col(case):
    N, C, H, W, O, k, s, p, d, g, layout, bias = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C, H, W))
    x = channels_last(x) if layout == "channels_last" else x
    arrays = [x, rng.standard_normal((O, C // g) + k)] + ([rng.standard_normal(O)] if bias else [])
    pads = ((p, p), (p, p))
    fast_fn = lambda x, w, b=None: F.conv2d(x, w, b, s, p, d, g)  # noqa: E731
    out, fast = run(fast_fn, arrays)
    assert out._ctx.fn is conv_fast.ConvNd
    _, plain = run(lambda x, w, b=None: conv.im2col_conv(x, w, b, s, pads, d, g), arrays)
    assert_same(fast, plain)


# (N, C, L, O, k, stride, padding, dilation, groups, layout, expected Function)
CONV1D = [
    (2, 3, 11, 4, 3, 1, 1, 1, 1, "nchw", "ConvNd"),
    (3, 4, 12, 6, 2, 2, 0, 2, 2, "nchw", "ConvNd"),
    (2, 5, 10, 3, 4, 3, 2, 1, 1, "channels_last", "ConvNd"),                   # strided: no shift
    (2, 6, 9, 4, 3, 1, 0, 1, 1, "channels_last", "Conv1dShifted"),
    (3, 5, 13, 2, 4, 1, 2, 2, 1, "channels_last", "Conv1dShifted"),
    (1, 4, 7, 5, 1, 1, 0, 1, 1, "channels_last", "Conv1dShifted"),
    (2, 4, 8, 4, 3, 1, 1, 1, 2, "channels_last", "ConvNd"),                    # grouped: no shift
]


@pytest.mark.parametrize("case", CONV1D, ids=lambda c: f"{c[10]}-{c[9]}-k{c[4]}s{c[5]}p{c[6]}d{c[7]}g{c[8]}")
def test_conv1d_fast_equals_im2col(case):
    N, C, L, O, k, s, p, d, g, layout, expected = case
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, C, L))
    x = channels_last(x) if layout == "channels_last" else x
    arrays = [x, rng.standard_normal((O, C // g, k)), rng.standard_normal(O)]
    out, fast = run(lambda x, w, b: F.conv1d(x, w, b, s, p, d, g), arrays)
    assert out._ctx.fn is getattr(conv_fast, expected)
    _, plain = run(lambda x, w, b: conv.im2col_conv(x, w, b, (s,), ((p, p),), (d,), g), arrays)
    assert_same(fast, plain)


def test_long_dot_equals_one_matmul_in_float64():
    """The weight gradient's pieced product is the plain product, whatever the remainder."""
    rng = np.random.default_rng(3)
    for G, M, L, N in [(1, 9, 8192, 4), (2, 5, 9001, 3), (1, 30, 10000, 200)]:
        a, b = rng.standard_normal((G, M, L)), rng.standard_normal((G, L, N))
        np.testing.assert_allclose(conv_fast.long_dot(a, b), a @ b, rtol=1e-12, atol=1e-10)


# ---------------------------------------------------------------- pooling
def pool_geometry(x_shape, k, s, p, d, ceil_mode):
    """pooling's 2-D arguments for a 2-D or 1-D (height 1) pooling."""
    n = len(k)
    shape4 = x_shape if n == 2 else x_shape[:2] + (1,) + x_shape[2:]
    k2, s2, d2 = (((1,) * (2 - n)) + k, ((1,) * (2 - n)) + s, ((1,) * (2 - n)) + d)
    p2 = ((0, 0),) * (2 - n) + tuple((v, v) for v in p)
    out, pads = pooling._geometry(shape4, k2, s2, p2, d2, ceil_mode)
    return shape4, k2, s2, p2, d2, out, pads


# (shape, kernel, stride, padding, dilation, ceil_mode, layout)
MAX_POOLS = [
    ((2, 3, 8, 12), (2, 2), (2, 2), (0, 0), (1, 1), False, "nchw"),           # side by side
    ((2, 3, 7, 9), (2, 2), (2, 2), (1, 1), (1, 1), True, "channels_last"),    # side by side, ceil
    ((2, 3, 9, 8), (1, 3), (1, 3), (0, 1), (1, 1), True, "nchw"),             # side by side 1x3
    ((2, 3, 9, 10), (3, 3), (2, 2), (1, 1), (1, 1), False, "nchw"),           # separable
    ((1, 4, 11, 9), (3, 2), (1, 2), (1, 0), (2, 1), True, "channels_last"),   # separable, dilated
    ((2, 2, 6, 6), (1, 1), (1, 1), (0, 0), (1, 1), False, "nchw"),            # a copy
    ((2, 3, 13), (3,), (2,), (1,), (1,), False, "nchw"),                      # 1-D
    ((2, 3, 12), (2,), (2,), (0,), (1,), True, "channels_last"),              # 1-D side by side
    ((3, 2, 14), (4,), (3,), (2,), (2,), True, "nchw"),                       # 1-D dilated
]


@pytest.mark.parametrize("case", MAX_POOLS, ids=lambda c: f"{len(c[1])}d-k{c[1]}s{c[2]}p{c[3]}d{c[4]}c{int(c[5])}")
def test_max_pool_fast_equals_window_max(case):
    shape, k, s, p, d, ceil_mode, layout = case
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)                 # continuous values: no ties to split
    x = channels_last(x) if layout == "channels_last" else x
    pool = F.max_pool2d if len(k) == 2 else F.max_pool1d
    out, fast = run(lambda t: pool(t, k, s, p, d, ceil_mode), [x])
    assert out._ctx.fn is pooling_fast.MaxPoolNd
    _, k2, s2, _, d2, oshape, pads = pool_geometry(shape, k, s, p, d, ceil_mode)
    _, plain = run(lambda t: pooling.max_pool_windows(t, k2, s2, pads, d2, oshape), [x])
    assert_same(fast, plain)


def test_the_max_pool_cases_cover_both_fast_forms():
    """Side-by-side windows and the separable passes are both among the cases above."""
    forms = set()
    for shape, k, s, p, d, ceil_mode, _ in MAX_POOLS:
        _, k2, s2, _, d2, _, _ = pool_geometry(shape, k, s, p, d, ceil_mode)
        forms.add(pooling_fast._fits_side_by_side(k2, s2, d2))
    assert forms == {True, False}


# (shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override, layout)
AVG_POOLS = [
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), False, True, None, "nchw"),
    ((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), True, False, None, "channels_last"),
    ((1, 2, 9, 7), (3, 2), (1, 2), (1, 1), True, True, None, "nchw"),
    ((2, 2, 6, 7), (2, 3), (2, 1), (0, 1), False, True, 5, "nchw"),
    ((2, 3, 11), (3,), (2,), (1,), True, False, None, "nchw"),
    ((2, 4, 10), (2,), (2,), (0,), False, True, None, "channels_last"),
]


@pytest.mark.parametrize("case", AVG_POOLS, ids=lambda c: f"{len(c[1])}d-k{c[1]}s{c[2]}p{c[3]}c{int(c[4])}i{int(c[5])}")
def test_avg_pool_fast_equals_window_mean(case):
    shape, k, s, p, ceil_mode, include_pad, override, layout = case
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    x = channels_last(x) if layout == "channels_last" else x
    if len(k) == 2:
        fn = lambda t: F.avg_pool2d(t, k, s, p, ceil_mode, include_pad, override)  # noqa: E731
    else:
        fn = lambda t: F.avg_pool1d(t, k, s, p, ceil_mode, include_pad)  # noqa: E731
    out, fast = run(fn, [x])
    assert out._ctx.fn is pooling_fast.AvgPoolNd
    shape4, k2, s2, p2, _, oshape, pads = pool_geometry(shape, k, s, p, (1,) * len(k), ceil_mode)
    div = pooling._divisor(np, x.dtype, shape4, k2, s2, p2, oshape, include_pad, override)
    _, plain = run(lambda t: pooling.avg_pool_windows(t, k2, s2, pads, oshape, div), [x])
    assert_same(fast, plain)


@pytest.mark.parametrize("L,out", [(12, 4), (10, 3), (7, 7), (5, 1), (9, 6)])
def test_adaptive_max_pool_fast_equals_window_max(L, out):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, L))
    res, fast = run(lambda t: F.adaptive_max_pool1d(t, out), [x])
    assert res._ctx.fn is pooling_fast.AdaptiveMaxPool1dFn
    _, plain = run(lambda t: pooling.adaptive_max_windows(t, out), [x])
    assert_same(fast, plain)
    x2 = rng.standard_normal((2, 2, L, L + 1))
    _, fast = run(lambda t: F.adaptive_max_pool2d(t, (out, 2)), [x2])
    _, plain = run(lambda t: pooling.adaptive_max_windows(
        pooling.adaptive_max_windows(t, 2).transpose(-1, -2), out).transpose(-1, -2), [x2])
    assert_same(fast, plain)


# ---------------------------------------------------------------- a conv's parts and picks
def tolerances(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)


def run_as(fn, arrays, dtype, g_seed=0):
    """run(), in `dtype` (the upstream gradient too)."""
    ts = [tg.Tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(tg.Tensor(np.random.default_rng(g_seed).standard_normal(out.shape).astype(dtype)))
    return out, [out.numpy()] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CONV2D[:5] + [(3, 2, 9, 5, 3, (2, 2), (1, 1), 1, (1, 1), 1, "nchw", True)],
                         ids=lambda c: f"{c[10]}-k{c[5]}s{c[6]}p{c[7]}d{c[8]}g{c[9]}")
def test_conv2d_window_matrix_in_parts_equals_im2col(case, dtype, monkeypatch):
    """Windows copied a few output rows (batch-last) or samples (channels-last) at a time, in
    forward and again in backward, give the one-matrix result."""
    monkeypatch.setattr(conv_fast, "WINDOW_PART_BYTES", 64)    # as many parts as there are rows
    parts = []
    position_parts = conv_fast._position_parts
    monkeypatch.setattr(conv_fast, "_position_parts", lambda *a: parts.append(position_parts(*a)) or parts[-1])
    N, C, H, W, O, k, s, p, d, g, layout, bias = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C, H, W))
    x = channels_last(x) if layout == "channels_last" else x
    arrays = [x, rng.standard_normal((O, C // g) + k)] + ([rng.standard_normal(O)] if bias else [])
    out, fast = run_as(lambda x, w, b=None: F.conv2d(x, w, b, s, p, d, g), arrays, dtype)
    assert out._ctx.fn is conv_fast.ConvNd
    rows = N if layout == "channels_last" else out.shape[2]
    assert [len(p) for p in parts] == [rows, rows] and rows > 1   # forward's, backward's
    _, plain = run_as(lambda x, w, b=None: conv.im2col_conv(x, w, b, s, ((p, p), (p, p)), d, g), arrays, dtype)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, **tolerances(dtype))


def test_conv_keeps_the_input_not_the_window_matrix():
    """Between forward and backward a conv holds its (padded) input, not the kh*kw-times larger
    window matrix; and an in-place change of an input whose memory it holds is caught."""
    rng = np.random.default_rng(8)
    x = tg.Tensor(channels_last(rng.standard_normal((2, 3, 9, 9))), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w)
    held = [v for v in vars(y._ctx).values() if isinstance(v, np.ndarray)]
    assert max(a.size for a in held) <= x.numel()
    with tg.no_grad():
        x.mul_(2)
    with pytest.raises(tg.autograd.AutogradError, match="ConvNd.*modified in place"):
        y.sum().backward()


def text_cnn_head(kind):
    """What follows a text CNN's conv: a max over time (one nonzero gradient per row), the
    same after a ReLU and dropout-like zeros, one picked step, or a max over two halves
    (two nonzeros per row: the dense products)."""
    def zeros_every_third_filter(y):
        return tg.Tensor((np.arange(y.shape[1]) % 3 > 0)[:, None].astype(y.dtype))
    return {"max": lambda y: F.adaptive_max_pool1d(y, 1),
            "relu-max-zeros": lambda y: F.adaptive_max_pool1d(F.relu(y), 1) * zeros_every_third_filter(y),
            "last-step": lambda y: y[:, :, -1],
            "two-halves": lambda y: F.adaptive_max_pool1d(y, 2)}[kind]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", ["max", "relu-max-zeros", "last-step", "two-halves"])
@pytest.mark.parametrize("k,p,d", [(3, 0, 1), (4, 2, 2), (1, 1, 1)], ids=lambda v: str(v))
def test_text_cnn_conv_with_picked_gradient_equals_im2col(k, p, d, kind, dtype, monkeypatch):
    """Conv1dShifted's weight gradient from the picked windows (one nonzero per row) equals the
    im2col convolution's, and a gradient with more nonzeros per row takes the dense products."""
    picks = []
    one_per_row = conv_fast._one_per_row
    monkeypatch.setattr(conv_fast, "_one_per_row", lambda xp, g: picks.append(one_per_row(xp, g)) or picks[-1])
    rng = np.random.default_rng(9)
    N, C, L, O = 3, 5, 14, 6
    arrays = [channels_last(rng.standard_normal((N, C, L))), rng.standard_normal((O, C, k)), rng.standard_normal(O)]
    head = text_cnn_head(kind)
    out, fast = run_as(lambda x, w, b: head(F.conv1d(x, w, b, 1, p, d)), arrays, dtype)
    assert len(picks) == 1 and (picks[0] is None) == (kind == "two-halves")
    _, plain = run_as(lambda x, w, b: head(conv.im2col_conv(x, w, b, (1,), ((p, p),), (d,), 1)), arrays, dtype)
    for a, b in zip(fast, plain):
        np.testing.assert_allclose(a, b, **tolerances(dtype))


def test_one_per_row_finds_each_rows_nonzero_or_declines():
    rng = np.random.default_rng(10)
    g = np.zeros((3, 4, 9))
    t = rng.integers(0, 9, (3, 4))
    v = rng.standard_normal((3, 4)) * (rng.random((3, 4)) < 0.6)
    g[np.arange(3)[:, None], np.arange(4), t] = v
    for layout in (g, channels_last(g)):
        found = conv_fast._one_per_row(np, layout)
        assert found is not None
        np.testing.assert_array_equal(found[1], v)
        np.testing.assert_array_equal(found[0][v != 0], t[v != 0])
    g[0, 0, (t[0, 0] + 1) % 9] = 1.0                     # a second nonzero in one row
    assert conv_fast._one_per_row(np, g) is None
    assert conv_fast._one_per_row(np, np.zeros((2, 2, conv_fast.MIN_PICKED_LENGTH - 1))) is None


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_cuda_conv_in_parts_and_text_cnn_conv_equal_cpu(dtype, monkeypatch):
    """The same paths through CuPy: windows in parts (both layouts), and the text CNN's conv
    under a max over time, on the GPU, equal the CPU's."""
    monkeypatch.setattr(conv_fast, "WINDOW_PART_BYTES", 64)
    monkeypatch.setattr(conv_fast, "GPU_WINDOW_PART_BYTES", 64)
    rng = np.random.default_rng(11)
    cases = [(lambda x, w: F.conv2d(x, w, None, 1, 1), rng.standard_normal((2, 3, 7, 6)), (4, 3, 3, 3)),
             (lambda x, w: F.conv2d(x, w, None, 2, 0), channels_last(rng.standard_normal((3, 2, 7, 7))), (5, 2, 2, 3)),
             (lambda x, w: F.adaptive_max_pool1d(F.relu(F.conv1d(x, w)), 1),
              channels_last(rng.standard_normal((3, 4, 12))), (6, 4, 3))]
    for fn, x, wshape in cases:
        w = rng.standard_normal(wshape)
        res = {}
        for dev in ("cpu", "cuda"):
            xt, wt = (tg.Tensor(a.astype(dtype), device=dev, requires_grad=True) for a in (x, w))
            out = fn(xt, wt)
            out.backward(tg.Tensor(np.ones(out.shape, dtype), device=dev))
            res[dev] = [out.numpy(), xt.grad.numpy(), wt.grad.numpy()]
        for a, b in zip(res["cuda"], res["cpu"]):
            np.testing.assert_allclose(a, b, **tolerances(dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("layout", ["ncl", "channels_last"])
@pytest.mark.parametrize("L,out", [(12, 4), (12, 1), (10, 3), (7, 7), (9, 6)])
def test_adaptive_max_pool_layouts_equal_window_max(L, out, layout, dtype):
    """Equal and unequal windows, on both layouts (a conv output has its channels innermost)."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, L))
    x = channels_last(x) if layout == "channels_last" else x
    res, fast = run_as(lambda t: F.adaptive_max_pool1d(t, out), [x], dtype)
    assert res._ctx.fn is pooling_fast.AdaptiveMaxPool1dFn
    _, plain = run_as(lambda t: pooling.adaptive_max_windows(t, out), [x], dtype)
    for a, b in zip(fast, plain):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layout", ["ncl", "channels_last"])
@pytest.mark.parametrize("L,out", [(12, 1), (12, 4), (10, 3)])
def test_adaptive_max_pool_ties_go_to_the_first_maximum_like_torch(L, out, layout):
    """Ties everywhere (post-ReLU zeros, -0.0 beside 0.0): one winner per window, the first."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    x = np.maximum(rng.integers(-2, 3, (2, 3, L)), 0).astype(np.float64)
    x[0, 0, :2] = [-0.0, 0.0]
    x = channels_last(x) if layout == "channels_last" else x
    t, tt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = F.adaptive_max_pool1d(t, out), torch.nn.functional.adaptive_max_pool1d(tt, out)
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(tg.Tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(np.signbit(y.numpy()), np.signbit(ty.detach().numpy()))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


@pytest.mark.parametrize("needs", [(True, False), (False, True)], ids=["input-only", "weight-only"])
def test_text_cnn_conv_picked_gradient_of_one_input(needs):
    """Only the input's gradient (a frozen conv) or only the weight's (a frozen embedding): the
    picked path computes just that one, equal to im2col's."""
    rng = np.random.default_rng(14)
    x, w, b = channels_last(rng.standard_normal((3, 5, 13))), rng.standard_normal((4, 5, 3)), rng.standard_normal(4)
    grads = []
    for conv_fn in (lambda x, w, b: F.conv1d(x, w, b, 1, 1),
                    lambda x, w, b: conv.im2col_conv(x, w, b, (1,), ((1, 1),), (1,), 1)):
        xt, wt = tg.Tensor(x, requires_grad=needs[0]), tg.Tensor(w, requires_grad=needs[1])
        y = conv_fn(xt, wt, tg.Tensor(b))
        F.adaptive_max_pool1d(F.relu(y), 1).sum().backward()
        grads.append([None if t.grad is None else t.grad.numpy() for t in (xt, wt)])
    assert [g is None for g in grads[0]] == [not n for n in needs]
    for a, b_ in zip(*grads):
        if a is not None:
            np.testing.assert_allclose(a, b_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layout", ["ncl", "channels_last"])
def test_adaptive_max_pool_a_nan_wins_its_window(layout):
    """A NaN is its window's maximum and takes the window's gradient (the maxima are checked for
    NaN before the max-then-first-equal reduction, which no NaN equals)."""
    x = np.arange(2 * 3 * 8, dtype=np.float64).reshape(2, 3, 8) % 5
    x[0, 1, 5] = np.nan
    x = channels_last(x) if layout == "channels_last" else x
    for out in (1, 2, 4, 3):                 # (out 3: windows [0, 3), [2, 6), [5, 8) overlap at 5)
        t = tg.Tensor(x, requires_grad=True)
        y = F.adaptive_max_pool1d(t, out)
        y.sum().backward()
        hits = 2 if out == 3 else 1
        assert np.isnan(y.numpy()[0, 1]).sum() == hits and np.isnan(y.numpy()).sum() == hits
        assert t.grad.numpy()[0, 1, 5] == hits and t.grad.numpy().sum() == 2 * 3 * out


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_scatter_add_rows_equals_add_at_to_the_bit(dtype):
    """Rounds of plain indexed adds (Embedding's backward) give np.add.at's result exactly: the
    repeated rows are added in the same order."""
    from tinygrad_seq import backend
    rng = np.random.default_rng(15)
    for n, shape in [(500, (7, 3)), (40, (50, 4, 2)), (1, (3, 2)), (0, (3, 2))]:
        rows = rng.integers(-shape[0], shape[0], n)   # (a negative row counts from the end)
        values = rng.standard_normal((n,) + shape[1:]).astype(dtype)
        start = rng.standard_normal(shape).astype(dtype)
        want = start.copy()
        np.add.at(want, rows, values)
        got = backend.scatter_add_rows(np, start.copy(), rows, values)
        np.testing.assert_array_equal(got, want)
