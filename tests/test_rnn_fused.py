"""The fused sequence Functions (rnn_fused.py) equal the composed cell-stepping path,
pass gradcheck on their own, and behave as autograd Functions should."""
import gc

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq.autograd import Node
from tinygrad_seq.nn import rnn_fused
from tests.conftest import rand64

CONFIGS = [
    ("RNN", dict()), ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
    ("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True)), ("LSTM", dict(bias=False)),
    ("LSTM", dict(peephole=True, bidirectional=True)), ("LSTM", dict(coupled=True, num_layers=2)),
    ("LSTM", dict(peephole=True, coupled=True)),
    ("GRU", dict()), ("GRU", dict(num_layers=2, bidirectional=True, bias=False)),
]


def _run(m, x, hx, lengths):
    for p in m.parameters():
        p.grad = None
    x.grad = None
    out, state = m(x, hx, lengths=lengths)
    states = list(state) if isinstance(state, tuple) else [state]
    rng = np.random.default_rng(3)
    loss = (out * tg.Tensor(rng.standard_normal(out.shape))).sum()
    for s in states:
        loss = loss + (s * s * tg.Tensor(rng.standard_normal(s.shape))).sum()
    loss.backward()
    return [out.numpy()] + [s.numpy() for s in states] + [x.grad.numpy()] + [p.grad.numpy() for p in m.parameters()]


@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("mode, kw", CONFIGS, ids=[f"{m}-{k}" for m, k in CONFIGS])
def test_fused_equals_composed(mode, kw, with_lengths):
    tg.manual_seed(0)
    fused = getattr(nn, mode)(3, 4, fused=True, **kw).double()
    composed = getattr(nn, mode)(3, 4, fused=False, **kw).double()
    composed.load_state_dict(fused.state_dict())
    x = rand64(6, 3, 3)
    lengths = [6, 2, 4] if with_lengths else None
    LD = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    hs = [rand64(LD, 3, 4, requires_grad=False) for _ in range(2 if mode == "LSTM" else 1)]
    hx = tuple(hs) if mode == "LSTM" else hs[0]
    for a, b in zip(_run(fused, x, hx, lengths), _run(composed, x, hx, lengths)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


LSTM_CONFIGS = [c for c in CONFIGS if c[0] == "LSTM"]


@pytest.mark.parametrize("run_steps", [1, 4])
@pytest.mark.parametrize("mode, kw", LSTM_CONFIGS, ids=[f"{m}-{k}" for m, k in LSTM_CONFIGS])
def test_lstm_backward_in_runs_of_steps_equals_composed(mode, kw, run_steps, monkeypatch):
    """A long sequence's LSTM backward takes its gate gradients a run of steps at a time (the
    run's buffer stays under MMAP_MIN bytes): with runs of 1 or 4 of the 6 steps (a short last
    run), the result is the composed path's, lengths and initial states included."""
    G, B = 4 * 4, 3
    monkeypatch.setattr(rnn_fused, "MMAP_MIN", (run_steps + 1) * B * G * 8)
    assert len(rnn_fused._runs(rnn_fused._steps(6, False), B * G * 8)) == -(-6 // run_steps)
    test_fused_equals_composed(mode, kw, with_lengths=True)


def test_fused_flag_selects_the_path_and_the_graph_size():
    """Fused: one recorded node per layer-direction (plus slicing); composed: ~a dozen per step."""
    def nodes(m):
        out, _ = m(tg.randn(20, 2, 3, requires_grad=True))
        seen, stack = set(), [out._ctx]
        while stack:
            n = stack.pop()
            if n is None or n.__class__ is not Node or id(n) in seen:
                continue
            seen.add(id(n))
            stack.extend(p[0] if p.__class__ is tuple else p for p in n.parents)   # (node, k): output k
        return len(seen)
    fused, composed = nn.LSTM(3, 4), nn.LSTM(3, 4, fused=False)
    assert fused.fused and not composed.fused
    assert nodes(fused) <= 3 and nodes(composed) > 20 * 10


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_sequence_function_gradcheck(reverse):
    T, B, I, H = 3, 2, 2, 2
    x, h0, c0 = rand64(T, B, I), rand64(B, H), rand64(B, H)
    w_ih, w_hh, b_ih, b_hh = rand64(4 * H, I), rand64(4 * H, H), rand64(4 * H), rand64(4 * H)
    mask = np.arange(T)[:, None, None] < np.array([3, 2])[None, :, None]
    assert tg.gradcheck(lambda *a: rnn_fused.LSTMSequence.apply(*a, None, None, None, mask, reverse, False),
                        [x, h0, c0, w_ih, w_hh, b_ih, b_hh])


@pytest.mark.parametrize("reverse", [False, True])
def test_gru_and_rnn_sequence_function_gradcheck(reverse):
    T, B, I, H = 3, 2, 2, 2
    x, h0 = rand64(T, B, I), rand64(B, H)
    w3 = [rand64(3 * H, I), rand64(3 * H, H), rand64(3 * H), rand64(3 * H)]
    assert tg.gradcheck(lambda *a: rnn_fused.GRUSequence.apply(*a, None, reverse), [x, h0, *w3])
    w1 = [rand64(H, I), rand64(H, H), rand64(H), rand64(H)]
    assert tg.gradcheck(lambda *a: rnn_fused.RNNSequence.apply(*a, None, reverse, "tanh"), [x, h0, *w1])


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_backward_twice_with_retain_graph_leaves_saved_buffers_intact(mode):
    m = getattr(nn, mode)(3, 4, bidirectional=True).double()
    x = rand64(5, 2, 3)
    out, _ = m(x, lengths=[5, 3])
    loss = (out * out).sum()
    loss.backward(retain_graph=True)
    first = [p.grad.numpy().copy() for p in m.parameters()] + [x.grad.numpy().copy()]
    loss.backward()
    for g, p in zip(first, list(m.parameters()) + [x]):
        np.testing.assert_allclose(p.grad.numpy(), 2 * g, rtol=1e-12)


def test_inputs_without_grad_and_frozen_weights():
    m = nn.LSTM(3, 4).double()
    x = rand64(5, 2, 3, requires_grad=False)
    m.weight_ih_l0.requires_grad = False
    out, (h, c) = m(x)
    (out.sum() + c.sum()).backward()
    assert m.weight_ih_l0.grad is None and m.weight_hh_l0.grad is not None and x.grad is None


def test_fused_forward_does_not_grow_memory_between_calls():
    """Every buffer belongs to one call: after the graph is dropped, nothing stays alive."""
    m = nn.GRU(3, 4)
    x = tg.randn(30, 2, 3)
    gc.collect()
    before = sum(type(o) is Node for o in gc.get_objects())
    for _ in range(3):
        out, h_n = m(x)
        out.sum().backward()
    del out, h_n
    gc.collect()
    assert sum(type(o) is Node for o in gc.get_objects()) == before


def test_step_helpers_match_the_cell_equations():
    """The CPU gate helpers, one step, against the cell equations (gate-major activations)."""
    rng = np.random.default_rng(0)
    B, H = 3, 4
    z = rng.standard_normal((B, 4 * H))
    c_prev = rng.standard_normal((B, H))
    c, tc, h, acts = np.empty((B, H)), np.empty((B, H)), np.empty((B, H)), np.empty((4, B, H))
    rnn_fused.lstm_step_forward(np, z.copy(), c_prev, acts, c, tc, h)
    s = 1 / (1 + np.exp(-z))
    i, f, g, o = s[:, :H], s[:, H:2 * H], np.tanh(z[:, 2 * H:3 * H]), s[:, 3 * H:]
    np.testing.assert_allclose(c, f * c_prev + i * g, rtol=1e-12)
    np.testing.assert_allclose(h, o * np.tanh(c), rtol=1e-12)
    np.testing.assert_allclose(acts, np.stack([i, f, g, o]), rtol=1e-12)
    np.testing.assert_array_equal(rnn_fused.gate_major(z, 4)[2], z[:, 2 * H:3 * H])


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_sequence_functions_return_output_and_final_states_as_separate_outputs(mode):
    """One node, outputs (output, h_n[, c_n]); each gets its own gradient (zeros when unused)."""
    T, B, I, H = 4, 2, 3, 2
    n = 4 if mode == "LSTM" else 3 if mode == "GRU" else 1
    x, h0 = rand64(T, B, I), rand64(B, H)
    ws = [rand64(n * H, I), rand64(n * H, H), rand64(n * H), rand64(n * H)]
    for reverse in (False, True):
        if mode == "LSTM":
            outs = rnn_fused.LSTMSequence.apply(x, h0, rand64(B, H), *ws, None, None, None, None, reverse, False)
        elif mode == "GRU":
            outs = rnn_fused.GRUSequence.apply(x, h0, *ws, None, reverse)
        else:
            outs = rnn_fused.RNNSequence.apply(x, h0, *ws, None, reverse, "tanh")
        assert len(outs) == (3 if mode == "LSTM" else 2) and len({o._ctx for o in outs}) == 1
        out, h_n = outs[0], outs[1]
        assert out.shape == (T, B, H) and h_n.shape == (B, H)
        np.testing.assert_array_equal(h_n.numpy(), out.numpy()[0 if reverse else T - 1])
        # h_n alone: the output's gradient is zeros, and the result is the same as through out
        g_h, = tg.autograd.grad(h_n.sum(), x, retain_graph=True)
        g_o, = tg.autograd.grad(out[0 if reverse else T - 1].sum(), x)
        np.testing.assert_allclose(g_h.numpy(), g_o.numpy(), rtol=1e-12, atol=1e-14)


def test_an_in_place_edit_of_a_fused_output_is_caught_at_backward():
    m = nn.LSTM(3, 4).double()
    out, (h, c) = m(rand64(5, 2, 3))
    with tg.no_grad():
        out.mul_(2)
    with pytest.raises(tg.autograd.AutogradError, match="LSTMSequence"):
        (out.sum() + h.sum()).backward()
