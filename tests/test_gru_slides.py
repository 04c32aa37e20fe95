"""The slides' GRU (reset_after=False): the equations by hand, gradchecks, the layer against
its cell, and the gate helpers (LSTMCell.gates / GRUCell.gates) against the cells' outputs."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tests.conftest import torch, requires_torch, rand64, assert_close


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _slides_gru_numpy(cell, x, h):
    """The deck's four lines, computed from the cell's parameters with NumPy only.

        r_t  = σ(W_rh h_{t-1} + W_rx x_t + b_r)
        z_t  = σ(W_zh h_{t-1} + W_zx x_t + b_z)
        h~_t = tanh(W_h~h (r_t · h_{t-1}) + W_h~x x_t + b_h~)
        h_t  = (1 - z_t) · h_{t-1} + z_t · h~_t
    """
    H = cell.hidden_size
    W_ih, W_hh = cell.weight_ih.numpy(), cell.weight_hh.numpy()
    b = cell.bias_ih.numpy() + cell.bias_hh.numpy() if cell.bias else np.zeros(3 * H)
    W_rx, W_zx, W_nx = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]
    W_rh, W_zh, W_nh = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    b_r, b_z, b_n = b[:H], b[H:2 * H], b[2 * H:]
    r = _sig(h @ W_rh.T + x @ W_rx.T + b_r)
    z = _sig(h @ W_zh.T + x @ W_zx.T + b_z)
    n = np.tanh((r * h) @ W_nh.T + x @ W_nx.T + b_n)
    return r, z, n, (1 - z) * h + z * n


@pytest.mark.parametrize("bias", [True, False])
def test_slides_gru_cell_is_the_slides_equations_line_by_line(bias):
    cell = nn.GRUCell(4, 3, bias=bias, reset_after=False).double()
    x, h = rand64(5, 4), rand64(5, 3)
    r, z, n, h1 = cell.gates(x, h)
    want = _slides_gru_numpy(cell, x.numpy(), h.numpy())
    for name, got, exp in zip(("r_t", "z_t", "h~_t", "h_t"), (r, z, n, h1), want):
        assert_close(got, exp, rtol=1e-12, atol=1e-12, what=name)
    assert_close(cell(x, h), want[3], rtol=1e-12, atol=1e-12, what="forward")
    # and it is not PyTorch's form: the same parameters give another h_t there
    torch_form = nn.GRUCell(4, 3, bias=bias).double()
    torch_form.load_state_dict(cell.state_dict())
    assert np.abs(torch_form(x, h).numpy() - want[3]).max() > 1e-3


def test_z_orientation_documented_in_gru_cell():
    """Slides' z_t weights the NEW content; PyTorch's z weights the OLD state. With z_t -> 1
    the slides' cell outputs h~_t, torch's keeps h_{t-1}."""
    for reset_after, expect_new in ((False, True), (True, False)):
        cell = nn.GRUCell(2, 3, reset_after=reset_after).double()
        with tg.no_grad():
            cell.bias_ih.array[3:6] = 50.0     # z rows: z_t = σ(50 + ...) = 1
        x, h = rand64(4, 2), rand64(4, 3)
        r, z, n, h1 = cell.gates(x, h)
        assert np.allclose(z.numpy(), 1.0)
        assert_close(h1, n.numpy() if expect_new else h.numpy(), rtol=1e-9, atol=1e-9)


def test_slides_gru_cell_gradcheck():
    cell = nn.GRUCell(3, 4, reset_after=False).double()
    x, h = rand64(2, 3), rand64(2, 4)
    assert tg.gradcheck(lambda x, h: cell(x, h), [x, h], params=list(cell.parameters()))


@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True)])
def test_slides_gru_layer_gradcheck(kw):
    layer = nn.GRU(3, 2, reset_after=False, **kw).double()
    x = rand64(3, 3, 3)   # (T, B, I), or (B, T, I) with batch_first
    h0 = rand64(layer.num_layers * layer.num_directions, 3, 2)
    assert tg.gradcheck(lambda x, h0: layer(x, h0)[0], [x, h0], params=list(layer.parameters()))


@pytest.mark.parametrize("fused", [True, False])
def test_slides_gru_layer_steps_its_cell(fused):
    """The layer (either fused= setting) equals stepping GRUCell(reset_after=False) by hand,
    outputs and gradients, also with lengths= masking."""
    layer = nn.GRU(3, 4, reset_after=False, fused=fused).double()
    cell = nn.GRUCell(3, 4, reset_after=False).double()
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})   # weight_ih_l0 -> weight_ih
    x = rand64(6, 2, 3)
    out, h_n = layer(x, lengths=[6, 4])
    h, hs = None, []
    for t in range(6):
        new = cell(x[t], h)
        h = new if t < 4 else tg.stack([new[0], h[1]])   # sequence 1 stops after 4 steps
        hs.append(h)
    assert_close(out[:, 0], tg.stack([s[0] for s in hs]).numpy(), rtol=1e-12, atol=1e-12)
    assert_close(out[:4, 1], tg.stack([s[1] for s in hs[:4]]).numpy(), rtol=1e-12, atol=1e-12)
    assert np.all(out[4:, 1].numpy() == 0)
    assert_close(h_n[0], h.numpy(), rtol=1e-12, atol=1e-12)
    # gradients: the same loss through both
    out.sum().backward()
    g_layer = layer.weight_hh_l0.grad.numpy().copy()
    x2 = tg.Tensor(x.numpy(), requires_grad=True)
    h, total = None, 0
    for t in range(6):
        new = cell(x2[t], h)
        h = new if t < 4 else tg.stack([new[0], h[1]])
        total = total + (h.sum() if t < 4 else h[0].sum())
    total.backward()
    assert_close(g_layer, cell.weight_hh.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_reset_after_repr_and_state_dict_shapes():
    a, b = nn.GRU(3, 4, num_layers=2), nn.GRU(3, 4, num_layers=2, reset_after=False)
    assert repr(b) == "GRU(3, 4, num_layers=2, reset_after=False)" and "reset_after" not in repr(a)
    assert repr(nn.GRUCell(3, 4, reset_after=False)) == "GRUCell(3, 4, reset_after=False)"
    assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
    b.load_state_dict(a.state_dict())


@requires_torch
def test_default_gru_cell_is_still_torch():
    theirs = torch.nn.GRUCell(3, 4).double()
    ours = nn.GRUCell(3, 4).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x, h = rand64(2, 3), rand64(2, 4)
    assert_close(ours(x, h), theirs(torch.tensor(x.numpy()), torch.tensor(h.numpy())), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- the gate helpers
def test_lstm_gates_helper_matches_the_cell_and_the_equations():
    for kw in (dict(), dict(peephole=True), dict(coupled=True)):
        cell = nn.LSTMCell(3, 2, **kw).double()
        x, h, c = rand64(4, 3), rand64(4, 2), rand64(4, 2)
        i, f, g, c1, o, h1 = cell.gates(x, (h, c))
        h_ref, c_ref = cell(x, (h, c))
        assert_close(h1, h_ref.numpy(), rtol=0, atol=0)
        assert_close(c1, c_ref.numpy(), rtol=0, atol=0)
        assert_close(c1, f.numpy() * c.numpy() + i.numpy() * g.numpy(), rtol=1e-12, atol=1e-12)
        assert_close(h1, o.numpy() * np.tanh(c1.numpy()), rtol=1e-12, atol=1e-12)
        for gate in (i, f, o):
            assert gate.numpy().min() > 0 and gate.numpy().max() < 1
        if kw.get("coupled"):
            assert_close(i, 1 - f.numpy(), rtol=0, atol=1e-15)
