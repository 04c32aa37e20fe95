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


# ------------------------------------------------------------------ module hooks
def linear_pair(i=3, o=2, seed=0):
    torch.manual_seed(seed)
    tm = torch.nn.Linear(i, o).double()
    om = nn.Linear(i, o).double()
    om.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return om, tm


def same(a, b, **kw):
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14, **kw)


def test_forward_pre_hook_and_forward_hook_semantics_match_torch():
    x = np.random.default_rng(0).standard_normal((4, 3))
    results = []
    for mod, m, xin in ((tg, linear_pair()[0], T(x)), (torch, linear_pair()[1], TT(x))):
        calls = []
        h1 = m.register_forward_pre_hook(lambda mm, args: calls.append(("pre1", len(args))) or args[0] * 2)
        h2 = m.register_forward_pre_hook(lambda mm, args: calls.append(("pre0", len(args))), prepend=True)
        h3 = m.register_forward_hook(lambda mm, args, out: calls.append(("fwd", tuple(args[0].shape))) or out + 1)
        h4 = m.register_forward_hook(lambda mm, args, kwargs, out: calls.append(("kw", sorted(kwargs))),
                                     with_kwargs=True)
        y1 = m(xin)
        h1.remove()
        h3.remove()
        y2 = m(xin)
        h2.remove()
        h4.remove()
        y3 = m(xin)
        results.append((calls, y1, y2, y3))
    (co, *yo), (ct, *yt) = results
    assert co == ct == [("pre0", 1), ("pre1", 1), ("fwd", (4, 3)), ("kw", []), ("pre0", 1), ("kw", [])]
    for a, b in zip(yo, yt):
        same(a, b)


def test_pre_hook_with_kwargs_and_handle_as_context_manager():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    class TScale(torch.nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    outs = []
    for m, mk in ((Scale(), T), (TScale(), TT)):
        with m.register_forward_pre_hook(lambda mm, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True):
            outs.append(m(mk([1.0, 2.0]), factor=2.0))
        outs.append(m(mk([1.0, 2.0]), factor=2.0))
    assert outs[0].tolist() == outs[2].tolist() == [3.0, 6.0] and outs[1].tolist() == outs[3].tolist() == [2.0, 4.0]
    bad = Scale()
    bad.register_forward_pre_hook(lambda mm, args, kwargs: 5, with_kwargs=True)
    tbad = TScale()
    tbad.register_forward_pre_hook(lambda mm, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError):
        tbad(TT([1.0]))
    with pytest.raises(RuntimeError, match="pre-hook"):
        bad(T([1.0]))


def test_always_call_forward_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    seen = []
    m = Boom()
    m.register_forward_hook(lambda mm, args, out: seen.append(out), always_call=True)
    m.register_forward_hook(lambda mm, args, out: seen.append("never"))
    with pytest.raises(ValueError, match="boom"):
        m(T([1.0]))
    assert seen == [None]


@pytest.mark.parametrize("replace", [False, True])
def test_full_backward_hook_on_linear_matches_torch(replace):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    got = []
    for mod, m, mk in ((tg, linear_pair()[0], T), (torch, linear_pair()[1], TT)):
        seen = {}

        def hook(mm, grad_input, grad_output, seen=seen):
            seen["gi"], seen["go"] = grad_input, grad_output
            return (grad_input[0] * 10,) if replace else None
        m.register_full_backward_hook(hook)
        xin = mk(x, True)
        (m(xin) * mk(w)).sum().backward()
        got.append((seen, xin.grad, m.weight.grad))
    (so, xo, wo), (st, xt, wt) = got
    assert len(so["gi"]) == len(st["gi"]) == 1 and len(so["go"]) == len(st["go"]) == 1
    same(so["gi"][0], st["gi"][0])
    same(so["go"][0], st["go"][0])
    same(xo, xt)
    same(wo, wt)


def test_full_backward_hooks_with_mixed_inputs_and_tuple_outputs_match_torch():
    """Two tensor inputs (one without grad) and a non-tensor argument; two outputs, one unused."""
    rng = np.random.default_rng(2)
    a, b, w = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal(3)

    def make(lib_nn):
        class Two(lib_nn.Module):
            def __init__(self):
                super().__init__()

            def forward(self, p, q, k):
                return p * q * k, p + q
        return Two()

    got = []
    for m, mk in ((make(nn), T), (make(torch.nn), TT)):
        seen = []
        m.register_full_backward_pre_hook(lambda mm, go: seen.append(("pre", go)) or (go[0] * 2, go[1]))
        m.register_full_backward_hook(lambda mm, gi, go: seen.append(("post", gi, go)))
        p, q = mk(a, True), mk(b)
        out1, out2 = m(p, q, 3.0)
        (out1 * mk(w)).sum().backward()
        got.append((seen, p.grad))
    (so, po), (st, pt) = got
    assert [s[0] for s in so] == [s[0] for s in st] == ["pre", "post"]
    for x, y in zip(so[0][1], st[0][1]):
        same(x, y)            # grad_output: None for the unused output, as in torch
    assert len(so[1][1]) == len(st[1][1]) == 3
    for x, y in zip(so[1][1], st[1][1]):
        same(x, y)            # grad_input: zeros for q, which needs none; None for the number
    for x, y in zip(so[1][2], st[1][2]):
        same(x, y)            # grad_output as the pre-hook left it
    same(po, pt)


def test_full_backward_hook_on_an_unused_input_matches_torch():
    """An input that forward ignores gets zeros in grad_input, and (through the hook) a zero .grad."""
    def make(lib_nn):
        class Second(lib_nn.Module):
            def forward(self, p, q):
                return q * 3
        return Second()

    got = []
    for m, mk in ((make(nn), T), (make(torch.nn), TT)):
        seen = []
        m.register_full_backward_hook(lambda mm, gi, go: seen.append(gi) or (None, gi[1] * 0 + 5))
        p, q = mk(np.ones((2, 2)), True), mk(np.ones((2, 2)), True)
        m(p, q).sum().backward()
        got.append((seen[0], p.grad, q.grad))
    for a, b in zip(got[0][0], got[1][0]):
        same(a, b)
    same(got[0][1], got[1][1])
    same(got[0][2], got[1][2])


def test_full_backward_hook_when_no_input_requires_grad_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3))
    got = []
    for m, mk in ((linear_pair()[0], T), (linear_pair()[1], TT)):
        seen = []
        m.register_full_backward_hook(lambda mm, gi, go: seen.append((gi, go)))
        with pytest.warns(UserWarning, match="no inputs require gradients"):
            m(mk(x)).sum().backward()
        got.append((seen, m.bias.grad))
    (so, bo), (st, bt) = got
    assert len(so) == len(st) == 1 and so[0][0] == st[0][0] == (None,)
    same(so[0][1][0], st[0][1][0])
    same(bo, bt)
    m = linear_pair()[0]
    m.register_full_backward_hook(lambda mm, gi, go: (T(np.ones((2, 3))),))
    with pytest.raises(RuntimeError, match="must return None"), pytest.warns(UserWarning):
        m(T(x)).sum().backward()


def test_backward_hook_wrong_length_and_hooks_in_a_sequential_match_torch():
    m = linear_pair()[0]
    m.register_full_backward_hook(lambda mm, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        m(T(np.ones((1, 3)), True)).sum().backward()
    # hooks of nested modules fire in backward order: the last layer first
    torch.manual_seed(0)
    ts = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    os_ = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    os_.load_state_dict({k: v.detach().numpy() for k, v in ts.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((5, 3))
    logs = []
    for seq, mk in ((os_, T), (ts, TT)):
        log = []
        for i, layer in enumerate(seq):
            layer.register_forward_hook(lambda mm, a, o, i=i, log=log: log.append(("f", i)))
            layer.register_full_backward_hook(lambda mm, gi, go, i=i, log=log: log.append(("b", i, gi[0].numpy()
                                              if hasattr(gi[0], "numpy") else None)))
        seq(mk(x, True)).sum().backward()
        logs.append(log)
    assert [e[:2] for e in logs[0]] == [e[:2] for e in logs[1]]
    for eo, et in zip(*logs):
        if eo[0] == "b":
            np.testing.assert_allclose(eo[2], et[2].detach().numpy() if hasattr(et[2], "detach") else et[2])


def test_module_zero_grad_set_to_none_matches_torch():
    om, tm = linear_pair()
    for m, mk in ((om, T), (tm, TT)):
        m(mk(np.ones((2, 3)))).sum().backward()
    om.zero_grad(set_to_none=False)
    tm.zero_grad(set_to_none=False)
    for po, pt in zip(om.parameters(), tm.parameters()):
        same(po.grad, pt.grad)
        assert not po.grad.numpy().any()
    om.zero_grad()
    tm.zero_grad()
    assert all(p.grad is None for p in om.parameters()) and all(p.grad is None for p in tm.parameters())


# ------------------------------------------------------------------ gradchecks and the GPU path
def test_packing_and_hooked_modules_pass_gradcheck():
    rng = np.random.default_rng(5)
    x = T(rng.standard_normal((4, 3, 2)), True)

    def round_trip(x):
        packed = rnn_utils.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        return rnn_utils.pad_packed_sequence(packed, batch_first=True, padding_value=0.5, total_length=5)[0]
    assert tg.gradcheck(round_trip, [x])

    m = nn.Linear(2, 3).double()
    seen = []
    m.register_full_backward_hook(lambda mm, gi, go: seen.append(1))
    m.register_forward_pre_hook(lambda mm, args: args[0] * 2)
    assert tg.gradcheck(lambda x: m(x).tanh(), [T(rng.standard_normal((4, 2)), True)])
    assert seen
    lstm = nn.LSTM(2, 3, bidirectional=True).double()
    seqs = [T(rng.standard_normal((n, 2)), True) for n in (3, 1, 2)]
    assert tg.gradcheck(lambda *s: lstm(rnn_utils.pack_sequence(list(s), enforce_sorted=False))[0].data, seqs)


try:
    from tests.conftest import gpu
except ImportError:   # pragma: no cover
    gpu = pytest.mark.skip(reason="no conftest")


@gpu
def test_packed_lstm_and_hooks_on_gpu_match_cpu():
    rng = np.random.default_rng(6)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    x = rng.standard_normal((5, 3, 3))
    outs = []
    for device in ("cpu", "cuda"):
        lstm.to(device)
        grads = []
        lstm.register_full_backward_hook(lambda mm, gi, go: grads.append(gi[0].numpy()))
        xin = tg.Tensor(x, device=device, requires_grad=True)
        out, (h, c) = lstm(rnn_utils.pack_padded_sequence(xin, [5, 2, 3], enforce_sorted=False))
        (out.data.sum() + h.sum()).backward()
        outs.append((out.data.numpy(), h.numpy(), xin.grad.numpy(), grads[0]))
        lstm._backward_hooks.clear()
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    v = nn.utils.parameters_to_vector(lstm.parameters())
    assert v.device == "cuda"
    nn.utils.vector_to_parameters(v * 2, lstm.parameters())
