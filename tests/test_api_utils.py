"""torch.nn.utils: packed sequences (layout, round trips, gradients, errors, and RNN/LSTM/GRU
on packed input), parameters_to_vector / vector_to_parameters, clip imports; Module hooks
and zero_grad - all against torch."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch")
trnn = torch.nn.utils.rnn


def T(a, grad=False):
    return tg.Tensor(np.array(a), requires_grad=grad)


def TT(a, grad=False):
    return torch.tensor(np.array(a), requires_grad=grad)


# ------------------------------------------------------------------ packing layout
CASES = [([5, 3, 3, 1], True, False), ([2, 5, 3], False, False), ([2, 5, 3], False, True),
         ([4, 4, 1, 4, 2, 2], False, True), ([1], True, False), ([3, 3, 3], False, False)]


@pytest.mark.parametrize("lengths,enforce,batch_first", CASES)
def test_pack_padded_sequence_layout_matches_torch(lengths, enforce, batch_first):
    rng = np.random.default_rng(len(lengths))
    B, Tm = len(lengths), max(lengths) + 1
    x = rng.standard_normal((B, Tm, 3) if batch_first else (Tm, B, 3))
    ours = rnn_utils.pack_padded_sequence(T(x), lengths, batch_first=batch_first, enforce_sorted=enforce)
    theirs = trnn.pack_padded_sequence(TT(x), torch.tensor(lengths), batch_first=batch_first,
                                       enforce_sorted=enforce)
    assert isinstance(ours, rnn_utils.PackedSequence) and ours._fields == theirs._fields
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
    assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist() and ours.batch_sizes.dtype == np.int64
    for k in ("sorted_indices", "unsorted_indices"):
        a, b = getattr(ours, k), getattr(theirs, k)
        assert (a is None and b is None) or a.tolist() == b.tolist()
    # back to padded, with a padding value and a longer total length
    for total in (None, Tm + 2):
        po, lo = rnn_utils.pad_packed_sequence(ours, batch_first=batch_first, padding_value=-7.0, total_length=total)
        pt, lt = trnn.pad_packed_sequence(theirs, batch_first=batch_first, padding_value=-7.0, total_length=total)
        np.testing.assert_array_equal(po.numpy(), pt.numpy())
        assert lo.tolist() == lt.tolist() == list(lengths) and lo.dtype == np.int64


def test_pack_pad_round_trip_gradients_match_torch():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3, 2)), rng.standard_normal((5, 3, 2))
    xo, xt = T(x, True), TT(x, True)
    po = rnn_utils.pack_padded_sequence(xo, [2, 4, 1], enforce_sorted=False)
    pt = trnn.pack_padded_sequence(xt, [2, 4, 1], enforce_sorted=False)
    wd = rng.standard_normal(tuple(pt.data.shape))
    (po.data * T(wd)).sum().backward()
    (pt.data * TT(wd)).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy())
    xo.grad = xt.grad = None
    do, dt = T(po.data.numpy(), True), TT(pt.data.detach().numpy(), True)
    qo = rnn_utils.PackedSequence(do, po.batch_sizes, po.sorted_indices, po.unsorted_indices)
    qt = trnn.PackedSequence(dt, pt.batch_sizes, pt.sorted_indices, pt.unsorted_indices)
    (rnn_utils.pad_packed_sequence(qo, total_length=5)[0] * T(w)).sum().backward()
    (trnn.pad_packed_sequence(qt, total_length=5)[0] * TT(w)).sum().backward()
    np.testing.assert_allclose(do.grad.numpy(), dt.grad.numpy())


def test_pad_pack_sequence_and_inverses_match_torch():
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    for bf in (False, True):
        for side in ("right", "left"):
            a = rnn_utils.pad_sequence([T(s) for s in seqs], batch_first=bf, padding_value=9.0, padding_side=side)
            b = trnn.pad_sequence([TT(s) for s in seqs], batch_first=bf, padding_value=9.0, padding_side=side)
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert nn.pad_sequence is rnn_utils.pad_sequence   # the one implementation, also under nn
    po = rnn_utils.pack_sequence([T(s) for s in seqs], enforce_sorted=False)
    pt = trnn.pack_sequence([TT(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(po.data.numpy(), pt.data.numpy())
    assert po.sorted_indices.tolist() == pt.sorted_indices.tolist()
    for got, want in zip(rnn_utils.unpack_sequence(po), seqs):
        np.testing.assert_array_equal(got.numpy(), want)
    padded = rnn_utils.pad_sequence([T(s) for s in seqs], batch_first=True)
    for got, want in zip(rnn_utils.unpad_sequence(padded, [3, 5, 1], batch_first=True), seqs):
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("lengths,kw,err", [
    ([3, 1, 2], dict(), RuntimeError),                  # not sorted, enforce_sorted=True
    ([3, 0, 2], dict(enforce_sorted=False), RuntimeError),
    ([3, 2], dict(), RuntimeError),                     # one length per batch element
])
def test_pack_padded_sequence_errors_match_torch(lengths, kw, err):
    x = np.zeros((3, 3, 2))
    with pytest.raises(err):
        trnn.pack_padded_sequence(TT(x), lengths, **kw)
    with pytest.raises(err, match="pack_padded_sequence"):
        rnn_utils.pack_padded_sequence(T(x), lengths, **kw)


def test_pad_packed_sequence_total_length_error_matches_torch():
    po = rnn_utils.pack_sequence([T(np.ones((3, 1))), T(np.ones((2, 1)))])
    pt = trnn.pack_sequence([TT(np.ones((3, 1))), TT(np.ones((2, 1)))])
    with pytest.raises(ValueError, match="total_length"):
        trnn.pad_packed_sequence(pt, total_length=2)
    with pytest.raises(ValueError, match="total_length"):
        rnn_utils.pad_packed_sequence(po, total_length=2)


# ------------------------------------------------------------------ recurrent layers on packed input
LAYERS = [("LSTM", dict()), ("GRU", dict()), ("RNN", dict(nonlinearity="relu")),
          ("LSTM", dict(num_layers=2, bidirectional=True)), ("GRU", dict(bidirectional=True, batch_first=True)),
          ("LSTM", dict(batch_first=True, num_layers=2))]


@pytest.mark.parametrize("mode,kw", LAYERS, ids=[f"{m}-{kw}" for m, kw in LAYERS])
@pytest.mark.parametrize("fused", [True, False])
def test_recurrent_layers_on_packed_input_match_torch(mode, kw, fused):
    rng = np.random.default_rng(2)
    theirs = getattr(torch.nn, mode)(3, 4, **kw).double()
    ours = getattr(nn, mode)(3, 4, fused=fused, **kw).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    lengths, B = [3, 5, 1, 5], 4
    x = rng.standard_normal((B, 5, 3) if kw.get("batch_first") else (5, B, 3))
    D = 2 if kw.get("bidirectional") else 1
    h0 = rng.standard_normal((kw.get("num_layers", 1) * D, B, 4))
    xo, xt = T(x, True), TT(x, True)
    po = rnn_utils.pack_padded_sequence(xo, lengths, batch_first=kw.get("batch_first", False), enforce_sorted=False)
    pt = trnn.pack_padded_sequence(xt, lengths, batch_first=kw.get("batch_first", False), enforce_sorted=False)
    hx_o = (T(h0), T(h0 * 0.5)) if mode == "LSTM" else T(h0)
    hx_t = (TT(h0), TT(h0 * 0.5)) if mode == "LSTM" else TT(h0)
    out_o, h_o = ours(po, hx_o)
    out_t, h_t = theirs(pt, hx_t)
    assert isinstance(out_o, rnn_utils.PackedSequence)
    np.testing.assert_allclose(out_o.data.numpy(), out_t.data.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert out_o.batch_sizes.tolist() == out_t.batch_sizes.tolist()
    assert out_o.sorted_indices.tolist() == out_t.sorted_indices.tolist()
    hs_o, hs_t = (list(h_o), list(h_t)) if mode == "LSTM" else ([h_o], [h_t])
    for a, b in zip(hs_o, hs_t):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    wd = rng.standard_normal(tuple(out_t.data.shape))
    loss_o = (out_o.data * T(wd)).sum() + sum((h * h).sum() for h in hs_o)
    loss_t = (out_t.data * TT(wd)).sum() + sum((h * h).sum() for h in hs_t)
    loss_o.backward()
    loss_t.backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    grads_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads_t[name].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_packed_input_with_sorted_batch_and_errors():
    torch.manual_seed(0)
    theirs = torch.nn.GRU(2, 3).double()
    ours = nn.GRU(2, 3).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    seqs = [np.random.default_rng(i).standard_normal((n, 2)) for i, n in enumerate((4, 2, 2))]
    out_o, h_o = ours(rnn_utils.pack_sequence([T(s) for s in seqs]))
    out_t, h_t = theirs(trnn.pack_sequence([TT(s) for s in seqs]))
    assert out_o.sorted_indices is None and out_t.sorted_indices is None
    np.testing.assert_allclose(out_o.data.numpy(), out_t.data.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(h_o.numpy(), h_t.detach().numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="lengths= or a PackedSequence"):
        ours(rnn_utils.pack_sequence([T(s) for s in seqs]), lengths=[4, 2, 2])
    with pytest.raises(RuntimeError):
        theirs(trnn.pack_sequence([TT(s) for s in seqs]), TT(np.zeros((1, 2, 3))))
    with pytest.raises(ValueError, match="h_0"):
        ours(rnn_utils.pack_sequence([T(s) for s in seqs]), T(np.zeros((1, 2, 3))))


# ------------------------------------------------------------------ parameters as a vector
def test_parameters_to_vector_and_back_match_torch():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).double()
    om = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
    om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    vo = nn.utils.parameters_to_vector(om.parameters())
    vt = torch.nn.utils.parameters_to_vector(tm.parameters())
    np.testing.assert_array_equal(vo.numpy(), vt.detach().numpy())
    w = np.arange(vt.shape[0], dtype=np.float64)
    (vo * T(w)).sum().backward()
    (vt * TT(w)).sum().backward()
    for (n, po), pt in zip(om.named_parameters(), tm.parameters()):
        np.testing.assert_array_equal(po.grad.numpy(), pt.grad.numpy(), err_msg=n)
    new = np.linspace(-1, 1, vt.shape[0])
    nn.utils.vector_to_parameters(T(new), om.parameters())
    torch.nn.utils.vector_to_parameters(TT(new), tm.parameters())
    for po, pt in zip(om.parameters(), tm.parameters()):
        np.testing.assert_array_equal(po.numpy(), pt.detach().numpy())
    with pytest.raises(TypeError):
        torch.nn.utils.vector_to_parameters(new, tm.parameters())
    with pytest.raises(TypeError, match="vector_to_parameters"):
        nn.utils.vector_to_parameters(new, om.parameters())
    with pytest.raises(ValueError, match="entries"):
        nn.utils.vector_to_parameters(T(new[:-1]), om.parameters())


def test_clip_functions_keep_their_import_paths():
    from tinygrad_seq.nn.utils import clip_grad_norm_, clip_grad_value_
    from tinygrad_seq.nn.utils.clip_grad import clip_grad_norm_ as c2
    assert clip_grad_norm_ is c2 is nn.utils.clip_grad_norm_ and callable(clip_grad_value_)
    from tinygrad_seq.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence  # noqa: F401
