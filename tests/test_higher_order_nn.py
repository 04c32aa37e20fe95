"""Every nn layer and functional op is twice differentiable: gradgradcheck over the layers not in
tests/test_higher_order.py's table, and the same first-order gradient with create_graph=True."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tests.test_higher_order import assert_same_first_order

RNG = np.random.default_rng(0)


def T(*shape, low=None, high=None):
    a = RNG.standard_normal(shape) if low is None else RNG.uniform(low, high, shape)
    return tg.Tensor(a, requires_grad=True)


def _mha(batch_first, masked):
    m = nn.MultiheadAttention(4, 2, batch_first=batch_first).double()
    pad = tg.tensor([[False, False, True], [False, False, False]]) if masked else None
    return lambda q, k, v: m(q, k, v, key_padding_mask=pad)[0].tanh()


def _cases():
    R = np.random.default_rng(1)
    c = lambda *s: tg.Tensor(R.uniform(0.5, 1.5, s))   # noqa: E731  (constants: stats, targets)
    prob = lambda *s: tg.Tensor(R.uniform(0.1, 0.9, s))  # noqa: E731
    bag = tg.tensor([0, 2, 1, 3, 3, 0, 1])
    offsets = tg.tensor([0, 3, 3, 5])                   # the second bag is empty
    cases = {
        # name: (f, shapes, low/high for the inputs (None: normal))
        "batch_norm1d train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True).tanh(),
                               [(4, 3), (3,), (3,)]),
        "batch_norm2d train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True).tanh(),
                               [(2, 3, 2, 2), (3,), (3,)]),
        "batch_norm2d eval": (lambda x, w, b, m=c(3), v=c(3): F.batch_norm(x, m, v, w, b).tanh(),
                              [(2, 3, 2, 2), (3,), (3,)]),
        "BatchNorm1d module train": (lambda x, m=nn.BatchNorm1d(3).double(): m(x).tanh(), [(4, 3, 2)]),
        "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b).tanh(), [(2, 4, 3), (4,), (4,)]),
        "gelu": (lambda x: F.gelu(x), [(3, 4)]),
        "gelu tanh": (lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
        "elu": (lambda x: F.elu(x, alpha=0.7) * x, [(3, 4)]),
        "silu": (lambda x: F.silu(x), [(3, 4)]),
        "softplus": (lambda x: F.softplus(x, beta=2.0, threshold=3.0), [(3, 4)]),
        "glu": (lambda x: F.glu(x, dim=1), [(3, 4)]),
        "dropout2d": (lambda x: F.dropout2d(x, 0.5, training=True).tanh(), [(2, 4, 3, 3)]),
        "flip/roll (conv_transpose's kernel flip)": (lambda x: x.flip(0, 2).roll((1, -2), (1, 2)) ** 3,
                                                     [(2, 3, 4)]),
        "conv_transpose1d": (lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1).tanh(),
                             [(2, 3, 4), (3, 2, 3), (2,)]),
        "conv_transpose2d": (lambda x, w: F.conv_transpose2d(x, w, stride=2).tanh(), [(1, 2, 3, 3), (2, 2, 2, 2)]),
        "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x, 3).tanh(), [(2, 2, 7)]),
        "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)).tanh(), [(1, 2, 5, 4)]),
        "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, 2).tanh(), [(1, 2, 5, 4)]),
        "embedding_bag sum": (lambda w: F.embedding_bag(bag, w, offsets, mode="sum").tanh(), [(4, 3)]),
        "embedding_bag mean": (lambda w: F.embedding_bag(bag, w, offsets, mode="mean").tanh(), [(4, 3)]),
        "embedding_bag max": (lambda w: F.embedding_bag(bag, w, offsets, mode="max").tanh(), [(4, 3)]),
        "embedding_bag per_sample_weights": (
            lambda w, p: F.embedding_bag(bag, w, offsets, mode="sum", per_sample_weights=p).tanh(), [(4, 3), (7,)]),
        "scaled_dot_product_attention causal": (
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [(2, 3, 4), (2, 3, 4), (2, 3, 2)]),
        "scaled_dot_product_attention mask": (
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=tg.tensor([[True, False, True]])),
            [(3, 4), (3, 4), (3, 2)]),
        "MultiheadAttention": (_mha(False, False), [(3, 2, 4), (3, 2, 4), (3, 2, 4)]),
        "MultiheadAttention batch_first key_padding_mask": (_mha(True, True), [(2, 3, 4)] * 3),
        "l1_loss": (lambda x, y: F.l1_loss(x, y) * x.sum(), [(3, 4), (3, 4)]),
        "binary_cross_entropy": (lambda p, t=prob(3, 4), w=c(3, 4): F.binary_cross_entropy(p, t, weight=w), [(3, 4)]),
        "binary_cross_entropy target grad": (lambda p, t: F.binary_cross_entropy(p, t), [(3, 4), (3, 4)]),
        "smooth_l1_loss": (lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), [(3, 4), (3, 4)]),
        "huber_loss": (lambda x, y: F.huber_loss(x, y, delta=0.7, reduction="sum"), [(3, 4), (3, 4)]),
        "kl_div": (lambda x, t=prob(3, 4): F.kl_div(x.log_softmax(-1), t, reduction="batchmean"), [(3, 4)]),
        "kl_div log_target": (lambda x, t: F.kl_div(x, t, log_target=True), [(3, 4), (3, 4)]),
        "normalize": (lambda x: F.normalize(x, dim=1), [(3, 4)]),
        "normalize p=3": (lambda x: F.normalize(x, p=3.0, dim=0), [(3, 4)]),
        "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b, dim=1), [(3, 4), (3, 4)]),
        "interpolate nearest": (lambda x: F.interpolate(x, scale_factor=2).tanh(), [(1, 2, 3)]),
        "interpolate linear": (lambda x: F.interpolate(x, size=5, mode="linear").tanh(), [(1, 2, 3)]),
        "interpolate bilinear align_corners": (
            lambda x: F.interpolate(x, size=(3, 4), mode="bilinear", align_corners=True).tanh(), [(1, 1, 2, 3)]),
        "GRU reset_after=False": (lambda x, m=nn.GRU(3, 2, reset_after=False).double(): m(x)[0], [(3, 2, 3)]),
        "GRU reset_after=False lengths": (
            lambda x, m=nn.GRU(3, 2, reset_after=False).double(): m(x, lengths=[3, 2])[1], [(3, 2, 3)]),
        "LSTM peephole lengths": (
            lambda x, m=nn.LSTM(3, 2, peephole=True).double(): m(x, lengths=[2, 3])[1][1], [(3, 2, 3)]),
        "LSTM coupled bidirectional": (
            lambda x, m=nn.LSTM(3, 2, coupled=True, bidirectional=True).double(): m(x)[0], [(3, 2, 3)]),
        "LSTM lengths batch_first h0": (
            lambda x, h, m=nn.LSTM(3, 2, batch_first=True).double(): m(x, (h, h.tanh()), lengths=[3, 1])[0],
            [(2, 3, 3), (1, 2, 2)]),
        "RNN relu lengths": (lambda x, m=nn.RNN(3, 2, nonlinearity="relu").double(): m(x, lengths=[3, 2])[0],
                             [(3, 2, 3)]),
    }
    return cases


LAYERS = _cases()
POSITIVE = {"binary_cross_entropy", "binary_cross_entropy target grad"}      # inputs are probabilities


def _args(name, shapes):
    if name in POSITIVE:
        return [T(*s, low=0.1, high=0.9) for s in shapes]
    return [T(*s) for s in shapes]


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradgradcheck_layers(name):
    f, shapes = LAYERS[name]

    def seeded(*a):
        tg.manual_seed(0)      # dropout draws the same mask on every evaluation
        return f(*a)
    assert tg.gradgradcheck(seeded, _args(name, shapes))


@pytest.mark.parametrize("name", list(LAYERS))
def test_create_graph_gives_the_same_first_order_gradient(name):
    f, shapes = LAYERS[name]
    assert_same_first_order(f, _args(name, shapes), recorded=True)


# ---------------------------------------------------------------- shown to users
def test_gradcheck_demo_second_order_column():
    from demos import common, gradcheck as demo
    con = common.make_console(record=True)
    out = demo.main(["--second-order", "--op", "tanh", "--op", "relu", "--op", "LSTM layer (fused, 2 layers, "
                     "bidirectional)"], console=con)
    assert out["passed"] == out["total"] == 3
    assert all(row[5] is not None and row[5][2] for row in out["rows"])
    text = con.export_text()
    assert "gradgradcheck" in text and "2nd: abs err" in text and "3/3 ops pass" in text
    assert max(len(line) for line in text.splitlines()) <= common.WIDTH


def test_gradcheck_demo_second_order_fails_a_wrong_second_derivative(monkeypatch):
    from demos import gradcheck as demo

    class BadSquare(tg.Function):      # right first derivative, from a saved constant
        @staticmethod
        def forward(ctx, x):
            ctx.two_x = 2 * x
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g * ctx.two_x
    monkeypatch.setitem(demo.OPS, "bad square", (BadSquare.apply, [(3, 4)], "any"))
    (_, _, _, _, ok, second), = demo.run(["bad square"], second_order=True)
    assert not ok and not second[2] and second[0] > 1e-3
    (_, _, _, _, ok, second), = demo.run(["bad square"])
    assert ok and second is None
