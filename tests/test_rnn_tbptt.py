"""Truncated BPTT: detached state cuts the graph, long sequences backpropagate without
recursion, memory stays bounded; per-step gradient norms for vanishing / exploding."""
import gc

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq.autograd import AutogradError, Node
from tinygrad_seq.nn.tbptt import TBPTT, detach_state, hidden_grad_norms, tbptt_chunks
from tinygrad_seq.optim import SGD, Adam
from tests.conftest import rand64


def _live_nodes():
    gc.collect()
    return sum(type(o) is Node for o in gc.get_objects())


def _grads(m):
    return [p.grad.numpy().copy() for p in m.parameters()]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_truncated_gradient_equals_the_chunk_alone_with_a_constant_state(fused):
    m = nn.LSTM(2, 3, fused=fused).double()
    x = rand64(8, 2, 2, requires_grad=False)
    chunks = list(tbptt_chunks(x, k=4))
    # truncated: chunk 1, detach, chunk 2
    out, state = m(chunks[0])
    out.sum().backward()
    state = detach_state(state)
    assert all(s._ctx is None and not s.requires_grad for s in state)
    m.zero_grad()
    out, _ = m(chunks[1], state)
    (out * out).sum().backward()
    truncated = _grads(m)
    # the second chunk alone, from the carried values as a constant initial state
    m.zero_grad()
    h0, c0 = (tg.Tensor(s.numpy()) for s in state)
    out, _ = m(chunks[1], (h0, c0))
    (out * out).sum().backward()
    for a, b in zip(truncated, _grads(m)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # and it differs from full BPTT of the same loss, which also flows into chunk 1
    m.zero_grad()
    out, _ = m(x)
    (out[4:] * out[4:]).sum().backward()
    assert not np.allclose(truncated[1], _grads(m)[1])


def test_without_detach_the_second_backward_hits_the_freed_graph():
    m = nn.GRU(2, 3)
    x = tg.randn(6, 1, 2)
    out, h = m(x[:3])
    out.sum().backward()
    out, h = m(x[3:], h)            # h still points into chunk 1's (released) graph
    with pytest.raises(AutogradError, match="backward through the graph a second time"):
        out.sum().backward()


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_ten_thousand_steps_backpropagate_without_recursion_error(fused):
    m = nn.LSTM(2, 4, fused=fused)
    x = tg.randn(10_000, 1, 2)
    out, (h, c) = m(x)
    (out[-1].sum() + c.sum()).backward()
    assert all(np.isfinite(p.grad.numpy()).all() for p in m.parameters())
    assert np.abs(m.weight_hh_l0.grad.numpy()).sum() > 0
    del out, h, c      # dropping a long released graph must not recurse either
    gc.collect()


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_truncated_training_memory_does_not_grow_with_length(fused):
    """Count live autograd nodes after every chunk: bounded by one chunk's graph, not the
    sequence length (without detach every chunk's nodes would stay reachable)."""
    tg.manual_seed(0)
    m = nn.LSTM(3, 4, fused=fused)
    head = nn.Linear(4, 1)
    opt = SGD(list(m.parameters()) + list(head.parameters()), lr=0.01)
    x, y = tg.randn(400, 2, 3), tg.randn(400, 2, 1)
    runner = TBPTT(lambda xc, s: (lambda o: (head(o[0]), o[1]))(m(xc, s)),
                   lambda out, yc: ((out - yc) * (out - yc)).mean(), opt, k=20)
    counts = []
    runner.run(x, y, callback=lambda i, loss: counts.append(_live_nodes()))
    assert len(counts) == 20
    assert max(counts) == counts[0] and max(counts) <= 10
    assert runner.state is not None and runner.state[0]._ctx is None


def test_tbptt_chunks():
    x, y = tg.arange(10).reshape(10, 1), tg.arange(10).reshape(10, 1) * 2
    chunks = list(tbptt_chunks(x, y, k=4))
    assert [c[0].shape[0] for c in chunks] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([c[1].numpy() for c in chunks]), y.numpy())
    bf = list(tbptt_chunks(tg.zeros(2, 7, 3), k=3, time_dim=1))
    assert [c.shape for c in bf] == [(2, 3, 3), (2, 3, 3), (2, 1, 3)]
    with pytest.raises(ValueError, match="differ in length"):
        list(tbptt_chunks(x, tg.zeros(9, 1), k=4))
    with pytest.raises(ValueError, match="k must be >= 1"):
        list(tbptt_chunks(x, k=0))
    assert detach_state(None) is None
    with pytest.raises(TypeError, match="detach_state"):
        detach_state(3)


def test_tbptt_runner_learns_a_delayed_copy():
    """Output the input from 2 steps back: needs state carried across chunk boundaries."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((600, 4, 1)).astype(np.float32)
    ys = np.concatenate([np.zeros((2, 4, 1), np.float32), xs[:-2]])
    m, head = nn.GRU(1, 16), nn.Linear(16, 1)
    opt = Adam(list(m.parameters()) + list(head.parameters()), lr=0.02)

    def model(xc, state):
        out, state = m(xc, state)
        return head(out), state
    runner = TBPTT(model, lambda o, t: ((o - t) * (o - t)).mean(), opt, k=10, max_norm=1.0)
    losses = runner.run(tg.tensor(xs), tg.tensor(ys))
    assert np.mean(losses[-10:]) < 0.2 * np.mean(losses[:5])


# ---------------------------------------------------------------- per-step gradient norms
def _norms(scale, mode="RNN", nonlinearity="tanh", T=12):
    tg.manual_seed(0)
    m = getattr(nn, mode)(2, 3, record_hidden_grads=True, **({"nonlinearity": nonlinearity} if mode == "RNN" else {}))
    with tg.no_grad():
        m.weight_hh_l0.array = (np.eye(3) * scale).astype(np.float32) if mode == "RNN" else m.weight_hh_l0.array
    x = tg.rand(T, 2, 2)          # positive inputs keep relu units on
    out, _ = m(x)
    out[-1].sum().backward()
    return m.hidden_grad_norms()


def test_hidden_grad_norms_vanish_and_explode():
    small = _norms(0.1)                       # |dh_t/dh_{t-1}| <= 0.1: vanishing
    assert small.shape == (12,)
    np.testing.assert_allclose(small[-1], np.sqrt(2 * 3), rtol=1e-6)   # dL/dh_T = ones(B, H)
    assert np.all(np.diff(small) > 0) and small[0] < 1e-8 * small[-1]
    big = _norms(1.5, nonlinearity="relu")    # relu with recurrent gain 1.5: exploding
    assert np.all(np.diff(big) < 0) and big[0] > 50 * big[-1]
    lstm = _norms(None, mode="LSTM")
    assert np.all(lstm > 0)


def test_hidden_grad_norms_match_a_hand_written_loop():
    tg.manual_seed(0)
    m = nn.GRU(2, 3, record_hidden_grads=True).double()
    x = rand64(6, 2, 2, requires_grad=False)
    out, h = m(x)
    (out * out).sum().backward()
    recorded = m.hidden_grad_norms()
    cell = nn.GRUCell(2, 3).double()
    cell.load_state_dict({k[:-3]: v for k, v in m.state_dict().items()})
    h, hs = None, []
    for t in range(6):
        h = cell(x[t], h).retain_grad()
        hs.append(h)
    (tg.stack(hs) * tg.stack(hs)).sum().backward()
    np.testing.assert_allclose(recorded, hidden_grad_norms(hs), rtol=1e-10)
    with pytest.raises(RuntimeError, match="no hidden states recorded"):
        nn.GRU(2, 3).hidden_grad_norms()
