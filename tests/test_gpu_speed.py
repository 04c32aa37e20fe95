"""Speed work that must not change results: the in-place optimizer steps, the fused CuPy
kernels (tinygrad_seq/kernels.py) against the readable xp path, and the device-to-host copy
counter (a GPU train step must make none). GPU tests are skipped without CuPy and a GPU."""
import tracemalloc

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tinygrad_seq import backend, optim

gpu = pytest.mark.gpu


def _char_lstm_step(device, V=11, E=6, H=8, T=5, B=3, steps=1):
    """Embedding -> LSTM -> Linear -> cross-entropy -> clip_grad_norm_ -> Adam, on `device`.
    Returns (model parts, optimizer, step function, inputs)."""
    tg.manual_seed(0)
    emb, lstm, dec = nn.Embedding(V, E), nn.LSTM(E, H), nn.Linear(H, V)
    for m in (emb, lstm, dec):
        m.to(device)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(dec.parameters())
    opt = optim.Adam(params, lr=1e-2)
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.integers(0, V, (T, B)), device=device)
    y = tg.tensor(rng.integers(0, V, (T, B)), device=device)

    def step():
        opt.zero_grad()
        out, _ = lstm(emb(x))
        loss = F.cross_entropy(dec(out).reshape(-1, V), y.reshape(-1))
        loss.backward()
        norm = nn.utils.clip_grad_norm_(params, 0.5)
        opt.step()
        return loss, norm
    return params, step


# ---------------------------------------------------------------- CPU: the counter and in-place steps
def test_host_copy_counter_stays_zero_on_cpu():
    params, step = _char_lstm_step("cpu")
    before = backend.host_copies()
    with backend.count_host_copies() as c:
        loss, norm = step()
        assert c.count == 0
        loss.item(), float(norm), loss.numpy(), params[0].tolist(), bool(loss > 0)
        assert c.count == 0                        # NumPy arrays are already on the host
    assert c.count == 0 and backend.host_copies() == before
    with backend.count_host_copies() as outer:     # counters nest and stay readable after the block
        with backend.count_host_copies() as inner:
            pass
    assert inner.count == outer.count == 0
    assert tg.Tensor([2.5]).item() == 2.5 and isinstance(tg.Tensor([3]).item(), int)


@pytest.mark.parametrize("name, kw", [("Adam", {}), ("AdamW", {}), ("SGD", dict(momentum=0.9)),
                                      ("SGD", dict(momentum=0.9, nesterov=True))])
def test_optimizer_steps_update_in_place_without_temporaries(name, kw):
    """After the first step (which creates the state), a step allocates nothing the size of
    the parameter: the math runs in place and in one preallocated work array."""
    p = tg.Tensor(np.random.default_rng(0).standard_normal(200_000).astype(np.float32), requires_grad=True)
    p.grad = tg.Tensor(np.random.default_rng(1).standard_normal(200_000).astype(np.float32))
    opt = getattr(optim, name)([p], lr=1e-3, **kw)
    opt.step()
    opt.step()
    data = p.array
    tracemalloc.start()
    opt.step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert p.array is data                            # the same array, updated in place
    assert peak < p.array.nbytes // 4, f"{name} step allocated {peak} bytes for {p.array.nbytes} of parameter"
    assert set(opt.state_dict()["state"][0]) <= {"step", "exp_avg", "exp_avg_sq", "momentum_buffer"}


# ---------------------------------------------------------------- GPU: fused kernels == the xp path
def _optim_run(name, kw, device, dtype, steps=4):
    rng = np.random.default_rng(0)
    shapes = [(7, 5), (5,), (3, 2, 4)]
    ps = [tg.Tensor(rng.standard_normal(s).astype(dtype), device=device, requires_grad=True) for s in shapes]
    opt = getattr(optim, name)(ps, **kw)
    for s in range(steps):
        g_rng = np.random.default_rng(10 + s)
        for p, shape in zip(ps, shapes):
            p.grad = tg.Tensor(g_rng.standard_normal(shape).astype(dtype), device=device)
        opt.step()
    return [p.numpy() for p in ps], [{k: backend.to_numpy(v) for k, v in opt.state[p].items() if k != "step"}
                                     for p in ps]


@gpu
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-6)], ids=["float64", "float32"])
@pytest.mark.parametrize("name, kw", [
    ("Adam", dict(lr=1e-2)), ("Adam", dict(lr=1e-2, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-3)), ("AdamW", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),    # amsgrad: the xp path on the GPU too
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
])
def test_fused_adam_kernel_matches_cpu(name, kw, dtype, tol):
    cpu_p, cpu_s = _optim_run(name, kw, "cpu", dtype)
    gpu_p, gpu_s = _optim_run(name, kw, "cuda", dtype)
    for a, b in zip(gpu_p, cpu_p):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for sa, sb in zip(gpu_s, cpu_s):
        assert sa.keys() == sb.keys()
        for k in sa:
            np.testing.assert_allclose(sa[k], sb[k], rtol=tol, atol=tol, err_msg=k)


@gpu
@pytest.mark.parametrize("shape", [(6, 5), (4, 5, 3)])
@pytest.mark.parametrize("opts", [dict(), dict(reduction="sum"), dict(reduction="none"), dict(ignore_index=2),
                                  dict(weight=True), dict(label_smoothing=0.1)])
def test_fused_cross_entropy_backward_matches_cpu(shape, opts):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(shape)
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    target.reshape(-1)[0] = 2
    weight = rng.uniform(0.5, 2, shape[1]) if opts.get("weight") else None
    kw = {k: v for k, v in opts.items() if k != "weight"}
    res = {}
    for dev in ("cpu", "cuda"):
        x = tg.Tensor(logits, device=dev, requires_grad=True)
        w = None if weight is None else tg.Tensor(weight, device=dev)
        loss = F.cross_entropy(x, tg.Tensor(target, device=dev), weight=w, **kw)
        up = tg.Tensor(np.linspace(0.5, 1.5, loss.numel()).reshape(loss.shape), device=dev)
        (loss * up).sum().backward()
        res[dev] = (loss.numpy(), x.grad.numpy())
    for a, b in zip(res["cuda"], res["cpu"]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- GPU: no host round trips
@gpu
def test_gpu_train_step_makes_no_host_copies():
    _, cpu_step = _char_lstm_step("cpu")
    _, gpu_step = _char_lstm_step("cuda")
    cpu_step()
    gpu_step()                                     # first step: kernels compile, state is created
    with backend.count_host_copies() as c:
        loss, norm = gpu_step()
    assert c.count == 0, f"a cuda train step copied {c.count} arrays to the host"
    assert loss.device == "cuda" and norm.device == "cuda"
    cl, cn = cpu_step()
    np.testing.assert_allclose(loss.item(), cl.item(), rtol=1e-5)
    np.testing.assert_allclose(float(norm), float(cn), rtol=1e-5)


@gpu
def test_host_copy_counter_counts_cuda_reads():
    t = tg.Tensor(np.arange(6.0).reshape(2, 3), device="cuda")
    with backend.count_host_copies() as c:
        t.numpy()
        t[0, 1].item()
        float(t.sum())
        t.to("cpu")
        t + 1                                      # device work only
    assert c.count == 4
