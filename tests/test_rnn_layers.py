"""nn.RNN / nn.LSTM / nn.GRU: PyTorch's contract (parameters, shapes, state_dict, outputs and
every gradient), variable lengths, gradchecks of every option, errors."""
import math

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tests.conftest import torch, requires_torch, rand64, assert_close

MODES = ["RNN", "LSTM", "GRU"]


def _make(mode, I, H, fused=True, **kw):
    return getattr(nn, mode)(I, H, fused=fused, **kw)


def _states(mode, state):
    return list(state) if mode == "LSTM" else [state]


def _weighted_sum(outs, ws, lib):
    total = None
    for o, w in zip(outs, ws):
        term = (o * (tg.Tensor(w) if lib is tg else torch.tensor(w))).sum()
        total = term if total is None else total + term
    return total


# ---------------------------------------------------------------- parameters, repr, shapes
@requires_torch
@pytest.mark.parametrize("mode", MODES)
def test_parameter_names_shapes_and_order_match_torch(mode):
    kw = dict(num_layers=2, bidirectional=True, bias=True)
    ours, theirs = _make(mode, 5, 3, **kw), getattr(torch.nn, mode)(5, 3, **kw)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [n for n, _ in _make(mode, 5, 3, bias=False).named_parameters()] == \
        [n for n, _ in getattr(torch.nn, mode)(5, 3, bias=False).named_parameters()]
    bound = 1 / math.sqrt(3)
    assert all(np.abs(p.numpy()).max() <= bound for p in ours.parameters())


@requires_torch
def test_slides_lstm_example_shapes_and_repr():
    """The slides: nn.LSTM(input_size=5, hidden_size=2) on x of shape (1000, 1, 5)."""
    lstm = nn.LSTM(input_size=5, hidden_size=2, num_layers=1)
    assert repr(lstm.eval()) == "LSTM(5, 2)"
    p, (h, c) = lstm(tg.rand(1000, 1, 5))
    assert p.shape == (1000, 1, 2) and h.shape == (1, 1, 2) and c.shape == (1, 1, 2)
    assert [p.shape for p in lstm.parameters()] == [(8, 5), (8, 2), (8,), (8,)]
    for kw in (dict(num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True), {}):
        assert repr(nn.GRU(3, 4, **kw)) == repr(torch.nn.GRU(3, 4, **kw))
        assert repr(nn.RNN(3, 4, **kw)) == repr(torch.nn.RNN(3, 4, **kw))
    assert repr(nn.LSTM(3, 4, peephole=True, coupled=True)) == "LSTM(3, 4, peephole=True, coupled=True)"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_output_shapes(mode, batch_first):
    m = _make(mode, 4, 3, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = tg.randn(*((2, 5, 4) if batch_first else (5, 2, 4)))
    out, state = m(x)
    assert out.shape == ((2, 5, 6) if batch_first else (5, 2, 6))
    for s in _states(mode, state):
        assert s.shape == (4, 2, 3)            # (num_layers * num_directions, B, H) either way
    out, state = m(tg.randn(5, 4))             # unbatched (T, I)
    assert out.shape == (5, 6) and all(s.shape == (4, 3) for s in _states(mode, state))


# ---------------------------------------------------------------- torch parity
def _random_config(rng, mode):
    return dict(I=int(rng.integers(1, 5)), H=int(rng.integers(1, 5)), T=int(rng.integers(1, 6)),
                B=int(rng.integers(1, 4)), num_layers=int(rng.integers(1, 3)), bias=bool(rng.integers(2)),
                batch_first=bool(rng.integers(2)), bidirectional=bool(rng.integers(2)),
                with_state=bool(rng.integers(2)), with_lengths=bool(rng.integers(2)),
                nonlinearity=["tanh", "relu"][int(rng.integers(2))])


def _torch_parity(mode, cfg, fused, rng):
    I, H, T, B = cfg["I"], cfg["H"], cfg["T"], cfg["B"]
    kw = {k: cfg[k] for k in ("num_layers", "bias", "batch_first", "bidirectional")}
    if mode == "RNN":
        kw["nonlinearity"] = cfg["nonlinearity"]
    theirs = getattr(torch.nn, mode)(I, H, **kw).double()
    ours = _make(mode, I, H, fused=fused, **kw).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    LD = kw["num_layers"] * (2 if kw["bidirectional"] else 1)
    xs = rng.standard_normal((B, T, I) if kw["batch_first"] else (T, B, I))
    x, tx = tg.Tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    s0 = [rng.standard_normal((LD, B, H)) for _ in range(2 if mode == "LSTM" else 1)]
    ours_s0 = [tg.Tensor(a, requires_grad=True) for a in s0]
    theirs_s0 = [torch.tensor(a, requires_grad=True) for a in s0]
    hx = (tuple(ours_s0) if mode == "LSTM" else ours_s0[0]) if cfg["with_state"] else None
    thx = (tuple(theirs_s0) if mode == "LSTM" else theirs_s0[0]) if cfg["with_state"] else None
    lengths = None
    if cfg["with_lengths"]:
        lengths = [int(v) for v in rng.integers(1, T + 1, B)]
        lengths[0] = T
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=kw["batch_first"],
                                                         enforce_sorted=False)
        pout, tstate = theirs(packed, thx)
        tout = torch.nn.utils.rnn.pad_packed_sequence(pout, batch_first=kw["batch_first"], total_length=T)[0]
    else:
        tout, tstate = theirs(tx, thx)
    out, state = ours(x, hx, lengths=lengths)
    ours_all, theirs_all = [out] + _states(mode, state), [tout] + _states(mode, tstate)
    ws = [rng.standard_normal(t.shape) for t in theirs_all]
    _weighted_sum(ours_all, ws, tg).backward()
    _weighted_sum(theirs_all, ws, torch).backward()
    for name, o, t in zip(["output", "h_n", "c_n"], ours_all, theirs_all):
        assert_close(o, t, 1e-9, 1e-11, name)
    assert_close(x.grad, tx.grad, 1e-9, 1e-11, "input grad")
    if cfg["with_state"]:
        for o, t in zip(ours_s0, theirs_s0):
            assert_close(o.grad, t.grad, 1e-9, 1e-11, "initial state grad")
    for (n, p), (tn, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == tn
        assert_close(p.grad, tp.grad, 1e-9, 1e-11, n)


@requires_torch
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(6))
def test_parity_with_torch_random_configs(mode, fused, seed):
    rng = np.random.default_rng(100 + seed)
    _torch_parity(mode, _random_config(rng, mode), fused, rng)


@requires_torch
@pytest.mark.parametrize("mode", MODES)
def test_parity_with_torch_everything_on(mode):
    """Two layers, bidirectional, batch_first, initial states, unsorted variable lengths."""
    cfg = dict(I=3, H=4, T=6, B=4, num_layers=2, bias=True, batch_first=True, bidirectional=True,
               with_state=True, with_lengths=True, nonlinearity="tanh")
    _torch_parity(mode, cfg, True, np.random.default_rng(7))


@requires_torch
def test_float32_parity_and_dtypes_after_a_train_step():
    theirs = torch.nn.LSTM(4, 8, num_layers=2)
    ours = nn.LSTM(4, 8, num_layers=2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    xs = np.random.default_rng(0).standard_normal((7, 3, 4)).astype(np.float32)
    x = tg.Tensor(xs, requires_grad=True)
    out, (h, c) = ours(x)
    tout, _ = theirs(torch.tensor(xs))
    assert_close(out, tout, 1e-5, 1e-6, "float32 output")
    ((out * out).mean() + h.sum() + c.sum()).backward()
    for t in (out, h, c, x.grad, *[p.grad for p in ours.parameters()]):
        assert t.dtype == np.float32
    for mode in MODES:
        m = _make(mode, 4, 3, bidirectional=True)
        out, st = m(tg.randn(5, 2, 4), lengths=[5, 2])
        out.sum().backward()
        assert out.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in m.parameters())


# ---------------------------------------------------------------- gradchecks (float64)
GRAD_CASES = [
    dict(),
    dict(num_layers=2, bidirectional=True),
    dict(batch_first=True, bias=False),
    dict(state=True, bidirectional=True),
    dict(lengths=[3, 1], bidirectional=True),
    dict(lengths=[2, 3], num_layers=2, state=True),
]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[str(c) for c in GRAD_CASES])
@pytest.mark.parametrize("mode", MODES)
def test_layer_gradcheck(mode, case):
    case = dict(case)
    with_state, lengths = case.pop("state", False), case.pop("lengths", None)
    m = _make(mode, 2, 2, **case).double()
    B, T = 2, 3
    x = rand64(*((B, T, 2) if case.get("batch_first") else (T, B, 2)))
    LD = case.get("num_layers", 1) * (2 if case.get("bidirectional") else 1)
    inputs = [x]
    if with_state:
        inputs += [rand64(LD, B, 2) for _ in range(2 if mode == "LSTM" else 1)]

    def fn(x, *s):
        hx = None if not s else (tuple(s) if mode == "LSTM" else s[0])
        return m(x, hx, lengths=lengths)
    assert tg.gradcheck(fn, inputs, params=list(m.parameters()))


@pytest.mark.parametrize("kw", [dict(peephole=True), dict(coupled=True), dict(peephole=True, coupled=True)],
                         ids=["peephole", "coupled", "peephole+coupled"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_lstm_variant_layer_gradcheck(kw, fused):
    m = nn.LSTM(2, 2, bidirectional=True, fused=fused, **kw).double()
    x, h0, c0 = rand64(3, 2, 2), rand64(2, 2, 2), rand64(2, 2, 2)
    assert tg.gradcheck(lambda x, h, c: m(x, (h, c), lengths=[3, 2]), [x, h0, c0], params=list(m.parameters()))


# ---------------------------------------------------------------- variable lengths
@pytest.mark.parametrize("mode", MODES)
def test_lengths_padding_is_ignored(mode):
    """Padded steps change nothing: outputs there are zero, the final state is each sequence's
    last valid one, and whatever the padding holds, results and gradients are the same."""
    m = _make(mode, 3, 4, bidirectional=True).double()
    x = rand64(5, 3, 3)
    lengths = [5, 2, 3]
    out, st = m(x, lengths=lengths)
    x2 = tg.Tensor(x.numpy().copy(), requires_grad=True)
    x2.array[2:, 1] = 1e3                          # garbage in the padding
    x2.array[3:, 2] = -7.0
    out2, st2 = m(x2, lengths=lengths)
    np.testing.assert_allclose(out.numpy(), out2.numpy(), atol=1e-12)
    for a, b in zip(_states(mode, st), _states(mode, st2)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)
    assert np.all(out.numpy()[2:, 1] == 0) and np.all(out.numpy()[3:, 2] == 0)
    # each sequence alone, unpadded, gives the same output and final state
    for b, L in enumerate(lengths):
        ob, sb = m(x[:L, b:b + 1])
        np.testing.assert_allclose(out.numpy()[:L, b:b + 1], ob.numpy(), atol=1e-12)
        for a, s in zip(_states(mode, st), _states(mode, sb)):
            np.testing.assert_allclose(a.numpy()[:, b:b + 1], s.numpy(), atol=1e-12)
    out2.sum().backward()
    assert np.all(x2.grad.numpy()[2:, 1] == 0) and np.all(x2.grad.numpy()[3:, 2] == 0)


def test_lengths_accept_arrays_and_tensors_and_full_lengths_change_nothing():
    m = nn.GRU(2, 3)
    x = tg.randn(4, 2, 2)
    ref = m(x)[0].numpy()
    for lengths in ([4, 4], np.array([4, 4]), tg.tensor([4, 4])):
        np.testing.assert_allclose(m(x, lengths=lengths)[0].numpy(), ref)
    np.testing.assert_allclose(m(x, lengths=tg.tensor([4, 2]))[0].numpy()[:2], ref[:2, :], rtol=1e-6)


def test_pad_sequence():
    seqs = [tg.randn(3, 2, requires_grad=True), tg.randn(1, 2, requires_grad=True)]
    padded = nn.pad_sequence(seqs)
    assert padded.shape == (3, 2, 2)
    np.testing.assert_allclose(padded.numpy()[:, 0], seqs[0].numpy())
    assert np.all(padded.numpy()[1:, 1] == 0)
    assert nn.pad_sequence(seqs, batch_first=True, padding_value=-1.0).numpy()[1, 2, 0] == -1.0
    padded.sum().backward()
    assert seqs[1].grad.shape == (1, 2)


# ---------------------------------------------------------------- dropout between layers
def test_dropout_between_layers_only_in_training():
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = tg.randn(5, 2, 3)
    m.eval()
    a, b = m(x)[0].numpy(), m(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    m.train()
    tg.manual_seed(1)
    c = m(x)[0].numpy()
    tg.manual_seed(1)
    np.testing.assert_array_equal(c, m(x)[0].numpy())      # reproducible under manual_seed
    assert not np.allclose(c, a)
    single = nn.LSTM(3, 4, dropout=0.5)                     # one layer: nothing between layers
    np.testing.assert_array_equal(single(x)[0].numpy(), single.eval()(x)[0].numpy())


# ---------------------------------------------------------------- errors
def test_layer_errors_name_the_problem():
    lstm = nn.LSTM(3, 2, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: input has 4 features .*expected input_size=3"):
        lstm(tg.randn(5, 2, 4))
    with pytest.raises(ValueError, match=r"LSTM: expected input of shape \(T, B, 3\)"):
        lstm(tg.randn(5, 2, 1, 3))
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(2, 2, 2\), got \(1, 2, 2\)"):
        lstm(tg.randn(5, 2, 3), (tg.zeros(1, 2, 2), tg.zeros(2, 2, 2)))
    with pytest.raises(ValueError, match=r"LSTM: expected the initial state as \(h_0, c_0\)"):
        lstm(tg.randn(5, 2, 3), (tg.zeros(2, 2, 2),))
    with pytest.raises(TypeError, match="GRU: input dtype float64 does not match the weights' dtype float32"):
        nn.GRU(3, 2)(tg.randn(5, 2, 3, dtype=tg.float64))
    with pytest.raises(ValueError, match=r"RNN: lengths must lie in \[1, 5\]"):
        nn.RNN(3, 2)(tg.randn(5, 2, 3), lengths=[6, 2])
    with pytest.raises(ValueError, match="RNN: lengths must be 2 integers"):
        nn.RNN(3, 2)(tg.randn(5, 2, 3), lengths=[5])
    with pytest.raises(ValueError, match="dropout must be a number in"):
        nn.LSTM(3, 2, dropout=1.5)
    with pytest.raises(ValueError, match="num_layers must be an integer >= 1"):
        nn.GRU(3, 2, num_layers=0)
    with pytest.raises(ValueError, match="LSTM: got an empty sequence"):
        nn.LSTM(3, 2)(tg.randn(0, 2, 3))
