"""The engine's shortcuts give what the plain steps give: numbers as cached 0-d arrays in
operators and ops (autograd.const), the short path of backward for common nodes, chunk /
split / unbind by slicing, bare version counters, MatMul's matrix @ matrix gradients, and the
composed RNN loop with the collector paused."""
import gc

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq import autograd
from tinygrad_seq.autograd import AutogradError, Function, const


# ---------------------------------------------------------------- numbers as 0-d arrays
VALUES = [0.5, 0.9, -3.25, 1 / 3, 1e-8, 3, -7, 2 ** 40, 10 ** 40, 1e300, -0.0, 0.0, 0,
          float("inf"), float("nan")]
OPS = {"add": (lambda t, v: t + v, np.add), "radd": (lambda t, v: v + t, lambda a, v: v + a),
       "sub": (lambda t, v: t - v, np.subtract), "rsub": (lambda t, v: v - t, lambda a, v: v - a),
       "mul": (lambda t, v: t * v, np.multiply), "rmul": (lambda t, v: v * t, lambda a, v: v * a),
       "div": (lambda t, v: t / v, np.true_divide), "rdiv": (lambda t, v: v / t, lambda a, v: v / a)}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(OPS))
def test_number_operands_give_numpys_values_and_dtype(dtype, op):
    ours, numpys = OPS[op]
    a = np.array([0.1, -0.0, 2.5, -3.0, 1e4, np.inf, 60000.0], dtype=dtype)
    for v in VALUES:
        with np.errstate(all="ignore"):
            want = numpys(a, v)   # NumPy with the Python number: the plain path
            got = ours(tg.Tensor(a), v).array
        assert got.dtype == want.dtype == a.dtype, (op, v)
        np.testing.assert_array_equal(got, want, err_msg=f"{op} {v!r}")
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=f"{op} {v!r} sign")


def test_const_is_cached_read_only_and_only_for_numpy_floats():
    a = np.ones(3, np.float32)
    c = const(0.5, a)
    assert c.shape == () and c.dtype == np.float32 and c is const(0.5, a)
    assert not c.flags.writeable
    assert const(0.5, np.ones(3, np.float64)).dtype == np.float64
    assert const(0.5, np.ones(3, np.int64)) == 0.5 and isinstance(const(0.5, np.ones(3, np.int64)), float)
    assert const(-0.0, a) == 0 and isinstance(const(-0.0, a), float)   # zero keeps its sign as a number
    assert isinstance(const(1e300, a), float)                          # too big for float32: the number
    assert isinstance(const(10 ** 400, np.ones(2)), int)               # too big for any float: the number
    t = tg.Tensor(a)
    assert const(0.5, t) == 0.5   # not an array: the number itself


def test_number_operand_gradients_and_second_order():
    x = tg.Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    y = ((x * 0.9 + 0.5) / 4.0 - 1.5).tanh()
    (g,) = tg.autograd.grad(y.sum(), x, create_graph=True)
    h = 0.9 / 4.0 * (1 - np.tanh((x.array * 0.9 + 0.5) / 4.0 - 1.5) ** 2)
    np.testing.assert_allclose(g.array, h, rtol=1e-12)
    g.sum().backward()   # the saved constants come back as constant tensors under create_graph
    assert x.grad is not None and np.all(np.isfinite(x.grad.array))


def test_sigmoid_and_tanh_keep_half_precision_and_values():
    a = np.linspace(-4, 4, 9).astype(np.float16)
    x = tg.Tensor(a, requires_grad=True)
    s = x.sigmoid()
    assert s.dtype == np.float16
    np.testing.assert_array_equal(s.array, np.float16(0.5) * np.tanh(np.float16(0.5) * a) + np.float16(0.5))
    s.sum().backward()
    y = s.array
    np.testing.assert_array_equal(x.grad.array, np.ones_like(y) * y * (1 - y))


# ---------------------------------------------------------------- the short path of backward
def graph(x, w):
    """Nodes of every kind: one and two inputs, broadcasting, leaves, chunk pieces, matmul."""
    z = x @ w + 0.25
    a, b, c, d = z.chunk(4, dim=1)
    h = a.sigmoid() * b.tanh() + c * (d - x[:, :1]) - 2.0 * a
    return (h * h).sum() + (h / 3.0).tanh().sum() + (z.mean(0) * w[0]).sum()


def grads(fn, seed=0):
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal((5, 6)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((6, 8)), requires_grad=True)
    fn(x, w).backward()
    return x.grad.array, w.grad.array


def test_short_path_equals_the_general_steps():
    fast = grads(graph)
    with autograd.detect_anomaly():   # anomaly mode takes the general steps for every node
        plain = grads(graph)
    for f, p in zip(fast, plain):
        np.testing.assert_array_equal(f, p)


def test_short_path_leaves_hooks_and_retained_grads_to_the_general_steps():
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = x * 2.0
    m = y.tanh()
    m.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.array.copy()) or g * 3)
    (m * 1.5).sum().backward()
    dm = np.full((3, 4), 1.5)
    np.testing.assert_allclose(m.grad.array, dm)
    np.testing.assert_allclose(seen[0], dm * (1 - np.tanh(2 * x.array) ** 2))
    np.testing.assert_allclose(x.grad.array, seen[0] * 3 * 2)


def test_short_path_still_checks_versions_and_release():
    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = (x * 1.0).tanh()     # saves its output: one bare counter at version 0
    assert isinstance(y._ctx.versions, np.ndarray)
    z = (y * 2.0).sum()
    with tg.no_grad():
        y.add_(1)
    with pytest.raises(AutogradError, match="Tanh: an input saved for backward was modified in place"):
        z.backward()
    w = (x * 1.0).tanh().sum()
    w.backward()
    with pytest.raises(AutogradError, match="backward through the graph a second time"):
        w.backward()


def test_two_saved_inputs_and_index_versions_are_checked():
    a = tg.Tensor(np.ones(3), requires_grad=True) * 1.0
    b = tg.Tensor(np.ones(3), requires_grad=True) * 1.0
    p = a * b
    assert isinstance(p._ctx.versions, tuple) and len(p._ctx.versions) == 4
    with tg.no_grad():
        b.mul_(2)
    with pytest.raises(AutogradError, match="Mul: an input saved"):
        p.sum().backward()

    class SaveOut(Function):
        @staticmethod
        def forward(ctx, x):
            out = x * 2
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    x = tg.Tensor(np.ones(3), requires_grad=True)
    idx = tg.Tensor(np.array([0, 2]))
    y = SaveOut.apply(x)
    autograd.add_saved_versions(y._ctx, [idx])   # a bare counter, then one more pair
    assert len(y._ctx.versions) == 4
    with tg.no_grad():
        idx.add_(0)
    with pytest.raises(AutogradError, match="SaveOut: an input saved"):
        y.sum().backward()


def test_outputs_that_get_no_gradient_get_zeros_of_their_dtype():
    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, (x * 3).astype(np.float32)

        @staticmethod
        def backward(ctx, g1, g2):
            assert g2.dtype == np.float32 and not g2.any()
            return 2 * g1 + 3 * g2

    x = tg.Tensor(np.ones(3), requires_grad=True)
    a, b = Two.apply(x)
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.full(3, 2.0))


# ---------------------------------------------------------------- chunk / split / unbind
def test_pieces_are_views_with_torchs_sizes():
    torch = pytest.importorskip("torch")
    for n in range(0, 11):
        for k in range(1, 6):
            ours, theirs = tg.zeros(2, n), torch.zeros(2, n)
            assert [p.shape for p in ours.chunk(k, 1)] == [tuple(p.shape) for p in theirs.chunk(k, 1)]
            assert [p.shape for p in ours.split(k, 1)] == [tuple(p.shape) for p in theirs.split(k, 1)]
    x = tg.Tensor(np.arange(4.0))
    pieces = x.unbind(0)
    assert all(p.array.shape == () and isinstance(p.array, np.ndarray) for p in pieces)
    assert all(np.shares_memory(p.array, x.array) for p in pieces)
    pieces[2].fill_(9)
    assert x.array[2] == 9 and x._version == pieces[0]._version == 1


# ---------------------------------------------------------------- matmul
@pytest.mark.parametrize("na, nb", [(True, True), (True, False), (False, True)])
def test_matrix_matmul_gradients_equal_the_batched_ones(na, nb):
    rng = np.random.default_rng(2)
    a0, b0, g = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    a, b = tg.Tensor(a0, requires_grad=na), tg.Tensor(b0, requires_grad=nb)
    (a @ b).backward(tg.Tensor(g))
    a3, b3 = tg.Tensor(a0[None], requires_grad=na), tg.Tensor(b0[None], requires_grad=nb)
    (a3 @ b3).backward(tg.Tensor(g[None]))
    for t, t3 in ((a, a3), (b, b3)):
        if t.requires_grad:
            np.testing.assert_allclose(t.grad.array, t3.grad.array[0], rtol=1e-12)


# ---------------------------------------------------------------- the composed RNN loop
@pytest.mark.parametrize("enabled", [True, False])
def test_composed_rnn_forward_restores_the_collector(enabled):
    lstm = nn.LSTM(3, 4, fused=False)
    x = tg.Tensor(np.random.default_rng(3).standard_normal((5, 2, 3)).astype(np.float32))
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        out, _ = lstm(x)
        assert gc.isenabled() == enabled
    finally:
        gc.enable() if was else gc.disable()
    out.sum().backward()
    assert lstm.weight_hh_l0.grad is not None
