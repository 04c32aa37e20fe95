"""Code paths that only CuPy exercises, checked on the CPU with stand-ins that behave the way
CuPy does where it differs from NumPy, and on a GPU (tests marked gpu, skipped without one).

The stand-ins copy two documented CuPy behaviours:
  - a cupy.ndarray refuses implicit conversion: np.asarray(a) raises TypeError ("Implicit
    conversion to a NumPy array is not allowed"), so host code must call cupy.asnumpy;
  - cupy.where(condition, x, y) calls condition.astype(bool): the condition must be an array
    (a Python bool raises AttributeError, a NumPy array TypeError).
"""
import contextlib
import types

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tinygrad_seq import backend, ops, optim
from tinygrad_seq.autograd import Function, Node

gpu = pytest.mark.gpu


class DeviceArray:
    """Stands in for a cupy.ndarray: NumPy may not read it implicitly."""

    def __init__(self, a):
        self.host = np.asarray(a)
        self.shape, self.dtype, self.ndim, self.size = self.host.shape, self.host.dtype, self.host.ndim, self.host.size

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed (stand-in for CuPy)")


@pytest.fixture
def fake_cupy(monkeypatch):
    """backend sees DeviceArray as the CuPy array type; asnumpy is the explicit copy."""
    copies = []
    fake = types.SimpleNamespace(ndarray=DeviceArray, asnumpy=lambda a: copies.append(a) or a.host.copy())
    monkeypatch.setattr(backend.devices, "_cupy", fake)
    return copies


def _grad_dtypes(fn, x):
    """The dtypes of the gradients that reach an intermediate node (not a leaf, where the
    engine casts them) when backpropagating fn(x).sum()."""
    seen = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, a):
            return a

        @staticmethod
        def backward(ctx, g):
            seen.append(g.dtype)
            return g
    fn(Spy.apply(x)).sum().backward()
    return seen


# ---------------------------------------------------------------- CPU
def test_manual_seed_needs_no_gpu_and_seeds_the_gpu_generator_lazily(monkeypatch):
    """A CuPy RandomState needs a GPU to be created: manual_seed must not make one (CuPy installed
    on a machine without a GPU), rng("cuda") makes it from the last seed, once."""
    made = []
    fake = types.SimpleNamespace(random=types.SimpleNamespace(RandomState=lambda seed: made.append(seed) or object()))
    monkeypatch.setattr(backend.devices, "_cupy", fake)
    monkeypatch.setattr(backend.random_numbers, "_cp_rng", None)
    tg.manual_seed(5)
    assert made == []
    g = backend.rng("cuda")
    assert made == [5] and backend.rng("cuda") is g
    tg.manual_seed(6)
    backend.rng("cuda")
    assert made == [5, 6]


def test_pow_with_a_number_base_needs_no_array_where():
    """2 ** x: backward used xp.where(2.0 > 0, 2.0, 1), a Python bool condition CuPy refuses."""
    def cupy_like_where(condition, x, y):
        return np.where(condition.astype(bool), x, y)
    strict = types.SimpleNamespace(where=cupy_like_where, log=np.log)
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    ctx = Node(ops.Pow, strict)
    ctx.needs_input_grad = [False, True]
    ctx.saved = (2.0, x, 2.0 ** x)
    _, gb = ops.Pow.backward(ctx, np.ones(3, dtype=np.float32))
    np.testing.assert_allclose(gb, np.log(2.0) * 2.0 ** x, rtol=1e-6)
    assert gb.dtype == np.float32
    ctx.saved = (-2.0, x, np.ones(3, dtype=np.float32))   # ln of a negative base: NaN, as torch
    assert np.isnan(ops.Pow.backward(ctx, np.ones(3, dtype=np.float32))[1]).all()


def test_gradients_keep_the_float32_dtype():
    """pow with a number base, maximum / minimum and max / min sent float64 gradients through a
    float32 graph (a bool mask times 0.5, or divided by its count, is float64): twice the
    memory traffic, and float64 arithmetic on a GPU."""
    x = tg.randn(2, 3, requires_grad=True)
    fns = [lambda a: 2.0 ** a, lambda a: a.maximum(0.0), lambda a: a.minimum(tg.zeros(3)),
           lambda a: a.max(), lambda a: a.amin(axis=1)]
    for fn in fns:
        assert _grad_dtypes(fn, x) == [np.float32]
    x64 = tg.randn(2, 3, requires_grad=True, dtype=tg.float64)
    assert tg.gradcheck(lambda a: (2.0 ** a) + a.maximum(0.1) + a.amax(axis=0).sum(), x64)


def test_where_gets_an_array_condition(monkeypatch):
    """A Python bool or list condition becomes an array on the values' device before the op."""
    conds = []
    forward = ops.Where.forward
    spy = staticmethod(lambda ctx, c, a, b: conds.append(c) or forward(ctx, c, a, b))
    monkeypatch.setattr(ops.Where, "forward", spy)
    x = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = tg.where(True, x, 0.0) + tg.where([True, False, True], x, 5.0) + tg.where(np.array([0, 1, 0], bool), 1.0, x)
    y.sum().backward()
    assert all(isinstance(c, np.ndarray) for c in conds)
    np.testing.assert_array_equal(y.numpy(), [3.0, 4.0, 9.0])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 1.0, 3.0])
    r = tg.where(x > 0, 1.0, 0.0)   # numbers only: the condition Tensor decides the device
    assert r.device == "cpu" and r.tolist() == [1.0, 0.0, 1.0]


def test_device_arrays_are_copied_explicitly(fake_cupy):
    """Host-side helpers read a CuPy array through asnumpy (counted), never np.asarray."""
    vocab = tg.data.CharVocab("abc")
    assert vocab.decode(DeviceArray([0, 1, 2])) == vocab.decode([0, 1, 2])
    x, y = tg.data.sequence_windows(DeviceArray(np.arange(7)), 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5]] and y.tolist() == [[1, 2, 3], [4, 5, 6]]
    padded, lengths = tg.data.pad_sequences([[1, 2], DeviceArray([3])])
    assert padded.tolist() == [[1, 2], [3, 0]] and lengths.tolist() == [2, 1]
    t = tg.zeros(3, requires_grad=True)
    (t * 2).sum().backward(DeviceArray(np.float32(1.0)))   # a gradient given as a device array
    assert t.grad.tolist() == [2.0, 2.0, 2.0]
    u = tg.zeros(3)
    u.copy_(DeviceArray([1.0, 2.0, 3.0]))
    u.add_(DeviceArray([1.0, 1.0, 1.0]))
    assert u.tolist() == [2.0, 3.0, 4.0]
    assert len(fake_cupy) == 6


def test_optimizer_state_follows_the_parameters_dtype():
    """State made before the module changed dtype (or device) is moved with it: the fused Adam
    kernel needs grad, p, m and v in one dtype on one device."""
    for name, kw, keys in [("Adam", {}, ("exp_avg", "exp_avg_sq")), ("SGD", dict(momentum=0.9), ("momentum_buffer",)),
                           ("RMSprop", {}, ("square_avg",)), ("Adagrad", {}, ("sum",))]:
        tg.manual_seed(0)
        m = nn.Linear(3, 2)
        opt = getattr(optim, name)(m.parameters(), lr=0.1, **kw)
        x = tg.randn(4, 3)
        for double in (False, True):
            if double:
                m.double()
                x = x.double()
            opt.zero_grad()
            m(x).sum().backward()
            opt.step()
        for p in m.parameters():
            assert p.dtype == np.float64
            assert all(opt.state[p][k].dtype == np.float64 for k in keys), name


# ---------------------------------------------------------------- GPU
@contextlib.contextmanager
def _no_sync():
    """cupyx.allow_synchronize(False) where CuPy has it: a device sync inside raises."""
    import cupyx
    allow = getattr(cupyx, "allow_synchronize", None)
    with (allow(False) if allow is not None else contextlib.nullcontext()):
        yield


@gpu
def test_cuda_pow_where_and_dtypes_match_cpu():
    res = {}
    for dev in ("cpu", "cuda"):
        x = tg.Tensor(np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]], dtype=np.float32), device=dev, requires_grad=True)
        y = (2.0 ** x + tg.where(True, x, 0.0) + tg.where(np.array([True, False, True]), x, 1.0)
             + tg.where(x.detach() > 0, 1.0, 0.0) + x.maximum(0.0) + x.amax(axis=1, keepdims=True))
        y.sum().backward()
        assert y.device == x.grad.device == dev and x.grad.dtype == np.float32
        res[dev] = (y.numpy(), x.grad.numpy())
        assert _grad_dtypes(lambda a: 2.0 ** a + a.maximum(0.0) + a.max(), x) == [np.float32]
    for a, b in zip(res["cuda"], res["cpu"]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@gpu
@pytest.mark.parametrize("name, kw", [("Adam", {}), ("AdamW", {}), ("SGD", dict(momentum=0.9)), ("RMSprop", {})])
def test_optimizer_built_before_module_to_cuda_keeps_working(name, kw):
    """Steps on the CPU, then Module.to("cuda"): the state moves with the parameters and the
    run equals one that stayed on the CPU."""
    def run(switch):
        tg.manual_seed(0)
        m = nn.Linear(3, 2)
        opt = getattr(optim, name)(m.parameters(), lr=0.1, **kw)
        x = tg.Tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
        for step in range(4):
            if step == 2 and switch:
                m.to("cuda")
                x = x.to("cuda")
            opt.zero_grad()
            m(x).sum().backward()
            opt.step()
        return m, opt
    m, opt = run(True)
    ref, _ = run(False)
    for p, q in zip(m.parameters(), ref.parameters()):
        assert p.device == "cuda"
        assert all(backend.device_of(v) == "cuda" for v in opt.state[p].values() if backend.is_array(v))
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-5, atol=1e-6)


@gpu
def test_cuda_numpy_operands_and_host_helpers():
    t = tg.zeros(2, 3, device="cuda")
    t.copy_(np.ones((2, 3), dtype=np.float32))    # cupy_array[...] = numpy_array raises in CuPy itself
    t.add_(np.full((2, 3), 2.0, dtype=np.float32))
    t[0] = np.array([5.0, 6.0, 7.0], dtype=np.float32)
    assert t.device == "cuda" and t.tolist() == [[5.0, 6.0, 7.0], [3.0, 3.0, 3.0]]
    assert (t == np.full((2, 3), 3.0, dtype=np.float32)).tolist() == [[False] * 3, [True] * 3]
    x = tg.randn(4, 3, device="cuda", requires_grad=True)
    F.cross_entropy(x, tg.tensor([0, 1, 2, 0], device="cuda"), weight=[1.0, 2.0, 0.5]).backward()
    emb = nn.Embedding.from_pretrained(tg.randn(5, 2, device="cuda").array)
    assert emb.weight.device == "cuda"
    import cupy
    vocab = tg.data.CharVocab("abc")
    assert vocab.decode(cupy.asarray([2, 1, 0])) == vocab.decode([2, 1, 0])
    seqs = [tg.tensor([1, 2, 3], device="cuda"), tg.tensor([4], device="cuda")]
    padded, lengths = tg.data.pad_sequences(seqs, batch_first=False)
    assert padded.device == "cuda" and lengths.device == "cpu" and lengths.tolist() == [3, 1]


@gpu
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_cuda_train_steps_never_wait_for_the_device(fused):
    """Embedding -> GRU over padded sequences (lengths from pad_sequences) -> Linear -> cross-entropy,
    clip_grad_norm_, Adam; and a conv / pool / dropout step: no device sync, no host copy."""
    tg.manual_seed(0)
    V, H = 9, 6
    emb, gru, dec = nn.Embedding(V, 4), nn.GRU(4, H, fused=fused), nn.Linear(H, V)
    conv = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.2),
                         nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    mods = [emb, gru, dec, conv]
    for m in mods:
        m.to("cuda")
    params = [p for m in mods for p in m.parameters()]
    opt = optim.Adam(params, lr=1e-2)
    rng = np.random.default_rng(0)
    ids, lengths = tg.data.pad_sequences([tg.tensor(rng.integers(0, V, n), device="cuda") for n in (5, 3, 4)],
                                         batch_first=False)
    y = tg.tensor(rng.integers(0, V, ids.shape), device="cuda")
    img, cls = tg.randn(2, 1, 8, 8, device="cuda"), tg.tensor([1, 4], device="cuda")

    def step():
        opt.zero_grad()
        out, _ = gru(emb(ids), lengths=lengths)
        loss = F.cross_entropy(dec(out).reshape(-1, V), y.reshape(-1)) + F.cross_entropy(conv(img), cls)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss
    step().item()                                  # first step: kernels compile, state is created
    with backend.count_host_copies() as c, _no_sync():
        loss = step()
    assert c.count == 0
    assert np.isfinite(loss.item())


@gpu
def test_cuda_greedy_decode_copies_once_without_eos():
    tg.manual_seed(0)
    model = tg.models.Seq2Seq(7, 6, embedding_dim=4, hidden_size=5).to("cuda")
    src = tg.tensor(np.random.default_rng(0).integers(0, 7, (4, 2)), device="cuda")
    model.greedy_decode(src, 3, bos_id=0)
    with backend.count_host_copies() as c:
        out = model.greedy_decode(src, 5, bos_id=0)
    assert c.count == 1 and out.shape == (5, 2) and out.dtype == np.int64


@gpu
def test_cuda_max_pool_with_a_big_window_routes_the_gradient_like_cpu():
    """kh * kw > 127: the H pass adds an int8 column index to an int32 row offset (pooling_fast.py,
    _max_along). NumPy 2 promotes that to int32; if CuPy's scalar promotion keeps int8 (as
    NumPy 1's value-based casting did) the winner index 143 overflows and the gradient is lost."""
    x = np.random.default_rng(0).standard_normal((2, 3, 24, 24))
    x[:, :, 11::12, 11::12] = 10.0                 # every window's maximum in its last cell
    res = {}
    for dev in ("cpu", "cuda"):
        t = tg.Tensor(x, device=dev, requires_grad=True)
        F.max_pool2d(t, 12).sum().backward()
        res[dev] = t.grad.numpy()
    np.testing.assert_array_equal(res["cuda"], res["cpu"])
    assert res["cpu"].sum() == 2 * 3 * 4


@gpu
def test_gradcheck_demo_passes_on_cuda():
    from demos import gradcheck as demo
    rows = demo.run(device="cuda")
    assert [r[0] for r in rows if not r[4]] == []
