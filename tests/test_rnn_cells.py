"""RNNCell / LSTMCell / GRUCell: torch parity, gradchecks, the slides' LSTM variants, errors."""
import math

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tests.conftest import torch, requires_torch, rand64, assert_close


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _load_from_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


# ---------------------------------------------------------------- parameters, init, repr
@pytest.mark.parametrize("cls, gates", [(nn.RNNCell, 1), (nn.LSTMCell, 4), (nn.GRUCell, 3)])
def test_cell_parameters_match_torch_names_shapes_and_init(cls, gates):
    cell = cls(5, 3)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (3 * gates, 5)), ("weight_hh", (3 * gates, 3)), ("bias_ih", (3 * gates,)),
        ("bias_hh", (3 * gates,))]
    bound = 1 / math.sqrt(3)
    for p in cell.parameters():
        assert p.dtype == np.float32 and p.requires_grad
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > bound / 2
    assert [n for n, _ in cls(5, 3, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]


@requires_torch
def test_cell_reprs_match_torch():
    assert repr(nn.LSTMCell(3, 4)) == repr(torch.nn.LSTMCell(3, 4))
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == repr(torch.nn.RNNCell(3, 4, nonlinearity="relu"))
    assert repr(nn.GRUCell(3, 4, bias=False)) == repr(torch.nn.GRUCell(3, 4, bias=False))
    assert repr(nn.LSTMCell(3, 4, peephole=True, coupled=True)) == "LSTMCell(3, 4, peephole=True, coupled=True)"


def test_lstm_variant_parameters():
    peep = nn.LSTMCell(3, 2, peephole=True)
    assert [(n, p.shape) for n, p in peep.named_parameters()][4:] == [
        ("weight_ci", (2,)), ("weight_cf", (2,)), ("weight_co", (2,))]
    coupled = nn.LSTMCell(3, 2, coupled=True)   # no input-gate rows: f, g, o
    assert coupled.weight_ih.shape == (6, 3) and coupled.weight_hh.shape == (6, 2)
    both = nn.LSTMCell(3, 2, peephole=True, coupled=True)   # no input gate, so no weight_ci
    assert [n for n, _ in both.named_parameters()][4:] == ["weight_cf", "weight_co"]


# ---------------------------------------------------------------- the equations, checked by hand
def test_lstm_cell_follows_the_slides_equations():
    cell = nn.LSTMCell(3, 2).double()
    x, h, c = rand64(4, 3), rand64(4, 2), rand64(4, 2)
    h1, c1 = cell(x, (h, c))
    W = np.concatenate([cell.weight_hh.numpy(), cell.weight_ih.numpy()], axis=1)   # W·[h_{t-1}, x_t]
    b = cell.bias_ih.numpy() + cell.bias_hh.numpy()
    z = np.concatenate([h.numpy(), x.numpy()], axis=1) @ W.T + b
    i, f, g, o = _sig(z[:, :2]), _sig(z[:, 2:4]), np.tanh(z[:, 4:6]), _sig(z[:, 6:])
    C = f * c.numpy() + i * g
    np.testing.assert_allclose(c1.numpy(), C, rtol=1e-12)
    np.testing.assert_allclose(h1.numpy(), o * np.tanh(C), rtol=1e-12)


def test_peephole_and_coupled_lstm_follow_their_equations():
    x, h, c = rand64(4, 3), rand64(4, 2), rand64(4, 2)
    cell = nn.LSTMCell(3, 2, peephole=True).double()
    h1, c1 = cell(x, (h, c))
    z = x.numpy() @ cell.weight_ih.numpy().T + h.numpy() @ cell.weight_hh.numpy().T + \
        cell.bias_ih.numpy() + cell.bias_hh.numpy()
    ci, cf, co = cell.weight_ci.numpy(), cell.weight_cf.numpy(), cell.weight_co.numpy()
    i = _sig(z[:, :2] + ci * c.numpy())          # P_i·c_{t-1}
    f = _sig(z[:, 2:4] + cf * c.numpy())         # P_f·c_{t-1}
    C = f * c.numpy() + i * np.tanh(z[:, 4:6])
    o = _sig(z[:, 6:] + co * C)                  # P_o·c_t
    np.testing.assert_allclose(c1.numpy(), C, rtol=1e-12)
    np.testing.assert_allclose(h1.numpy(), o * np.tanh(C), rtol=1e-12)

    cell = nn.LSTMCell(3, 2, coupled=True).double()
    h1, c1 = cell(x, (h, c))
    z = x.numpy() @ cell.weight_ih.numpy().T + h.numpy() @ cell.weight_hh.numpy().T + \
        cell.bias_ih.numpy() + cell.bias_hh.numpy()
    f, g, o = _sig(z[:, :2]), np.tanh(z[:, 2:4]), _sig(z[:, 4:])
    C = f * c.numpy() + (1 - f) * g              # C_t = f_t*C_{t-1} + (1 - f_t)*C~_t
    np.testing.assert_allclose(c1.numpy(), C, rtol=1e-12)
    np.testing.assert_allclose(h1.numpy(), o * np.tanh(C), rtol=1e-12)


def test_lstm_variant_cell_without_additions_is_the_plain_cell():
    """lstm_variant_cell is lstm_cell plus peepholes / coupling: with neither it is the six
    equations of lstm_cell (values and gradients), and one peephole alone changes only its gate."""
    from tinygrad_seq.nn.rnn_cells import lstm_cell, lstm_variant_cell
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in [(4, 3), (4, 2), (4, 2), (8, 3), (8, 2), (8,), (8,)]]
    results = []
    for cell in (lstm_cell, lstm_variant_cell):
        x, h, c, *w = [tg.Tensor(a, requires_grad=True) for a in arrays]
        h1, c1 = cell(x, (h, c), *w)
        (h1 * h1).sum().add((c1 * c1).sum()).backward()
        results.append([h1.numpy(), c1.numpy()] + [t.grad.numpy() for t in (x, h, c, *w)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    x, h, c, w_ih, w_hh, b_ih, b_hh = [tg.Tensor(a) for a in arrays]
    i, f, g, c1, o, h1 = lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh, w_cf=tg.Tensor(np.ones(2)), gates=True)
    i0, f0, g0, *_ = lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh, gates=True)
    np.testing.assert_allclose(i.numpy(), i0.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g.numpy(), g0.numpy(), rtol=1e-12)
    assert not np.allclose(f.numpy(), f0.numpy())


def test_gru_cell_matches_slides_form_with_z_flipped():
    """Slides: h_t = (1 - z_t) h_{t-1} + z_t h~_t; PyTorch's z is the slides' 1 - z."""
    cell = nn.GRUCell(3, 2).double()
    x, h = rand64(4, 3), rand64(4, 2)
    gx = x.numpy() @ cell.weight_ih.numpy().T + cell.bias_ih.numpy()
    gh = h.numpy() @ cell.weight_hh.numpy().T + cell.bias_hh.numpy()
    r, z = _sig(gx[:, :2] + gh[:, :2]), _sig(gx[:, 2:4] + gh[:, 2:4])
    n = np.tanh(gx[:, 4:] + r * gh[:, 4:])
    z_slides = 1 - z
    np.testing.assert_allclose(cell(x, h).numpy(), (1 - z_slides) * h.numpy() + z_slides * n, rtol=1e-12)


# ---------------------------------------------------------------- gradchecks (float64)
CELL_CASES = [
    ("RNNCell", dict(nonlinearity="tanh")), ("RNNCell", dict(nonlinearity="relu")),
    ("RNNCell", dict(bias=False)), ("LSTMCell", {}), ("LSTMCell", dict(bias=False)),
    ("LSTMCell", dict(peephole=True)), ("LSTMCell", dict(coupled=True)),
    ("LSTMCell", dict(peephole=True, coupled=True)), ("GRUCell", {}), ("GRUCell", dict(bias=False)),
]


@pytest.mark.parametrize("name, kw", CELL_CASES, ids=[f"{n}-{k}" for n, k in CELL_CASES])
def test_cell_gradcheck(name, kw):
    cell = getattr(nn, name)(3, 2, **kw).double()
    x, h, c = rand64(2, 3), rand64(2, 2), rand64(2, 2)
    if name == "LSTMCell":
        assert tg.gradcheck(lambda x, h, c: cell(x, (h, c)), [x, h, c], params=list(cell.parameters()))
    else:
        assert tg.gradcheck(lambda x, h: cell(x, h), [x, h], params=list(cell.parameters()))


def test_cell_default_state_and_unbatched_input():
    cell = nn.LSTMCell(3, 2).double()
    x = rand64(3)
    h, c = cell(x)
    assert h.shape == (2,) and c.shape == (2,)
    z = tg.zeros(1, 2, dtype=tg.float64)
    h2, c2 = cell(x.unsqueeze(0), (z, z))
    np.testing.assert_allclose(h.numpy(), h2.numpy()[0])
    assert nn.GRUCell(3, 2)(tg.randn(3)).shape == (2,)
    assert nn.RNNCell(3, 2)(tg.randn(5, 3)).shape == (5, 2)


# ---------------------------------------------------------------- torch parity
@requires_torch
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_parity_with_torch(name, seed):
    rng = np.random.default_rng(seed)
    I, H, B = (int(v) for v in rng.integers(1, 6, 3))
    kw = {"bias": bool(rng.integers(2))}
    if name == "RNNCell":
        kw["nonlinearity"] = ["tanh", "relu"][int(rng.integers(2))]
    theirs = getattr(torch.nn, name)(I, H, **kw).double()
    ours = getattr(nn, name)(I, H, **kw).double()
    _load_from_torch(ours, theirs)
    xs, hs, cs = rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    x, h, c = (tg.Tensor(a, requires_grad=True) for a in (xs, hs, cs))
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (xs, hs, cs))
    if name == "LSTMCell":
        ours_out, theirs_out = list(ours(x, (h, c))), list(theirs(tx, (th, tc)))
    else:
        ours_out, theirs_out = [ours(x, h)], [theirs(tx, th)]
    ws = [rng.standard_normal(o.shape) for o in ours_out]
    sum((o * tg.Tensor(w)).sum() for o, w in zip(ours_out, ws)).backward()
    sum((o * torch.tensor(w)).sum() for o, w in zip(theirs_out, ws)).backward()
    for o, t in zip(ours_out, theirs_out):
        assert_close(o, t, 1e-10, 1e-12, "output")
    assert_close(x.grad, tx.grad, 1e-10, 1e-12, "input grad")
    assert_close(h.grad, th.grad, 1e-10, 1e-12, "h grad")
    if name == "LSTMCell":
        assert_close(c.grad, tc.grad, 1e-10, 1e-12, "c grad")
    for (n, p), (tn, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == tn
        assert_close(p.grad, tp.grad, 1e-10, 1e-12, n)


# ---------------------------------------------------------------- errors
def test_cell_errors_name_the_problem():
    cell = nn.LSTMCell(3, 2)
    with pytest.raises(ValueError, match=r"LSTMCell: input has 4 features .*expected input_size=3"):
        cell(tg.randn(2, 4))
    with pytest.raises(TypeError, match=r"LSTMCell: input dtype float64 does not match the weights' dtype float32"):
        cell(tg.randn(2, 3, dtype=tg.float64))
    with pytest.raises(ValueError, match=r"LSTMCell: expected c of shape \(2, 2\), got \(2, 3\)"):
        cell(tg.randn(2, 3), (tg.zeros(2, 2), tg.zeros(2, 3)))
    with pytest.raises(ValueError, match=r"GRUCell: expected hx of shape \(5, 2\), got \(2,\)"):
        nn.GRUCell(3, 2)(tg.randn(5, 3), tg.zeros(2))
    with pytest.raises(ValueError, match="unknown nonlinearity 'sigmoid'"):
        nn.RNNCell(3, 2, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="RNNCell: expected input of shape"):
        nn.RNNCell(3, 2)(tg.randn(2, 2, 3))
