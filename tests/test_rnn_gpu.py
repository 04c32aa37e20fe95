"""The recurrent layers on CUDA (CuPy): both paths, compared with the CPU results.
The fused path uses the cupy.ElementwiseKernels of rnn_fused.py for the plain LSTM and
the GRU, and the generic xp code for RNN and the LSTM variants. Skipped without a GPU."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq.nn import rnn_fused

pytestmark = pytest.mark.gpu

CASES = [
    ("RNN", dict()), ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
    ("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(peephole=True)), ("LSTM", dict(coupled=True, bidirectional=True)),
    ("GRU", dict()), ("GRU", dict(num_layers=2, bidirectional=True, bias=False)),
]


def _run(m, x, lengths, device):
    m.to(device)
    for p in m.parameters():
        p.grad = None
    xt = tg.Tensor(x, device=device, requires_grad=True)
    out, state = m(xt, lengths=lengths)
    states = list(state) if isinstance(state, tuple) else [state]
    w = tg.Tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape).astype(x.dtype), device=device)
    loss = (out * w).sum()
    for s in states:
        loss = loss + (s * s).sum()
    loss.backward()
    res = [out.numpy()] + [s.numpy() for s in states] + [xt.grad.numpy()] + [p.grad.numpy() for p in m.parameters()]
    assert all(t.device == device for t in [out, xt.grad] + states)
    return res


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-4)], ids=["float64", "float32"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("mode, kw", CASES, ids=[f"{m}-{k}" for m, k in CASES])
def test_cuda_matches_cpu(mode, kw, with_lengths, fused, dtype, tol):
    tg.manual_seed(0)
    m = getattr(nn, mode)(3, 5, fused=fused, **kw).to(dtype=dtype)
    x = np.random.default_rng(0).standard_normal((7, 4, 3)).astype(dtype)
    lengths = [7, 3, 5, 1] if with_lengths else None
    cpu = _run(m, x, lengths, "cpu")
    gpu = _run(m, x, lengths, "cuda")
    for a, b in zip(gpu, cpu):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_kernels_match_the_numpy_gate_math(dtype):
    import cupy
    rng = np.random.default_rng(0)
    B, H = 5, 7
    z = rng.standard_normal((B, 4 * H)).astype(dtype)
    c_prev = rng.standard_normal((B, H)).astype(dtype)
    outs = {}
    for xp in (np, cupy):
        acts = xp.empty((4, B, H), dtype=dtype)
        c, tc, h = (xp.empty((B, H), dtype=dtype) for _ in range(3))
        rnn_fused.lstm_step_forward(xp, xp.asarray(z.copy()), xp.asarray(c_prev), acts, c, tc, h)
        dh, dc = xp.asarray(np.ones((B, H), dtype)), xp.asarray(np.full((B, H), 0.5, dtype))
        dz, scratch = xp.empty((B, 4 * H), dtype=dtype), xp.empty((4, B, H), dtype=dtype)
        rnn_fused.lstm_step_backward(xp, acts, xp.asarray(c_prev), tc, dh, dc, dz, scratch)
        outs[xp.__name__] = [cupy.asnumpy(v) if xp is cupy else v for v in (acts, c, tc, h, dz, dc)]
    for u, v in zip(outs["cupy"], outs["numpy"]):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gru_kernels_match_the_numpy_gate_math(dtype):
    import cupy
    rng = np.random.default_rng(1)
    B, H = 5, 7
    gx, gh = rng.standard_normal((B, 3 * H)).astype(dtype), rng.standard_normal((B, 3 * H)).astype(dtype)
    h_prev = rng.standard_normal((B, H)).astype(dtype)
    outs = {}
    for xp in (np, cupy):
        ghx, hp = xp.asarray(gh), xp.asarray(h_prev)
        acts, hn, h = xp.empty((3, B, H), dtype=dtype), xp.empty((B, H), dtype=dtype), xp.empty((B, H), dtype=dtype)
        rnn_fused.gru_step_forward(xp, xp.asarray(gx.copy()), ghx, hp, acts, hn, h)
        dgx, dgh = xp.empty((B, 3 * H), dtype=dtype), xp.empty((B, 3 * H), dtype=dtype)
        direct, scratch = xp.empty((B, H), dtype=dtype), xp.empty((3, B, H), dtype=dtype)
        rnn_fused.gru_step_backward(xp, acts, hn, hp, xp.asarray(np.ones((B, H), dtype)), dgx, dgh, direct, scratch)
        outs[xp.__name__] = [cupy.asnumpy(v) if xp is cupy else v for v in (acts, hn, h, dgx, dgh, direct)]
    for u, v in zip(outs["cupy"], outs["numpy"]):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_char_rnn_trains_and_generates_on_cuda():
    from tinygrad_seq.models import CharRNN
    from tinygrad_seq.nn.functional import cross_entropy
    from tinygrad_seq.optim import Adam
    tg.manual_seed(0)
    model = CharRNN(4, 8, 16).to("cuda")
    ids = np.tile(np.arange(4), 6)[:, None].repeat(3, axis=1)            # (24, 3): 0 1 2 3 0 1 ...
    x, y = tg.Tensor(ids[:-1], device="cuda"), tg.Tensor(ids[1:], device="cuda")
    opt = Adam(list(model.parameters()), lr=0.05)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = cross_entropy(model(x)[0].reshape(-1, 4), y.reshape(-1))
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.3 * first
    assert model.generate([0, 1], 6, temperature=0) == [2, 3, 0, 1, 2, 3]
