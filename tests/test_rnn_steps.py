"""The composed layers' fast path (nn.rnn_steps: W_x x_t + b for all steps in one matmul)
against stepping the plain cells of rnn_cells one by one: same outputs, states and gradients."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq.gradcheck import gradcheck
from tinygrad_seq.nn.rnn_cells import lstm_cell, rnn_cell
from tinygrad_seq.nn.rnn_steps import InputProjected


def _plain(layer, x, reverse=False):
    """Step rnn_cell / lstm_cell over x (T, B, I) with the layer's weights: (outputs, states)."""
    w_ih, w_hh, b_ih, b_hh, *_ = layer.layer_weights(0, 1 if reverse else 0)
    B, H = x.shape[1], layer.hidden_size
    state = [tg.zeros(B, H, dtype=x.dtype) for _ in range(2 if layer.mode == "LSTM" else 1)]
    outs = [None] * x.shape[0]
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        if layer.mode == "LSTM":
            state = list(lstm_cell(x[t], tuple(state), w_ih, w_hh, b_ih, b_hh))
        else:
            state = [rnn_cell(x[t], state[0], w_ih, w_hh, b_ih, b_hh, layer.nonlinearity)]
        outs[t] = state[0]
    return tg.stack(outs, dim=0), state


@pytest.mark.parametrize("mode,kw", [("LSTM", {}), ("LSTM", {"bias": False}), ("RNN", {}),
                                     ("RNN", {"nonlinearity": "relu"}), ("LSTM", {"bidirectional": True})])
def test_fast_path_equals_stepping_the_cells(mode, kw):
    rng = np.random.default_rng(len(kw) + len(mode))
    T, B, I, H = 7, 3, 4, 5
    tg.manual_seed(1)
    layer = getattr(nn, mode)(I, H, fused=False, **kw).double()
    x = tg.Tensor(rng.standard_normal((T, B, I)), requires_grad=True)
    w = [tg.Tensor(rng.standard_normal((T, B, H * (2 if kw.get("bidirectional") else 1))))]
    out, _ = layer(x)
    (out * w[0]).sum().backward()
    got = [x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]
    ref_x = tg.Tensor(x.numpy(), requires_grad=True)
    layer.zero_grad()
    outs = [_plain(layer, ref_x)[0]]
    if kw.get("bidirectional"):
        outs.append(_plain(layer, ref_x, reverse=True)[0])
    ref = tg.cat(outs, dim=2)
    (ref * w[0]).sum().backward()
    want = [ref_x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    for g, r in zip(got, want):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


def test_fast_path_is_used_only_for_the_plain_cells():
    assert InputProjected.applies("LSTM", None, None, None, False)
    assert InputProjected.applies("RNN", None, None, None, False)
    assert not InputProjected.applies("GRU", None, None, None, False)
    assert not InputProjected.applies("LSTM", None, None, None, True)
    assert not InputProjected.applies("LSTM", None, tg.ones(3), None, False)


def test_fast_path_gradcheck_with_lengths():
    rng = np.random.default_rng(3)
    tg.manual_seed(2)
    layer = nn.LSTM(3, 4, fused=False).double()
    x = tg.Tensor(rng.standard_normal((5, 2, 3)), requires_grad=True)
    h0 = tg.Tensor(rng.standard_normal((1, 2, 4)), requires_grad=True)
    c0 = tg.Tensor(rng.standard_normal((1, 2, 4)), requires_grad=True)
    assert gradcheck(lambda x, h, c: layer(x, (h, c), lengths=[5, 3])[0], (x, h0, c0))
