"""The fused GPU kernels (tinygrad_seq/kernels.py) against the xp code they replace.

GPU tests (skipped without one): each kernel's result equals its reference function run on
the same CuPy arrays, and on NumPy. CPU tests: every kernel has one reference, the dispatch
picks the kernel exactly when its arguments suit it, and every launch passes the argument
types the kernel's C signature declares (a mismatch would read garbage on the GPU).
"""
import re
import types

import numpy as np
import pytest

import tinygrad_seq  # noqa: F401  (imports every module that marks a reference)
from tinygrad_seq import kernels
from tinygrad_seq.backend import devices
from tinygrad_seq.nn import loss, rnn_fused
from tinygrad_seq.optim import adam

gpu = pytest.mark.gpu
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
SHAPES = [(5, 7), (33, 70)]   # (B, H); the second spans several thread blocks


def _case(name, xp, dtype, B, H, seed=0):
    """(function, positional args after xp, indices of the args the call writes) for kernel `name`."""
    rng = np.random.default_rng(seed)

    def a(*shape, lo=None):
        v = rng.standard_normal(shape) if lo is None else rng.uniform(lo, 1.0, shape)
        return xp.asarray(v.astype(dtype))

    def e(*shape):
        return xp.zeros(shape, dtype=dtype)
    if name == "adam":
        p, g, m, v = a(B, H), a(B, H), a(B, H), a(B, H, lo=0.0)
        scratch = e(B, H)
        return adam.adam_step, (p, g, m, v, None, lambda: scratch, 1e-2, 0.9, 0.999, 1e-8, 0.1,
                                1e-2 / (1 - 0.9 ** 3), np.sqrt(1 - 0.999 ** 3), False, True), (0, 2, 3)
    if name == "cross_entropy_bwd":
        p, s = a(B, H, lo=0.0), a(B)
        t = xp.asarray(rng.integers(0, H, B))
        return loss.onehot_grad, (p, s, t), ()
    if name == "lstm_fwd":
        return rnn_fused.lstm_step_forward, (a(B, 4 * H), a(B, H), e(4, B, H), e(B, H), e(B, H), e(B, H)), (2, 3, 4, 5)
    if name == "lstm_bwd":
        acts = xp.asarray((1 / (1 + np.exp(-rng.standard_normal((4, B, H))))).astype(dtype))
        return (rnn_fused.lstm_step_backward,
                (acts, a(B, H), a(B, H), a(B, H), a(B, H), e(B, 4 * H), e(4, B, H)), (4, 5))
    if name == "gru_fwd":
        return rnn_fused.gru_step_forward, (a(B, 3 * H), a(B, 3 * H), a(B, H), e(3, B, H), e(B, H), e(B, H)), (3, 4, 5)
    if name == "gru_bwd":
        acts = xp.asarray((1 / (1 + np.exp(-rng.standard_normal((3, B, H))))).astype(dtype))
        return (rnn_fused.gru_step_backward,
                (acts, a(B, H), a(B, H), a(B, H), e(B, 3 * H), e(B, 3 * H), e(B, H), e(3, B, H)), (4, 5, 6))
    raise KeyError(name)


def _results(xp, fn, args, written, use_kernel):
    out = (fn if use_kernel else fn.reference)(xp, *args)
    return [out] if out is not None else [args[i] for i in written]


def test_every_kernel_has_one_reference():
    """Each kernel is the fused twin of exactly one xp function (marked @kernels.fused)."""
    assert sorted(kernels.REFERENCES) == sorted(kernels.NAMES)
    for name in kernels.NAMES:
        fn, _, _ = _case(name, np, np.float32, 2, 3)
        assert kernels.REFERENCES[name] is fn and fn.kernel_name == name


# ---------------------------------------------------------------- CPU: dispatch and launch ABI
@pytest.fixture
def fake_gpu(monkeypatch):
    """NumPy dressed as CuPy (so on_gpu is true), and a _launch that records instead of running."""
    fake = types.ModuleType("cupy")
    fake.__dict__.update({k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    fake.ascontiguousarray = np.ascontiguousarray
    fake.empty_like = np.empty_like
    monkeypatch.setattr(devices, "_cupy", fake)
    monkeypatch.setitem(__import__("sys").modules, "cupy", fake)
    launches = []
    monkeypatch.setattr(kernels, "_launch", lambda *a: launches.append(a))
    return fake, launches


_C_PARAM = {"T*": np.ndarray, "const T*": np.ndarray, "const long long*": np.ndarray,
            "long long": np.int64, "double": np.float64, "int": np.int32}


def _c_params(name):
    sig = re.search(r"tinygrad_seq_%s\((.*?)\)\s*\{" % name, kernels.source(name, np.float32), re.S).group(1)
    return [" ".join(p.split()[:-1]) for p in sig.split(",")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", kernels.NAMES)
def test_launch_passes_what_the_kernel_declares(name, dtype, fake_gpu):
    fake, launches = fake_gpu
    fn, args, _ = _case(name, np, dtype, 5, 7)
    fn(fake, *args)
    (got_name, got_dtype, n, *kargs), = launches
    params = _c_params(name)
    assert got_name == name and got_dtype == dtype and n > 0
    assert len(kargs) == len(params), f"{name}: {len(kargs)} arguments for {len(params)} parameters"
    for i, (p, v) in enumerate(zip(params, kargs)):
        assert type(v) is _C_PARAM[p], f"{name} argument {i}: {type(v).__name__} for a {p} parameter"
        if p.endswith("T*"):
            assert v.dtype == dtype and v.flags.c_contiguous
        if p == "const long long*":
            assert v.dtype == np.int64


def test_dispatch_runs_the_reference_where_the_kernel_does_not_apply(fake_gpu):
    fake, launches = fake_gpu
    fn, args, _ = _case("lstm_fwd", np, np.float32, 5, 7)
    peep = tuple(np.ones(7, np.float32) for _ in range(3))
    fn(fake, *args, peep=peep)                           # peepholes: not what the kernel computes
    z, c_prev, acts, c, tc, h = args
    fn(fake, z, c_prev, acts, c, tc, np.empty((7, 5), np.float32).T)   # a non-contiguous output
    fn(np, *args)                                        # NumPy
    f16 = _case("gru_fwd", np, np.float16, 5, 7)
    f16[0](fake, *f16[1])                                # a dtype the kernels are not built for
    g = _case("adam", np, np.float32, 5, 7)
    a = list(g[1])
    a[4] = np.zeros_like(a[0])                           # amsgrad
    g[0](fake, *a)
    assert launches == []
    fn(fake, *args)
    assert [x[0] for x in launches] == ["lstm_fwd"]


# ---------------------------------------------------------------- GPU: kernel == reference
@gpu
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"B{s[0]}H{s[1]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", kernels.NAMES)
def test_kernel_equals_its_reference(name, dtype, shape):
    import cupy
    kernels._compiled.pop((name, np.dtype(dtype)), None)
    fn, args, written = _case(name, cupy, dtype, *shape)
    _, args2, _ = _case(name, cupy, dtype, *shape)
    _, args_np, _ = _case(name, np, dtype, *shape)
    fused = _results(cupy, fn, args, written, True)
    assert (name, np.dtype(dtype)) in kernels._compiled, "the call did not run the kernel"
    ref = _results(cupy, fn, args2, written, False)
    host = _results(np, fn, args_np, written, False)
    for f, r, h in zip(fused, ref, host):
        np.testing.assert_allclose(cupy.asnumpy(f), cupy.asnumpy(r), **TOL[dtype])
        np.testing.assert_allclose(cupy.asnumpy(f), h, **TOL[dtype])


@gpu
def test_non_contiguous_arguments_take_the_reference_on_the_gpu():
    import cupy
    fn, args, written = _case("gru_fwd", cupy, np.float32, 5, 7)
    _, args_np, _ = _case("gru_fwd", np, np.float32, 5, 7)
    gx = cupy.asfortranarray(args[0])   # same values, column-major
    out = _results(cupy, fn, (gx, *args[1:]), written, True)
    for f, h in zip(out, _results(np, fn, args_np, written, False)):
        np.testing.assert_allclose(cupy.asnumpy(f), h, **TOL[np.float32])
