"""Functions with several outputs, and gradients of gradients: backward(create_graph=True),
autograd.grad, gradgradcheck over every op and layer, torch parity of Hessian-vector products."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tinygrad_seq.autograd import AutogradError, grad
from tinygrad_seq.gradcheck import GradcheckError, _flatten
from tests.conftest import requires_torch, torch

RNG = np.random.default_rng(0)


def T(*shape, requires_grad=True, low=None, high=None):
    a = RNG.standard_normal(shape) if low is None else RNG.uniform(low, high, shape)
    return tg.Tensor(a, requires_grad=requires_grad)


# ---------------------------------------------------------------- several outputs
SEEN = []   # the gradients SinCos.backward received


class SinCos(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x), np.cos(x)

    @staticmethod
    def backward(ctx, gs, gc):
        x, = ctx.saved_tensors
        SEEN.append((gs, gc))
        return gs * np.cos(x) - gc * np.sin(x)


def test_function_with_two_outputs_gets_one_gradient_per_output():
    x = T(5)
    s, c = SinCos.apply(x)
    assert isinstance(s, tg.Tensor) and s._ctx is c._ctx and (s._out, c._out) == (0, 1)
    (s * 2 + c * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(x.numpy()) - 3 * np.sin(x.numpy()))
    tg.gradcheck(lambda x: SinCos.apply(x), [x])


def test_an_unused_output_gets_zeros_or_none_when_not_materialized():
    x = T(4)
    s, c = SinCos.apply(x)
    SEEN.clear()
    s.sum().backward()
    np.testing.assert_array_equal(SEEN[0][1], np.zeros(4))       # zeros for c, made when needed
    np.testing.assert_allclose(x.grad.numpy(), np.cos(x.numpy()))

    class NoZeros(SinCos):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return SinCos.forward(ctx, x)

        @staticmethod
        def backward(ctx, gs, gc):
            assert gc is None
            x, = ctx.saved_tensors
            return gs * np.cos(x)
    x2 = T(4)
    s, _ = NoZeros.apply(x2)
    s.sum().backward()
    np.testing.assert_allclose(x2.grad.numpy(), np.cos(x2.numpy()))


def test_mark_non_differentiable_outputs_get_no_graph():
    class MaxWithIndex(tg.Function):
        @staticmethod
        def forward(ctx, x):
            i = x.argmax(axis=1)
            ctx.i, ctx.shape = i, x.shape
            ctx.mark_non_differentiable(i)
            return x.max(axis=1), i

        @staticmethod
        def backward(ctx, g, gi):
            out = np.zeros(ctx.shape)
            out[np.arange(ctx.shape[0]), ctx.i] = g
            return out
    x = T(3, 4)
    v, i = MaxWithIndex.apply(x)
    assert v.requires_grad and not i.requires_grad and i._ctx is None
    v.sum().backward()
    assert x.grad.numpy().sum() == 3 and (x.grad.numpy().argmax(axis=1) == i.numpy()).all()


def test_split_is_one_node_with_an_output_per_piece():
    x = T(6, 2)
    pieces = x.split([1, 2, 3])
    assert len({p._ctx for p in pieces}) == 1 and pieces[0]._ctx.n_out == 3
    (pieces[2] * 3).sum().backward()                  # the other pieces get zeros
    np.testing.assert_array_equal(x.grad.numpy(), np.r_[np.zeros((3, 2)), 3 * np.ones((3, 2))])


# ---------------------------------------------------------------- autograd.grad and create_graph
def test_grad_returns_gradients_without_touching_dot_grad():
    x, w = T(3), T(3)
    y = (x * w).sum()
    gx, gw = grad(y, [x, w])
    np.testing.assert_allclose(gx.numpy(), w.numpy())
    np.testing.assert_allclose(gw.numpy(), x.numpy())
    assert x.grad is None and w.grad is None and not gx.requires_grad


def test_grad_of_an_intermediate_and_unused_inputs():
    x, u = T(3), T(2)
    h = x.tanh()
    y = (h * h).sum()
    gh, = grad(y, h, retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), 2 * np.tanh(x.numpy()))
    with pytest.raises(AutogradError, match="input 1 .* was not used.*allow_unused=True"):
        grad(y, [x, u], retain_graph=True)
    gx, gu = grad(y, [x, u], allow_unused=True)
    assert gu is None and gx.shape == (3,)


def test_grad_outputs_weigh_non_scalar_outputs_and_are_checked():
    x = T(2, 3)
    y = x.exp()
    v = tg.Tensor(RNG.standard_normal((2, 3)))
    gx, = grad(y, x, grad_outputs=v, retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), v.numpy() * np.exp(x.numpy()))
    with pytest.raises(AutogradError, match="only for scalar outputs"):
        grad(y, x)
    with pytest.raises(AutogradError, match="every input must be a Tensor that requires grad"):
        grad(y.sum(), T(2, requires_grad=False))


def test_backward_create_graph_gives_grads_with_a_graph():
    x = T(4)
    y = (x ** 3).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g._ctx is not None
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    gg, = grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy())


def test_create_graph_accumulates_into_grad_out_of_place():
    x = T(3)
    (x * x).sum().backward(create_graph=True)
    first = x.grad
    (x * x).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.numpy())
    np.testing.assert_allclose(first.numpy(), 2 * x.numpy())     # the first .grad was not changed
    gg, = grad(x.grad.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 4 * np.ones(3))


@pytest.mark.parametrize("order", [3, 4])
def test_higher_derivatives_of_tanh_and_sigmoid_equal_their_closed_forms(order):
    x0 = np.linspace(-2.5, 2.5, 11)
    t, s = np.tanh(x0), 1 / (1 + np.exp(-x0))
    closed = {  # d^n/dx^n in terms of the function's value
        ("tanh", 3): -2 * (1 - t ** 2) * (1 - 3 * t ** 2),
        ("tanh", 4): 8 * t * (1 - t ** 2) * (2 - 3 * t ** 2),
        ("sigmoid", 3): s * (1 - s) * (1 - 6 * s + 6 * s ** 2),
        ("sigmoid", 4): s * (1 - s) * (1 - 2 * s) * (1 - 12 * s + 12 * s ** 2)}
    for name in ("tanh", "sigmoid"):
        x = tg.Tensor(x0, requires_grad=True)
        d = getattr(x, name)()
        for _ in range(order):
            d, = grad(d.sum(), x, create_graph=True)
        np.testing.assert_allclose(d.numpy(), closed[(name, order)], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- gradgradcheck over ops and layers
OPS = {
    "add/mul broadcast": (lambda a, b: a * b + a * a, [(3, 4), (4,)]),
    "sub/div": (lambda a, b: (a - b) / (b * b + 1), [(3, 4), (3, 4)]),
    "pow tensor": (lambda a, b: a.abs() ** b, [(3, 4), (4,)]),
    "rpow": (lambda a: 2 ** a, [(3, 4)]),
    "exp/log/sqrt": (lambda a: (a.exp() + 1).log().sqrt(), [(3, 4)]),
    "tanh/sigmoid": (lambda a: a.tanh() * a.sigmoid(), [(3, 4)]),
    "abs": (lambda a: a.abs() * a, [(3, 4)]),
    "relu/leaky": (lambda a: a.relu() * a + a.leaky_relu(0.1) ** 2, [(3, 4)]),
    "clip": (lambda a: a.clip(-0.5, 0.5) * a, [(3, 4)]),
    "maximum/minimum": (lambda a, b: a.maximum(b) * a.minimum(b), [(3, 4), (4,)]),
    "where": (lambda a, b: tg.where(a > 0, a * b, b * b), [(3, 4), (3, 4)]),
    "matmul": (lambda a, b: (a @ b) ** 2, [(3, 4), (4, 2)]),
    "matmul batched": (lambda a, b: (a @ b) ** 2, [(2, 3, 4), (4, 2)]),
    "matmul vector": (lambda a, b: (a @ b) ** 2, [(3, 4), (4,)]),
    "sum/mean": (lambda a: a.sum(dim=1) ** 2 + a.mean(dim=0).sum() ** 2, [(3, 4)]),
    "var/std": (lambda a: a.var(dim=1) * a.std(dim=0).sum(), [(3, 4)]),
    "max": (lambda a: a.amax(dim=1) ** 2, [(3, 4)]),
    "logsumexp": (lambda a: a.logsumexp(dim=1) ** 2, [(3, 4)]),
    "softmax": (lambda a: a.softmax(dim=-1) ** 2, [(3, 4)]),
    "log_softmax": (lambda a: a.log_softmax(dim=-1) ** 2, [(3, 4)]),
    "reshape/permute/transpose": (lambda a: a.reshape(4, 3).permute(1, 0).transpose(0, 1) ** 3, [(3, 4)]),
    "expand/unsqueeze": (lambda a: a.unsqueeze(0).expand(2, 3, 4) ** 3, [(3, 4)]),
    "getitem slice": (lambda a: a[1:, ::2] ** 3, [(3, 4)]),
    "getitem int array": (lambda a: a[[0, 0, 2]] ** 3, [(3, 4)]),
    "cat/stack": (lambda a, b: (tg.cat([a, b * a], dim=1) ** 2).sum() + (tg.stack([a, b]) ** 3).sum(), [(3, 4), (3, 4)]),
    "split/unbind/chunk": (lambda a: a.split([1, 3], dim=1)[1] ** 3 + a.unbind(1)[0].unsqueeze(1) * a.chunk(2, 1)[0].sum(),
                           [(3, 4)]),
    "pad": (lambda a: a.pad((1, 2)) ** 3, [(3, 4)]),
}


@pytest.mark.parametrize("name", list(OPS))
def test_gradgradcheck_ops(name):
    f, shapes = OPS[name]
    tg.gradgradcheck(f, [T(*s) for s in shapes])


def _layers():
    R = np.random.default_rng(1)
    c = lambda *s: tg.Tensor(R.uniform(0.5, 1.5, s))   # noqa: E731  (constants: weights, targets)
    cases = {
        "linear": (lambda x, w, b: F.linear(x, w, b).tanh(), [(3, 4), (2, 4), (2,)]),
        "conv1d stride/pad/dilation": (lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2).tanh(),
                                       [(2, 3, 9), (4, 3, 3), (4,)]),
        "conv1d groups": (lambda x, w: F.conv1d(x, w, groups=2).tanh(), [(2, 4, 6), (4, 2, 3)]),
        "conv2d": (lambda x, w, b: F.conv2d(x, w, b, padding=1, stride=(1, 2)).tanh(), [(1, 2, 5, 5), (3, 2, 3, 3), (3,)]),
        "max_pool2d": (lambda x: F.max_pool2d(x, 2).tanh() ** 2, [(1, 2, 4, 4)]),
        "max_pool1d overlapping": (lambda x: F.max_pool1d(x, 3, stride=2, padding=1).sigmoid(), [(2, 2, 7)]),
        "avg_pool2d": (lambda x: F.avg_pool2d(x, 2, padding=1, count_include_pad=False).tanh(), [(1, 2, 5, 5)]),
        "avg_pool1d": (lambda x: F.avg_pool1d(x, 3, stride=2).tanh(), [(2, 2, 7)]),
        "adaptive_max_pool1d": (lambda x: F.adaptive_max_pool1d(x, 3).tanh(), [(2, 3, 7)]),
        "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b).tanh(), [(3, 4), (4,), (4,)]),
        "embedding padding_idx": (lambda w: F.embedding(tg.tensor([[0, 2], [1, 2]]), w, padding_idx=1).tanh(),
                                  [(3, 4)]),
        "dropout": (lambda x: F.dropout(x, 0.5, training=True).tanh(), [(3, 4)]),
        "cross_entropy": (lambda x: F.cross_entropy(x, tg.tensor([0, 2, -100]), ignore_index=-100), [(3, 4)]),
        "cross_entropy 3d smoothing weight": (
            lambda x, w=c(4): F.cross_entropy(x, tg.tensor([[0, 2], [1, 3]]), weight=w, label_smoothing=0.1),
            [(2, 4, 2)]),
        "nll_loss": (lambda x: F.nll_loss(x.log_softmax(-1), tg.tensor([0, 2, 1]), reduction="sum"), [(3, 4)]),
        "bce_with_logits": (lambda x, t, pw=c(4): F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
                            [(3, 4), (3, 4)]),
        "mse_loss": (lambda x, y: F.mse_loss(x, y), [(3, 4), (3, 4)]),
    }
    for mode in ("RNN", "LSTM", "GRU"):
        m = getattr(nn, mode)(3, 2, num_layers=2, bidirectional=True).double()
        cases[mode + " 2 layers bidirectional"] = (lambda x, m=m: m(x)[0], [(3, 2, 3)])
        m2 = getattr(nn, mode)(3, 2).double()
        cases[mode + " lengths"] = (lambda x, m=m2: m(x, lengths=[3, 1])[1], [(3, 2, 3)])
    cases["LSTM peephole"] = (lambda x, m=nn.LSTM(3, 2, peephole=True).double(): m(x)[1][1], [(3, 2, 3)])
    cases["LSTM coupled"] = (lambda x, m=nn.LSTM(3, 2, coupled=True).double(): m(x)[0], [(3, 2, 3)])
    for cell in ("RNNCell", "LSTMCell", "GRUCell"):
        m = getattr(nn, cell)(3, 2).double()
        cases[cell] = (lambda x, m=m: m(x)[0] if isinstance(m(x), tuple) else m(x), [(2, 3)])
    return cases


LAYERS = _layers()


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradgradcheck_layers(name):
    f, shapes = LAYERS[name]

    def seeded(*a):
        tg.manual_seed(0)      # dropout draws the same mask on every evaluation
        return f(*a)
    tg.gradgradcheck(seeded, [T(*s, low=0.1, high=0.9) if "bce" in name and i == 1 else T(*s)
                              for i, s in enumerate(shapes)])


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_create_graph_through_a_fused_layer_gives_the_first_order_gradient(mode):
    m = getattr(nn, mode)(3, 4).double()
    x = T(5, 2, 3)
    out = m(x)[0]
    plain = grad(out.sum(), [x] + list(m.parameters()))
    out = m(x)[0]
    recorded = grad(out.sum(), [x] + list(m.parameters()), create_graph=True)
    for a, b in zip(plain, recorded):
        assert b.requires_grad
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-12)


def test_gradgradcheck_names_a_wrong_second_derivative():
    class BadSquare(tg.Function):
        """x^2 whose backward uses a saved copy (2x made in forward): a constant under
        create_graph, so its second derivative is wrongly 0."""
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(2 * x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            two_x, = ctx.saved_tensors
            return g * two_x
    x = T(3)
    assert tg.gradcheck(BadSquare, [x])
    with pytest.raises(GradcheckError, match=r"gradgradcheck failed for input 0(.|\n)*MISMATCH"):
        tg.gradgradcheck(BadSquare, [x])


def test_a_raw_array_backward_raises_a_clear_error_when_differentiated_twice():
    class RawTanh(tg.Function):
        @staticmethod
        def forward(ctx, x):
            y = np.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return np.asarray(g) * (1 - np.asarray(y) ** 2)     # leaves the graph: raw arrays
    x = T(3)
    RawTanh.apply(x).sum().backward()                            # first order is fine
    with pytest.raises(AutogradError, match="RawTanh is not twice differentiable.*Tensor operators"):
        RawTanh.apply(x).sum().backward(create_graph=True)


def test_cast_is_twice_differentiable():
    x = tg.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    g, = grad((x.float() ** 3).sum(), x, create_graph=True)
    assert g.dtype == np.float64
    gg, = grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy(), rtol=1e-6)


def test_readme_cube_is_twice_differentiable():
    class Cube(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x * x * g
    assert tg.gradgradcheck(Cube, [T(3, 2)])


# ---------------------------------------------------------------- parity with torch
@requires_torch
@pytest.mark.parametrize("seed", range(4))
def test_hessian_vector_products_match_torch(seed):
    R = np.random.default_rng(seed)
    n, k, hdim = R.integers(2, 5), R.integers(2, 5), R.integers(2, 6)
    x0, w0, v0 = R.standard_normal((n, k)), R.standard_normal((k, hdim)), R.standard_normal((k, hdim))

    def loss(lib, x, w):
        h = (x @ w).tanh()
        return (h.softmax(dim=1) * h.sigmoid()).sum() + (w * w).sum().sqrt()
    w = tg.Tensor(w0, requires_grad=True)
    g, = grad(loss(tg, tg.Tensor(x0), w), w, create_graph=True)
    hv, = grad((g * tg.Tensor(v0)).sum(), w)
    wt = torch.tensor(w0, requires_grad=True)
    gt, = torch.autograd.grad(loss(torch, torch.tensor(x0), wt), wt, create_graph=True)
    hvt, = torch.autograd.grad((gt * torch.tensor(v0)).sum(), wt)
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(hv.numpy(), hvt.numpy(), rtol=1e-9, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_double_backward_through_recurrent_layers_matches_torch(mode):
    ours = getattr(nn, mode)(3, 4).double()
    theirs = getattr(torch.nn, mode)(3, 4).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x0 = RNG.standard_normal((5, 2, 3))
    x, xt = tg.Tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    gx, = grad((ours(x)[0] ** 2).sum(), x, create_graph=True)
    gxt, = torch.autograd.grad((theirs(xt)[0] ** 2).sum(), xt, create_graph=True)
    # the gradient penalty of WGAN-GP: d ||dL/dx||^2 / d weights
    pen = grad((gx * gx).sum(), list(ours.parameters()))
    pent = torch.autograd.grad((gxt * gxt).sum(), list(theirs.parameters()))
    for a, b in zip(pen, pent):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-10)


@requires_torch
def test_double_backward_through_conv_pool_and_cross_entropy_matches_torch():
    x0 = RNG.standard_normal((2, 1, 6, 6))
    w0 = RNG.standard_normal((3, 1, 3, 3))
    target = np.array([1, 4])

    def run(lib, F_, x, w):
        y = F_.max_pool2d(F_.conv2d(x, w, padding=1).tanh(), 2).reshape(2, -1)
        return F_.cross_entropy(y, lib.tensor(target))
    x, w = tg.Tensor(x0, requires_grad=True), tg.Tensor(w0, requires_grad=True)
    xt, wt = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    gx, = grad(run(tg, F, x, w), x, create_graph=True)
    gxt, = torch.autograd.grad(run(torch, torch.nn.functional, xt, wt), xt, create_graph=True)
    np.testing.assert_allclose(gx.numpy(), gxt.detach().numpy(), rtol=1e-10, atol=1e-12)
    gw, = grad((gx * gx).sum(), w)
    gwt, = torch.autograd.grad((gxt * gxt).sum(), wt)
    np.testing.assert_allclose(gw.numpy(), gwt.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", list(LAYERS))
def test_create_graph_gives_the_same_first_order_gradient(name):
    """Under create_graph the fused layers differentiate their composed form: its gradient
    must be the fused backward's, also at kinks of the composition (BCE at 0)."""
    f, shapes = LAYERS[name]
    args = [T(*s) * (0 if "bce" in name and i == 0 else 1) for i, s in enumerate(shapes)]
    assert_same_first_order(f, [tg.Tensor(a.numpy(), requires_grad=True) for a in args])


def assert_same_first_order(f, args, recorded=False):
    """The gradients of a fixed random projection of f's outputs with and without create_graph
    are equal (and, with recorded=True, the create_graph ones carry a graph)."""
    def run(create_graph):
        tg.manual_seed(0)
        outs = _flatten(f(*args))
        R = np.random.default_rng(3)
        total = sum((o * tg.Tensor(R.standard_normal(o.shape))).sum() for o in outs)
        return grad(total, args, create_graph=create_graph, allow_unused=True)
    for a, b in zip(run(False), run(True)):
        if a is None:
            assert b is None
        else:
            assert b.requires_grad or not recorded
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-10, atol=1e-12)
