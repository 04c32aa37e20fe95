"""PyTorch's everyday nn API: containers, activations, BatchNorm / GroupNorm, Dropout2d, transposed
convolutions, adaptive pooling, EmbeddingBag, attention, losses and the functional forms.

Every layer and function: a float64 gradcheck (runs without torch) and parity with torch (values,
gradients of the input and of every parameter, errors for bad input) on seeded random shapes and
options, our modules starting from torch's initial weights through state_dict."""
import math
import warnings
import zlib

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tests.conftest import torch, requires_torch, assert_close


def T(a, grad=True):
    return tg.Tensor(np.asarray(a), requires_grad=grad and np.asarray(a).dtype.kind == "f")


def TT(a, grad=True):
    a = np.asarray(a)
    return torch.tensor(a, requires_grad=grad and a.dtype.kind == "f")


def parity(ours, theirs, arrays, rtol=1e-7, atol=1e-10, seed=0):
    """ours(*tg tensors) vs theirs(*torch tensors) on the same arrays: the output (first element of
    a tuple), then every float input's gradient under one random upstream gradient."""
    xs, ts = [T(a) for a in arrays], [TT(a) for a in arrays]
    o, t = ours(*xs), theirs(*ts)
    if isinstance(o, tuple):
        o, t = o[0], t[0]
    assert_close(o, t, rtol, atol, "output")
    g = np.random.default_rng(seed).standard_normal(o.shape)
    o.backward(tg.Tensor(g))
    t.backward(torch.tensor(g))
    for i, (x, tt) in enumerate(zip(xs, ts)):
        if x.requires_grad:
            assert_close(x.grad, tt.grad, rtol, atol, f"gradient of input {i}")
    return xs, ts


def copy_from_torch(ours, theirs):
    """Our module (float64) starting from torch's module's weights and buffers."""
    ours.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours


def module_parity(ours, theirs, arrays, rtol=1e-7, atol=1e-10, seed=0, call=None):
    """Module outputs, input gradients and parameter gradients (by torch's parameter names)."""
    call = call or (lambda m, *xs: m(*xs))
    parity(lambda *xs: call(ours, *xs), lambda *ts: call(theirs, *ts), arrays, rtol, atol, seed)
    ours_p = dict(ours.named_parameters())
    theirs_p = dict(theirs.named_parameters())
    assert list(ours_p) == list(theirs_p)
    for name, p in theirs_p.items():
        assert_close(ours_p[name].grad, p.grad, rtol, atol, f"gradient of {name}")


def both_raise(ours, theirs, match, ours_error=Exception):
    """Bad input is refused by both; ours with a message naming the op."""
    with pytest.raises(Exception):
        theirs()
    with pytest.raises(ours_error, match=match):
        ours()


def rng_for(*key):
    """A generator seeded by the key's text (str hashes change between runs; crc32 does not)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ================================================================ containers
@requires_torch
def test_containers_state_dict_keys_and_loading_match_torch():
    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleDict({"enc": nn.Linear(3, 4), "dec": nn.Linear(4, 2)})
            self.params = nn.ParameterList([nn.Parameter(tg.randn(2)), tg.randn(3, 1)])
            self.pdict = nn.ParameterDict({"scale": nn.Parameter(tg.ones(2)), "shift": tg.zeros(2)})

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleDict({"enc": torch.nn.Linear(3, 4), "dec": torch.nn.Linear(4, 2)})
            self.params = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(2)), torch.randn(3, 1)])
            self.pdict = torch.nn.ParameterDict({"scale": torch.nn.Parameter(torch.ones(2)), "shift": torch.zeros(2)})

    o, t = Ours(), Theirs().double()
    assert list(o.state_dict()) == list(t.state_dict())
    assert [n for n, _ in o.named_parameters()] == [n for n, _ in t.named_parameters()]
    copy_from_torch(o, t)
    for k, v in t.state_dict().items():
        assert_close(o.state_dict()[k], v, what=k)
    # containers behave like their torch namesakes
    assert list(o.layers.keys()) == ["enc", "dec"] and "enc" in o.layers and len(o.layers) == 2
    assert len(o.params) == 2 and o.params[-1].shape == (3, 1) and isinstance(o.params[1], nn.Parameter)
    assert list(o.pdict) == ["scale", "shift"] and isinstance(o.pdict["shift"], nn.Parameter)
    o.layers["extra"] = nn.Linear(2, 2)
    o.params.append(tg.randn(5))
    o.pdict.update({"more": tg.ones(1)})
    t.layers["extra"] = torch.nn.Linear(2, 2)
    t.params.append(torch.randn(5))
    t.pdict.update({"more": torch.ones(1)})
    assert list(o.state_dict()) == list(t.state_dict())
    o.layers.pop("extra")
    del o.pdict["more"]
    assert "layers.extra.weight" not in o.state_dict() and "pdict.more" not in o.state_dict()
    x = np.random.default_rng(0).standard_normal((5, 3))
    y = o.layers["dec"](o.layers["enc"](T(x)))
    assert_close(y, t.layers["dec"](t.layers["enc"](TT(x))), 1e-6, 1e-6)


def test_container_errors():
    with pytest.raises(TypeError, match="ModuleDict"):
        nn.ModuleDict({"a": 3})
    with pytest.raises(TypeError, match="ParameterList"):
        nn.ParameterList([np.zeros(2)])
    with pytest.raises(TypeError, match="ParameterDict"):
        nn.ParameterDict({1: tg.ones(1)})
    with pytest.raises(IndexError, match="ParameterList"):
        nn.ParameterList([tg.ones(1)])[3]
    with pytest.raises(KeyError, match="ModuleDict"):
        nn.ModuleDict({"a.b": nn.ReLU()})


# ================================================================ activations
ACTIVATIONS = [
    ("gelu", lambda x: F.gelu(x), lambda x: torch.nn.functional.gelu(x)),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
    ("elu", lambda x: F.elu(x, 0.7), lambda x: torch.nn.functional.elu(x, 0.7)),
    ("silu", F.silu, lambda x: torch.nn.functional.silu(x)),
    ("softplus", lambda x: F.softplus(x), lambda x: torch.nn.functional.softplus(x)),
    ("softplus_beta", lambda x: F.softplus(x, 2.5, 4.0), lambda x: torch.nn.functional.softplus(x, 2.5, 4.0)),
    ("glu", lambda x: F.glu(x, 1), lambda x: torch.nn.functional.glu(x, 1)),
    ("glu_last", lambda x: F.glu(x), lambda x: torch.nn.functional.glu(x)),
    ("hardtanh", lambda x: F.hardtanh(x), lambda x: torch.nn.functional.hardtanh(x)),
    ("hardtanh_range", lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: torch.nn.functional.hardtanh(x, -0.5, 2.0)),
    ("relu6", F.relu6, lambda x: torch.nn.functional.relu6(x)),
    ("logsigmoid", F.logsigmoid, lambda x: torch.nn.functional.logsigmoid(x)),
    ("selu", F.selu, lambda x: torch.nn.functional.selu(x)),
]
ACT_MODULES = [
    (lambda: nn.GELU(), lambda: torch.nn.GELU()), (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    (lambda: nn.ELU(1.3), lambda: torch.nn.ELU(1.3)), (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    (lambda: nn.Softplus(0.5, 3.0), lambda: torch.nn.Softplus(0.5, 3.0)),
    (lambda: nn.GLU(0), lambda: torch.nn.GLU(0)),
    (lambda: nn.Hardtanh(), lambda: torch.nn.Hardtanh()),
    (lambda: nn.Hardtanh(-2, 3), lambda: torch.nn.Hardtanh(-2, 3)),
    (lambda: nn.ReLU6(), lambda: torch.nn.ReLU6()), (lambda: nn.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
    (lambda: nn.SELU(), lambda: torch.nn.SELU()),
]


def _act_input(rng):
    shape = tuple(int(v) for v in rng.integers(1, 4, rng.integers(1, 4))) + (2 * int(rng.integers(1, 3)),)
    return np.concatenate([rng.standard_normal(shape) * 3, rng.uniform(5, 30, shape[:-1] + (1,))], -1)[..., :shape[-1]]


@pytest.mark.parametrize("name,ours,theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_gradcheck(name, ours, theirs):
    rng = rng_for(name)
    x = T(rng.standard_normal((2, 4)) * 2 + 0.05)   # away from ELU's kink at 0
    tg.gradcheck(ours, [x])


@requires_torch
@pytest.mark.parametrize("name,ours,theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_parity(name, ours, theirs):
    for seed in range(4):
        rng = rng_for(name, seed)
        x = _act_input(rng)
        if name.startswith("glu") and x.shape[1 if name == "glu" else -1] % 2:
            continue
        parity(ours, theirs, [x], rtol=1e-10, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("k", range(len(ACT_MODULES)))
def test_activation_modules_match_torch(k):
    ours, theirs = ACT_MODULES[k][0](), ACT_MODULES[k][1]()
    x = np.random.default_rng(k).standard_normal((4, 6, 2)) * 4
    module_parity(ours, theirs, [x], 1e-10, 1e-12)


@requires_torch
def test_activation_errors():
    x = np.zeros((2, 3))
    both_raise(lambda: F.glu(T(x)), lambda: torch.nn.functional.glu(TT(x)), "glu")
    both_raise(lambda: F.gelu(T(x), approximate="fast"),
               lambda: torch.nn.functional.gelu(TT(x), approximate="fast"), "gelu")
    with pytest.raises(TypeError, match="silu"):
        F.silu(np.zeros(3))


@pytest.mark.parametrize("name", ["hardtanh", "relu6", "logsigmoid", "selu"])
def test_new_activations_are_twice_differentiable(name):
    x = T(rng_for(name, "gg").standard_normal((3, 4)) * 3 + 0.05)
    fn = getattr(F, name)
    assert tg.gradcheck(fn, [x]) and tg.gradgradcheck(fn, [x])


SPECIAL = np.array([-800.0, -50.0, -7.0, -2.0, -1.0, -0.5, -1e-20, -0.0, 0.0, 1e-20, 0.3, 1.0, 2.0, 6.0, 7.0,
                    50.0, 100.0, 800.0, np.inf, -np.inf] * 3)   # * 3: torch's vectorised kernels


@requires_torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,args", [("hardtanh", ()), ("hardtanh", (-0.5, 2.0)), ("relu6", ()),
                                       ("logsigmoid", ()), ("selu", ())])
def test_new_activations_at_bounds_zeros_and_infinities_match_torch(name, args, dtype):
    """Values (the sign of -0.0 too) and gradients at the kinks (0 at hardtanh's bounds, selu's
    left side at 0), at ±inf and far out (logsigmoid's e^-50 gradient is not rounded to 0).
    NaN is left out: torch's own gradient at NaN differs between its scalar and vector kernels."""
    x = tg.tensor(SPECIAL, dtype=dtype, requires_grad=True)
    tx = torch.tensor(SPECIAL, dtype=getattr(torch, dtype), requires_grad=True)
    y, ty = getattr(F, name)(x, *args), getattr(torch.nn.functional, name)(tx, *args)
    y.sum().backward()
    ty.sum().backward()
    tol = dict(rtol=1e-14, atol=0) if dtype == "float64" else dict(rtol=2e-6, atol=1e-30)
    assert y.dtype == x.dtype and x.grad.dtype == x.dtype
    assert_close(y, ty, what="value", **tol)
    np.testing.assert_array_equal(np.signbit(y.numpy()), np.signbit(ty.detach().numpy()))
    assert_close(x.grad, tx.grad, what="gradient", **tol)


@requires_torch
def test_new_activation_dtypes_and_errors_match_torch():
    ints = np.array([-3, 0, 2, 9])
    for name, args in [("hardtanh", ()), ("hardtanh", (-2, 5)), ("relu6", ())]:
        got = getattr(F, name)(tg.tensor(ints), *args)
        ref = getattr(torch.nn.functional, name)(torch.tensor(ints), *args)
        assert got.dtype == tg.int64 and got.tolist() == ref.tolist()
    x = np.zeros((2, 3))
    for name in ("selu", "logsigmoid"):
        both_raise(lambda: getattr(F, name)(tg.tensor(ints)),
                   lambda: getattr(torch.nn.functional, name)(torch.tensor(ints)), name)
    for name in ("hardtanh", "relu6"):
        both_raise(lambda: getattr(F, name)(tg.tensor([True])),
                   lambda: getattr(torch.nn.functional, name)(torch.tensor([True])), name)
    both_raise(lambda: F.hardtanh(T(x), 1.0, -1.0), lambda: torch.nn.functional.hardtanh(TT(x), 1.0, -1.0),
               "hardtanh")
    both_raise(lambda: nn.Hardtanh(1.0, 1.0), lambda: torch.nn.Hardtanh(1.0, 1.0), "Hardtanh")
    assert F.hardtanh(T(x), 0.5, 0.5).numpy().tolist() == torch.nn.functional.hardtanh(TT(x), 0.5, 0.5).tolist()
    for ours, theirs in [(nn.Hardtanh(-2.0, 3.5, True), torch.nn.Hardtanh(-2.0, 3.5, True)),
                         (nn.ReLU6(True), torch.nn.ReLU6(True)), (nn.SELU(True), torch.nn.SELU(True)),
                         (nn.LogSigmoid(), torch.nn.LogSigmoid())]:
        assert repr(ours) == repr(theirs)
    with pytest.raises(TypeError, match="logsigmoid"):
        F.logsigmoid(np.zeros(3))


INPLACE_ACTS = [
    ("relu", lambda M, x: M.nn.functional.relu(x, inplace=True)),
    ("leaky_relu", lambda M, x: M.nn.functional.leaky_relu(x, 0.2, inplace=True)),
    ("elu", lambda M, x: M.nn.functional.elu(x, 0.7, inplace=True)),
    ("silu", lambda M, x: M.nn.functional.silu(x, inplace=True)),
    ("hardtanh", lambda M, x: M.nn.functional.hardtanh(x, -0.5, 0.7, inplace=True)),
    ("relu6", lambda M, x: M.nn.functional.relu6(x, inplace=True)),
    ("selu", lambda M, x: M.nn.functional.selu(x, inplace=True)),
    ("ReLU6", lambda M, x: M.nn.ReLU6(inplace=True)(x)),
    ("SELU", lambda M, x: M.nn.SELU(inplace=True)(x)),
    ("ReLU", lambda M, x: M.nn.ReLU(inplace=True)(x)),
]


@requires_torch
@pytest.mark.parametrize("name,fn", INPLACE_ACTS, ids=[a[0] for a in INPLACE_ACTS])
def test_activation_inplace_writes_into_the_input_like_torch(name, fn):
    """Outside the graph the input itself changes and is returned, as torch; a leaf that
    requires grad is refused by both; a tensor in the graph gets torch's values and gradients
    (computed out of place here: this library refuses in-place ops on tensors in the graph)."""
    a = rng_for(name, "inplace").standard_normal((3, 4)) * 4
    x, tx = T(a, grad=False), TT(a, grad=False)
    y, ty = fn(tg, x), fn(torch, tx)
    assert y is x and ty is tx
    assert_close(x, tx, 1e-12, 1e-14, "input changed in place")
    leaf, tleaf = T(a), TT(a)
    both_raise(lambda: fn(tg, leaf), lambda: fn(torch, tleaf), "inplace")
    with tg.no_grad(), torch.no_grad():   # a parameter update: in place in both
        assert fn(tg, leaf) is leaf and fn(torch, tleaf) is tleaf
    assert_close(leaf, tleaf, 1e-12, 1e-14, "leaf under no_grad")
    parity(lambda v: fn(tg, v * 1.0), lambda v: fn(torch, v * 1.0), [a], 1e-12, 1e-14)


@requires_torch
def test_unflatten_matches_torch_and_refuses_bad_sizes():
    rng = np.random.default_rng(0)
    for dim, sizes, shape in [(1, (2, 3), (4, 6, 5)), (-1, (5, -1), (2, 10)), (0, (2, 2, 1), (4,))]:
        module_parity(nn.Unflatten(dim, sizes), torch.nn.Unflatten(dim, sizes), [rng.standard_normal(shape)])
    x = np.zeros((4, 6))
    both_raise(lambda: nn.Unflatten(1, (4, 4))(T(x)), lambda: torch.nn.Unflatten(1, (4, 4))(TT(x)), "Unflatten")


# ================================================================ BatchNorm
def _bn_pair(cls_name, C, **kw):
    return getattr(nn, cls_name)(C, **kw), getattr(torch.nn, cls_name)(C, **kw).double()


BN_OPTIONS = [dict(), dict(momentum=None), dict(momentum=0.3, eps=1e-3), dict(affine=False),
              dict(track_running_stats=False)]


@requires_torch
@pytest.mark.parametrize("cls_name,shape", [("BatchNorm1d", (5, 3)), ("BatchNorm1d", (4, 3, 6)),
                                            ("BatchNorm2d", (3, 3, 4, 2))])
@pytest.mark.parametrize("opts", BN_OPTIONS, ids=[str(o) for o in BN_OPTIONS])
def test_batchnorm_train_and_eval_match_torch_over_steps(cls_name, shape, opts):
    rng = rng_for(cls_name, shape, str(opts))
    ours, theirs = _bn_pair(cls_name, shape[1], **opts)
    if opts.get("affine", True):   # not the trivial ones / zeros
        with torch.no_grad():
            theirs.weight.normal_()
            theirs.bias.normal_()
    copy_from_torch(ours, theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        for m in (ours, theirs):
            m.zero_grad()
        module_parity(ours, theirs, [x], 1e-9, 1e-10, seed=step)
        for k, v in theirs.state_dict().items():   # running statistics and num_batches_tracked
            assert_close(ours.state_dict()[k], v, 1e-10, 1e-12, f"step {step}: {k}")
    ours.eval()
    theirs.eval()
    module_parity(ours, theirs, [rng.standard_normal(shape)], 1e-9, 1e-10)


@requires_torch
def test_batchnorm_loads_a_trained_torch_state_dict():
    theirs = torch.nn.BatchNorm2d(4)
    for _ in range(3):
        theirs(torch.randn(5, 4, 3, 3) * 2 + 1)
    ours = nn.BatchNorm2d(4)
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd)
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()})
    assert ours.num_batches_tracked.dtype == np.int64 and int(ours.num_batches_tracked.item()) == 3
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(1).standard_normal((2, 4, 3, 3)).astype(np.float32)
    assert_close(ours(T(x)), theirs(TT(x)), 1e-5, 1e-6)
    ours.train()
    ours(T(x))
    assert int(ours.num_batches_tracked.item()) == 4


@requires_torch
def test_batchnorm_functional_and_errors():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    parity(lambda x, w, b: F.batch_norm(x, T(rm, False), T(rv, False), w, b, False),
           lambda x, w, b: torch.nn.functional.batch_norm(x, TT(rm, False), TT(rv, False), w, b, False),
           [x, w, b])
    ours_rm, theirs_rm = T(rm.copy(), False), TT(rm.copy(), False)
    ours_rv, theirs_rv = T(rv.copy(), False), TT(rv.copy(), False)
    parity(lambda x, w, b: F.batch_norm(x, ours_rm, ours_rv, w, b, True, 0.2),
           lambda x, w, b: torch.nn.functional.batch_norm(x, theirs_rm, theirs_rv, w, b, True, 0.2), [x, w, b])
    assert_close(ours_rm, theirs_rm, what="running_mean")
    assert_close(ours_rv, theirs_rv, what="running_var")
    o1, t1 = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    o2, t2 = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    x4, x3 = np.zeros((2, 3, 2, 2), np.float32), np.zeros((2, 3, 2), np.float32)
    both_raise(lambda: o1(T(x4)), lambda: t1(TT(x4)), "BatchNorm1d: expected 2D or 3D input", ValueError)
    both_raise(lambda: o2(T(x3)), lambda: t2(TT(x3)), "BatchNorm2d: expected 4D input", ValueError)
    one = np.zeros((1, 3), np.float32)
    both_raise(lambda: o1(T(one)), lambda: t1(TT(one)), "more than 1 value per channel", ValueError)
    wrong = np.zeros((2, 4), np.float32)
    both_raise(lambda: o1(T(wrong)), lambda: t1(TT(wrong)), "BatchNorm1d: running_mean should contain 4", RuntimeError)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradcheck(training):
    rng = np.random.default_rng(3)
    m = nn.BatchNorm2d(2).double()
    m.running_mean.array[:] = rng.standard_normal(2)
    m.weight.array[:] = rng.standard_normal(2)
    m.train(training)
    tg.gradcheck(lambda x: m(x), [T(rng.standard_normal((3, 2, 2, 2)))], params=m.parameters())
    m1 = nn.BatchNorm1d(3, affine=False).double().train(training)
    tg.gradcheck(lambda x: m1(x), [T(rng.standard_normal((4, 3)))])


# ================================================================ GroupNorm
@requires_torch
@pytest.mark.parametrize("G,C,shape,affine", [(1, 4, (2, 4), True), (2, 4, (3, 4, 5), True),
                                              (3, 6, (2, 6, 2, 3), False), (6, 6, (1, 6, 3), True)])
def test_groupnorm_matches_torch(G, C, shape, affine):
    theirs = torch.nn.GroupNorm(G, C, eps=1e-4, affine=affine).double()
    if affine:
        with torch.no_grad():
            theirs.weight.normal_()
            theirs.bias.normal_()
    ours = copy_from_torch(nn.GroupNorm(G, C, eps=1e-4, affine=affine), theirs)
    module_parity(ours, theirs, [rng_for(G, C, shape).standard_normal(shape) * 3], 1e-9, 1e-10)
    x = np.zeros((2, 5, 3))
    both_raise(lambda: F.group_norm(T(x), 2), lambda: torch.nn.functional.group_norm(TT(x), 2), "group_norm")
    with pytest.raises(ValueError, match="GroupNorm"):
        nn.GroupNorm(4, 6)
    with pytest.raises(Exception):
        torch.nn.GroupNorm(4, 6)


def test_groupnorm_gradcheck():
    rng = np.random.default_rng(4)
    m = nn.GroupNorm(2, 4).double()
    m.weight.array[:] = rng.standard_normal(4)
    tg.gradcheck(lambda x: m(x), [T(rng.standard_normal((2, 4, 3)))], params=m.parameters())


# ================================================================ Dropout2d
@pytest.mark.parametrize("shape", [(3, 8, 4, 5), (4, 6, 7)])
def test_dropout2d_drops_whole_channels_and_scales(shape):
    p = 0.4
    x = T(np.random.default_rng(5).uniform(1, 2, shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = F.dropout2d(x, p)
    ratio = (y.numpy() / x.numpy()).reshape(shape[0], shape[1], -1)
    for per_channel in ratio.reshape(-1, ratio.shape[-1]):
        assert np.allclose(per_channel, 0) or np.allclose(per_channel, 1 / (1 - p))
    assert 0 < (ratio[..., 0] == 0).mean() < 1
    y.sum().backward()
    assert np.allclose(x.grad.numpy().reshape(ratio.shape), ratio)
    m = nn.Dropout2d(p)
    m.eval()
    assert m(x) is x
    with pytest.raises(ValueError, match="Dropout2d"):
        nn.Dropout2d(1.5)


@requires_torch
def test_dropout2d_errors_and_rate_match_torch():
    x = np.zeros((2, 3))
    both_raise(lambda: F.dropout2d(T(x), 1.2), lambda: torch.nn.functional.dropout2d(TT(x), 1.2), "dropout2d")
    big = np.ones((200, 50, 1, 1))
    kept = (F.dropout2d(T(big), 0.3).numpy() != 0).mean()
    assert abs(kept - 0.7) < 0.03
    assert F.dropout2d(T(big), 1.0).numpy().sum() == 0 == torch.nn.functional.dropout2d(TT(big), 1.0).sum().item()


# ================================================================ transposed convolution
def convt_configs(n, count):
    for seed in range(count):
        rng = np.random.default_rng(1000 * n + seed)
        g = int(rng.integers(1, 3))
        C, O = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(1, 4, n))
        s = tuple(int(v) for v in rng.integers(1, 4, n))
        d = tuple(int(v) for v in rng.integers(1, 3, n))
        p = tuple(int(rng.integers(0, dd * (kk - 1) + 1)) for kk, dd in zip(k, d))
        op = tuple(int(rng.integers(0, max(ss, dd))) for ss, dd in zip(s, d))
        size = tuple(int(v) for v in rng.integers(2, 5, n))
        out = [(L - 1) * ss - 2 * pp + dd * (kk - 1) + oo + 1 for L, ss, pp, dd, kk, oo in zip(size, s, p, d, k, op)]
        p = tuple(pp if o >= 1 else 0 for pp, o in zip(p, out))   # an empty output is an error (tested apart)
        yield rng, g, C, O, k, s, d, p, op, size


@requires_torch
@pytest.mark.parametrize("n", [1, 2])
def test_conv_transpose_functional_matches_torch(n):
    ours = F.conv_transpose1d if n == 1 else F.conv_transpose2d
    theirs = getattr(torch.nn.functional, f"conv_transpose{n}d")
    for rng, g, C, O, k, s, d, p, op, size in convt_configs(n, 12):
        x, w, b = rng.standard_normal((2, C) + size), rng.standard_normal((C, O // g) + k), rng.standard_normal(O)
        parity(lambda x, w, b: ours(x, w, b, s, p, op, g, d), lambda x, w, b: theirs(x, w, b, s, p, op, g, d),
               [x, w, b], 1e-9, 1e-10)
        parity(lambda x, w: ours(x, w, None, s, p, op, g, d), lambda x, w: theirs(x, w, None, s, p, op, g, d),
               [x[0], w], 1e-9, 1e-10)   # unbatched, no bias


@requires_torch
@pytest.mark.parametrize("n", [1, 2])
def test_conv_transpose_module_matches_torch(n):
    for rng, g, C, O, k, s, d, p, op, size in convt_configs(n, 6):
        bias = bool(rng.integers(0, 2))
        args = dict(stride=s, padding=p, output_padding=op, groups=g, bias=bias, dilation=d)
        theirs = getattr(torch.nn, f"ConvTranspose{n}d")(C, O, k, **args).double()
        ours = getattr(nn, f"ConvTranspose{n}d")(C, O, k, **args)
        assert ours.weight.shape == tuple(theirs.weight.shape)
        copy_from_torch(ours, theirs)
        module_parity(ours, theirs, [rng.standard_normal((2, C) + size)], 1e-9, 1e-10)
    # forward(input, output_size) picks the output padding
    theirs = getattr(torch.nn, f"ConvTranspose{n}d")(2, 3, 3, stride=2).double()
    ours = copy_from_torch(getattr(nn, f"ConvTranspose{n}d")(2, 3, 3, stride=2), theirs)
    x = np.random.default_rng(6).standard_normal((1, 2) + (4,) * n)
    want = (10,) * n
    module_parity(ours, theirs, [x], 1e-9, 1e-10, call=lambda m, x: m(x, output_size=want))


def test_conv_transpose_gradcheck():
    rng = np.random.default_rng(7)
    m = nn.ConvTranspose2d(2, 4, (2, 3), stride=(2, 1), padding=(0, 1), output_padding=(1, 0), groups=2,
                           dilation=(1, 2)).double()
    tg.gradcheck(lambda x: m(x), [T(rng.standard_normal((1, 2, 3, 3)))], params=m.parameters())
    w, b = T(rng.standard_normal((3, 2, 2))), T(rng.standard_normal(2))
    tg.gradcheck(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=1), [T(rng.standard_normal((2, 3, 4))), w, b])


@requires_torch
def test_conv_transpose_errors():
    x, w = np.zeros((1, 3, 4)), np.zeros((2, 2, 3))
    both_raise(lambda: F.conv_transpose1d(T(x), T(w)), lambda: torch.nn.functional.conv_transpose1d(TT(x), TT(w)),
               "conv_transpose1d", ValueError)
    x = np.zeros((1, 2, 4))
    both_raise(lambda: F.conv_transpose1d(T(x), T(w), stride=2, output_padding=2),
               lambda: torch.nn.functional.conv_transpose1d(TT(x), TT(w), stride=2, output_padding=2),
               "output_padding", ValueError)
    x2 = np.zeros((1, 2, 3, 3))
    m, t = nn.ConvTranspose2d(2, 2, 3), torch.nn.ConvTranspose2d(2, 2, 3).double()
    both_raise(lambda: m(T(x2), output_size=(9, 9)), lambda: t(TT(x2), output_size=(9, 9)), "ConvTranspose2d")
    with pytest.raises(TypeError, match="conv_transpose1d"):
        F.conv_transpose1d(T(np.zeros((1, 2, 4), np.int64)), T(w))


# ================================================================ adaptive pooling
ADAPTIVE = [("adaptive_avg_pool1d", 1), ("adaptive_avg_pool2d", 2), ("adaptive_max_pool2d", 2)]


@requires_torch
@pytest.mark.parametrize("name,n", ADAPTIVE)
def test_adaptive_pooling_matches_torch(name, n):
    ours, theirs = getattr(F, name), getattr(torch.nn.functional, name)
    for seed in range(8):
        rng = np.random.default_rng(seed)
        size = tuple(int(v) for v in rng.integers(1, 9, n))
        out = tuple(int(v) for v in rng.integers(1, 7, n))
        out = out[0] if n == 1 or seed % 3 == 0 else (None, out[1]) if seed % 3 == 1 else out
        lead = (2, 3) if seed % 2 else (3,)
        parity(lambda x: ours(x, out), lambda x: theirs(x, out), [rng.standard_normal(lead + size)], 1e-10, 1e-12)
    cls = {"adaptive_avg_pool1d": "AdaptiveAvgPool1d", "adaptive_avg_pool2d": "AdaptiveAvgPool2d",
           "adaptive_max_pool2d": "AdaptiveMaxPool2d"}[name]
    module_parity(getattr(nn, cls)(3), getattr(torch.nn, cls)(3), [np.random.default_rng(9).standard_normal((2, 2) + (7,) * n)])
    bad = np.zeros((2,) * (n + 3))
    both_raise(lambda: ours(T(bad), 2), lambda: theirs(TT(bad), 2), name, ValueError)


@pytest.mark.parametrize("name,n", ADAPTIVE)
def test_adaptive_pooling_gradcheck(name, n):
    rng = np.random.default_rng(10)
    x = T(rng.standard_normal((2, 2) + (5,) * n))
    tg.gradcheck(lambda x: getattr(F, name)(x, 3), [x])


# ================================================================ EmbeddingBag
def bag_cases():
    for seed in range(10):
        rng = np.random.default_rng(seed)
        mode = ["sum", "mean", "max"][seed % 3]
        ilo = bool(seed % 2)
        pad = [None, 2][seed // 5]
        if seed % 4 == 3:   # 2-D input: fixed-length bags
            idx, off = rng.integers(0, 7, (3, 4)), None
        else:
            M = int(rng.integers(4, 12))
            idx = rng.integers(0, 7, M)
            cuts = np.sort(rng.integers(0, M + 1, int(rng.integers(1, 5))))
            off = np.concatenate([[0], cuts] + ([[M]] if ilo else []))
        psw = rng.standard_normal(idx.shape) if mode == "sum" and seed % 2 == 0 else None
        yield rng, mode, ilo and off is not None, pad, idx, off, psw


@requires_torch
def test_embedding_bag_matches_torch():
    for rng, mode, ilo, pad, idx, off, psw in bag_cases():
        W = rng.standard_normal((7, 3))
        arrays = [W] + ([psw] if psw is not None else [])

        def call(fn, tensor, W, *p):
            return fn(tensor(idx), W, None if off is None else tensor(off), mode=mode, padding_idx=pad,
                      include_last_offset=ilo, per_sample_weights=p[0] if p else None)

        parity(lambda *a: call(F.embedding_bag, T, *a), lambda *a: call(torch.nn.functional.embedding_bag, TT, *a),
               arrays, 1e-10, 1e-12)
    theirs = torch.nn.EmbeddingBag(9, 4, mode="max", padding_idx=1).double()
    ours = copy_from_torch(nn.EmbeddingBag(9, 4, mode="max", padding_idx=1), theirs)
    idx, off = np.array([1, 4, 5, 1, 8, 0]), np.array([0, 2, 2, 5])
    module_parity(ours, theirs, [idx, off])


def test_embedding_bag_gradcheck():
    rng = np.random.default_rng(11)
    idx, off = tg.tensor(np.array([0, 3, 3, 1, 4, 2])), tg.tensor(np.array([0, 1, 4]))
    for mode in ("sum", "mean", "max"):
        tg.gradcheck(lambda W: F.embedding_bag(idx, W, off, mode=mode), [T(rng.standard_normal((5, 3)))])
    tg.gradcheck(lambda W, p: F.embedding_bag(idx, W, off, mode="sum", per_sample_weights=p),
                 [T(rng.standard_normal((5, 3))), T(rng.standard_normal(6))])


@requires_torch
def test_embedding_bag_errors():
    W, idx = np.zeros((5, 2)), np.array([0, 1, 2])
    for ours_kw, theirs_kw, match in [
            (dict(offsets=T(np.array([1]))), dict(offsets=TT(np.array([1]))), "offsets\\[0\\] has to be 0"),
            (dict(), dict(), "offsets"),
            (dict(offsets=T(np.array([0])), per_sample_weights=T(np.ones(3)), mode="mean"),
             dict(offsets=TT(np.array([0])), per_sample_weights=TT(np.ones(3)), mode="mean"), "per_sample_weights"),
            (dict(offsets=T(np.array([0])), mode="median"), dict(offsets=TT(np.array([0])), mode="median"), "mode")]:
        both_raise(lambda: F.embedding_bag(T(idx), T(W), **ours_kw),
                   lambda: torch.nn.functional.embedding_bag(TT(idx), TT(W), **theirs_kw), match)
    with pytest.raises(TypeError, match="EmbeddingBag"):
        nn.EmbeddingBag(5, 2)(T(np.zeros((2, 2))))


# ================================================================ attention
@requires_torch
def test_scaled_dot_product_attention_matches_torch():
    sdpa = torch.nn.functional.scaled_dot_product_attention
    for seed in range(8):
        rng = np.random.default_rng(seed)
        lead = tuple(int(v) for v in rng.integers(1, 3, rng.integers(1, 3)))
        L, S, E, Ev = (int(v) for v in rng.integers(1, 6, 4))
        q, k, v = rng.standard_normal(lead + (L, E)), rng.standard_normal(lead + (S, E)), rng.standard_normal(lead + (S, Ev))
        kind = seed % 4
        scale = None if seed % 3 else 0.37
        if kind == 0:
            kw_o = kw_t = dict(scale=scale)
        elif kind == 1:
            kw_o, kw_t = dict(is_causal=True, scale=scale), dict(is_causal=True, scale=scale)
            if L > S:
                continue
        elif kind == 2:   # boolean: True may attend; keep one key per row so no row is all -inf
            m = rng.random((L, S)) > 0.4
            m[:, 0] = True
            kw_o, kw_t = dict(attn_mask=T(m), scale=scale), dict(attn_mask=TT(m), scale=scale)
        else:
            m = rng.standard_normal(lead + (L, S))
            kw_o, kw_t = dict(attn_mask=T(m, False), scale=scale), dict(attn_mask=TT(m, False), scale=scale)
        parity(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw_o),
               lambda q, k, v: sdpa(q, k, v, **kw_t), [q, k, v], 1e-9, 1e-10)
    q = np.zeros((2, 3, 4))
    both_raise(lambda: F.scaled_dot_product_attention(T(q), T(q), T(q), attn_mask=T(np.ones((3, 3), bool)), is_causal=True),
               lambda: sdpa(TT(q), TT(q), TT(q), attn_mask=TT(np.ones((3, 3), bool)), is_causal=True),
               "scaled_dot_product_attention")
    both_raise(lambda: F.scaled_dot_product_attention(T(q), T(np.zeros((2, 3, 5))), T(q)),
               lambda: sdpa(TT(q), TT(np.zeros((2, 3, 5))), TT(q)), "scaled_dot_product_attention")


def test_scaled_dot_product_attention_gradcheck_and_dropout():
    rng = np.random.default_rng(12)
    q, k, v = T(rng.standard_normal((2, 3, 2))), T(rng.standard_normal((2, 4, 2))), T(rng.standard_normal((2, 4, 3)))
    mask = T(rng.standard_normal((3, 4)), False)
    tg.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.8), [q, k, v])
    tg.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v[:, :3], is_causal=True),
                 [q, T(rng.standard_normal((2, 3, 2))), v])
    # dropout on the weights: p=1 drops everything, as torch; 0 < p < 1 keeps the mean
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0)
    ones = T(np.ones((400, 1, 1)))
    vals = T(np.ones((400, 1, 1)))
    kept = F.scaled_dot_product_attention(ones, ones, vals, dropout_p=0.25).numpy()
    assert set(np.round(np.unique(kept), 6)) <= {0.0, round(1 / 0.75, 6)}
    assert 0.6 < (kept != 0).mean() < 0.9


def _mha_pair(E, H, **kw):
    theirs = torch.nn.MultiheadAttention(E, H, **kw).double()
    ours = copy_from_torch(nn.MultiheadAttention(E, H, **kw), theirs)
    return ours, theirs


@requires_torch
def test_multihead_attention_matches_torch():
    for seed in range(8):
        rng = np.random.default_rng(seed)
        H = int(rng.integers(1, 4))
        E = H * int(rng.integers(1, 4))
        bf, bias = bool(seed % 2), bool(seed % 3)
        kd = None if seed % 4 else int(rng.integers(1, 5))
        ours, theirs = _mha_pair(E, H, batch_first=bf, bias=bias, kdim=kd, vdim=kd)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        N, L, S = (int(v) for v in rng.integers(1, 5, 3))
        unbatched = seed == 5
        shape = (lambda T_, D: (T_, D)) if unbatched else (lambda T_, D: (N, T_, D) if bf else (T_, N, D))
        q, kv = rng.standard_normal(shape(L, E)), rng.standard_normal(shape(S, kd or E))
        kw_o, kw_t = {}, {}
        if seed % 2 == 0:   # key padding: True = ignore that key; keep key 0 for every sample
            kpm = rng.random((S,) if unbatched else (N, S)) > 0.6
            kpm[..., 0] = False
            kw_o["key_padding_mask"], kw_t["key_padding_mask"] = T(kpm), TT(kpm)
        if seed % 3 == 0:
            am = rng.random((L, S)) > 0.7
            am[:, 0] = False
            kw_o["attn_mask"], kw_t["attn_mask"] = T(am), TT(am)
        elif seed % 3 == 1:
            am = rng.standard_normal((L, S) if unbatched or seed % 2 else (N * H, L, S))
            kw_o["attn_mask"], kw_t["attn_mask"] = T(am, False), TT(am, False)
            if "key_padding_mask" in kw_o:   # torch wants both masks of one kind
                kpm = kw_o["key_padding_mask"].numpy()
                kw_o["key_padding_mask"] = T(np.where(kpm, -np.inf, 0.0), False)
                kw_t["key_padding_mask"] = TT(np.where(kpm, -np.inf, 0.0), False)
        avg = bool(seed % 3)
        for m in (ours, theirs):
            m.zero_grad()
        module_parity(ours, theirs, [q, kv, kv], 1e-9, 1e-10,
                      call=lambda m, q, k, v: m(q, k, v, average_attn_weights=avg,
                                                **(kw_o if isinstance(m, nn.Module) else kw_t)))
        o_w = ours(T(q), T(kv), T(kv), average_attn_weights=avg, **kw_o)[1]
        t_w = theirs(TT(q), TT(kv), TT(kv), average_attn_weights=avg, **kw_t)[1]
        assert_close(o_w, t_w, 1e-9, 1e-10, "attention weights")
        assert ours(T(q), T(kv), T(kv), need_weights=False, **kw_o)[1] is None


def test_multihead_attention_gradcheck():
    rng = np.random.default_rng(13)
    m = nn.MultiheadAttention(4, 2, batch_first=True).double()
    m.in_proj_bias.array[:] = rng.standard_normal(12) * 0.1
    q, kv = T(rng.standard_normal((2, 3, 4))), T(rng.standard_normal((2, 2, 4)))
    tg.gradcheck(lambda q, kv: m(q, kv, kv)[0], [q, kv], params=m.parameters())


@requires_torch
def test_multihead_attention_errors():
    with pytest.raises(ValueError, match="MultiheadAttention"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(Exception):
        torch.nn.MultiheadAttention(6, 4)
    ours, theirs = _mha_pair(4, 2)
    q, bad = np.zeros((3, 2, 4)), np.zeros((3, 2, 5))
    both_raise(lambda: ours(T(q), T(bad), T(bad)), lambda: theirs(TT(q), TT(bad), TT(bad)), "MultiheadAttention")
    m = np.zeros((5, 5), bool)
    both_raise(lambda: ours(T(q), T(q), T(q), attn_mask=T(m)), lambda: theirs(TT(q), TT(q), TT(q), attn_mask=TT(m)),
               "attn_mask")
    both_raise(lambda: ours(T(q), T(q), T(q), is_causal=True), lambda: theirs(TT(q), TT(q), TT(q), is_causal=True),
               "is_causal")


# ================================================================ nn.init
GAINS = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
         ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None), ("conv_transpose1d", 1)]


@requires_torch
def test_init_gains_and_fans_match_torch():
    for nonlinearity, param in GAINS:
        assert nn.init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)
    for shape in [(3, 4), (5, 2, 3), (2, 6, 3, 4), (1, 1)]:
        assert (nn.init._calculate_fan_in_and_fan_out(tg.zeros(*shape))
                == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape)))
    both_raise(lambda: nn.init.calculate_gain("swish"), lambda: torch.nn.init.calculate_gain("swish"), "gain")
    both_raise(lambda: nn.init.calculate_gain("leaky_relu", True),
               lambda: torch.nn.init.calculate_gain("leaky_relu", True), "negative_slope")
    both_raise(lambda: nn.init.xavier_normal_(tg.zeros(3)), lambda: torch.nn.init.xavier_normal_(torch.zeros(3)),
               "fan")
    both_raise(lambda: nn.init.kaiming_normal_(tg.zeros(3, 2), mode="fan_avg"),
               lambda: torch.nn.init.kaiming_normal_(torch.zeros(3, 2), mode="fan_avg"), "mode")
    both_raise(lambda: nn.init.orthogonal_(tg.zeros(3)), lambda: torch.nn.init.orthogonal_(torch.zeros(3)),
               "orthogonal_")


INITS = [
    ("kaiming_normal_", {}), ("kaiming_normal_", dict(a=0.3, mode="fan_out")),
    ("kaiming_normal_", dict(nonlinearity="relu")), ("kaiming_normal_", dict(mode="FAN_OUT", nonlinearity="tanh")),
    ("kaiming_uniform_", {}), ("kaiming_uniform_", dict(a=math.sqrt(5))),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="linear")),
    ("xavier_normal_", {}), ("xavier_normal_", dict(gain=2.5)), ("xavier_uniform_", dict(gain=0.5)),
]


@requires_torch
@pytest.mark.parametrize("name,kw", INITS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(INITS)])
def test_random_inits_have_torchs_distribution(name, kw):
    """Random draws cannot match torch's bits: over 120,000 draws the std (and for the uniform
    ones the bound) must match torch's within sampling error; the mean is 0."""
    shape = (300, 50, 8)   # fan_in 400, fan_out 2400: mode shows in the std
    w, tw = tg.zeros(*shape, dtype=tg.float64), torch.zeros(*shape, dtype=torch.float64)
    assert getattr(nn.init, name)(w, **kw) is w
    getattr(torch.nn.init, name)(tw, **kw)
    a, b = w.numpy(), tw.numpy()
    assert a.dtype == np.float64 and abs(a.mean()) < 5 * a.std() / math.sqrt(a.size)
    assert a.std() == pytest.approx(b.std(), rel=0.02)
    if "uniform" in name:
        assert np.abs(a).max() == pytest.approx(np.abs(b).max(), rel=1e-3)


def test_inits_repeat_under_manual_seed_and_record_no_graph():
    for fill in (nn.init.kaiming_normal_, nn.init.xavier_normal_, nn.init.orthogonal_,
                 lambda p: nn.init.constant_(p, 0.25)):
        draws = []
        for _ in range(2):
            tg.manual_seed(7)
            p = nn.Parameter(tg.zeros(6, 4))
            v = p._version
            assert fill(p) is p and p.grad_fn is None and p.requires_grad and p._version > v
            draws.append(p.numpy().copy())
        np.testing.assert_array_equal(draws[0], draws[1])
        assert draws[0].dtype == np.float32
    tg.manual_seed(8)
    assert not np.array_equal(nn.init.kaiming_normal_(tg.zeros(6, 4)).numpy(), draws[0])


@requires_torch
def test_constant_and_zero_element_inits_match_torch():
    w, tw = tg.zeros(2, 3), torch.zeros(2, 3)
    view = w[0]
    nn.init.constant_(w, -1.5)
    torch.nn.init.constant_(tw, -1.5)
    assert_close(w, tw, what="constant_")
    assert view.numpy().tolist() == [-1.5] * 3   # in place: views see it, as torch
    assert nn.init.constant_(tg.zeros(3, dtype=tg.int64), 2).tolist() == [2, 2, 2]
    for name in ("kaiming_normal_", "kaiming_uniform_"):   # no entries: torch warns, draws nothing
        with pytest.warns(UserWarning, match="zero-element"):
            getattr(torch.nn.init, name)(torch.zeros(0, 3))
        with pytest.warns(UserWarning, match="zero-element"):
            assert getattr(nn.init, name)(tg.zeros(0, 3)).shape == (0, 3)
    empty = torch.nn.init.orthogonal_(torch.zeros(0, 3))
    assert nn.init.orthogonal_(tg.zeros(0, 3)).shape == (0, 3) == tuple(empty.shape)


@pytest.mark.parametrize("shape,gain", [((6, 6), 1.0), ((5, 12), 2.0), ((12, 5), 1.0), ((4, 3, 2, 2), 0.5),
                                        ((1, 7), 1.0)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain):
    w = nn.init.orthogonal_(tg.zeros(*shape, dtype=tg.float64), gain)
    m = w.numpy().reshape(shape[0], -1)
    rows, cols = m.shape
    gram = m @ m.T if rows <= cols else m.T @ m   # the shorter side is orthonormal (times gain)
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-12)
    m32 = nn.init.orthogonal_(tg.zeros(*shape), gain).numpy().reshape(rows, cols)
    assert m32.dtype == np.float32
    np.testing.assert_allclose(m32 @ m32.T if rows <= cols else m32.T @ m32, gain ** 2 * np.eye(min(rows, cols)),
                               atol=1e-5)


def test_orthogonal_is_uniform_over_orthogonal_matrices():
    """torch's sign correction makes Q Haar-distributed: an entry of Q is symmetric about 0
    and E[Q_ij^2] = 1/n. Without it, QR's Householder convention makes every Q[0, 0] <= 0."""
    q = np.stack([nn.init.orthogonal_(tg.zeros(3, 3, dtype=tg.float64)).numpy() for _ in range(600)])
    for i, j in [(0, 0), (1, 1), (2, 0)]:
        assert 0.4 < (q[:, i, j] > 0).mean() < 0.6, (i, j)
    np.testing.assert_allclose((q ** 2).mean(axis=0), np.full((3, 3), 1 / 3), atol=0.06)


# ================================================================ losses
LOSSES = [
    ("l1", lambda x, t: F.l1_loss(x, t), lambda x, t: torch.nn.functional.l1_loss(x, t), "normal"),
    ("l1_sum", lambda x, t: F.l1_loss(x, t, "sum"), lambda x, t: torch.nn.functional.l1_loss(x, t, reduction="sum"), "normal"),
    ("smooth_l1", lambda x, t: F.smooth_l1_loss(x, t, beta=0.6),
     lambda x, t: torch.nn.functional.smooth_l1_loss(x, t, beta=0.6), "normal"),
    ("smooth_l1_beta0", lambda x, t: F.smooth_l1_loss(x, t, "none", 0.0),
     lambda x, t: torch.nn.functional.smooth_l1_loss(x, t, reduction="none", beta=0.0), "normal"),
    ("huber", lambda x, t: F.huber_loss(x, t, "none", 0.7),
     lambda x, t: torch.nn.functional.huber_loss(x, t, reduction="none", delta=0.7), "normal"),
    ("huber_mean", lambda x, t: F.huber_loss(x, t), lambda x, t: torch.nn.functional.huber_loss(x, t), "normal"),
    ("bce", lambda x, t: F.binary_cross_entropy(x, t), lambda x, t: torch.nn.functional.binary_cross_entropy(x, t), "prob"),
    ("bce_none", lambda x, t: F.binary_cross_entropy(x, t, reduction="none"),
     lambda x, t: torch.nn.functional.binary_cross_entropy(x, t, reduction="none"), "prob"),
    ("kl_batchmean", lambda x, t: F.kl_div(x, t, "batchmean"),
     lambda x, t: torch.nn.functional.kl_div(x, t, reduction="batchmean"), "kl"),
    ("kl_sum", lambda x, t: F.kl_div(x, t, "sum"), lambda x, t: torch.nn.functional.kl_div(x, t, reduction="sum"), "kl"),
    ("kl_mean", lambda x, t: F.kl_div(x, t), lambda x, t: torch.nn.functional.kl_div(x, t, reduction="mean"), "kl"),
    ("kl_log_target", lambda x, t: F.kl_div(x, t, "none", True),
     lambda x, t: torch.nn.functional.kl_div(x, t, reduction="none", log_target=True), "normal"),
]


def _loss_inputs(rng, kind):
    shape = tuple(int(v) for v in rng.integers(1, 5, rng.integers(1, 4)))
    if kind == "prob":
        return rng.uniform(0.02, 0.98, shape), rng.uniform(0, 1, shape)
    if kind == "kl":
        t = rng.uniform(0, 1, shape)
        t[t < 0.2] = 0.0   # zero targets contribute 0 (torch's x log x at 0)
        return rng.standard_normal(shape), t
    return rng.standard_normal(shape) * 2, rng.standard_normal(shape) * 2


@requires_torch
@pytest.mark.parametrize("name,ours,theirs,kind", LOSSES, ids=[a[0] for a in LOSSES])
def test_loss_parity(name, ours, theirs, kind):
    for seed in range(4):
        x, t = _loss_inputs(rng_for(name, seed), kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torch warns about kl_div's 'mean'
            if kind == "kl":   # zero targets: torch's target gradient there is nan (log 0); input's only
                parity(lambda x: ours(x, T(t, False)), lambda x: theirs(x, TT(t, False)), [x], 1e-10, 1e-12, seed)
                t = np.where(t == 0, 0.5, t)
            parity(ours, theirs, [x, t], 1e-10, 1e-12, seed)


@pytest.mark.parametrize("name,ours,theirs,kind", LOSSES, ids=[a[0] for a in LOSSES])
def test_loss_gradcheck(name, ours, theirs, kind):
    x, t = _loss_inputs(np.random.default_rng(14), kind)
    if kind == "kl":
        t = np.where(t == 0, 0.5, t)   # the target's gradient log t needs t > 0
    tg.gradcheck(ours, [T(x), T(t)])


@requires_torch
def test_loss_modules_match_torch():
    rng = np.random.default_rng(15)
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    p, q, w = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4)), rng.uniform(0, 2, 4)
    for ours, theirs, a, b in [
            (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), x, t),
            (nn.SmoothL1Loss(beta=2.0), torch.nn.SmoothL1Loss(beta=2.0), x, t),
            (nn.HuberLoss("sum", 0.5), torch.nn.HuberLoss("sum", 0.5), x, t),
            (nn.BCELoss(T(w, False)), torch.nn.BCELoss(TT(w, False)), p, q),
            (nn.KLDivLoss(reduction="batchmean", log_target=True),
             torch.nn.KLDivLoss(reduction="batchmean", log_target=True), x, t)]:
        module_parity(ours, theirs, [a, b], 1e-10, 1e-12)
    assert list(nn.BCELoss(T(w, False)).state_dict()) == list(torch.nn.BCELoss(TT(w, False)).state_dict())


@requires_torch
def test_loss_errors():
    x, bad = np.full((2, 3), 0.5), np.full((2, 3), 1.5)
    both_raise(lambda: F.binary_cross_entropy(T(bad), T(x)),
               lambda: torch.nn.functional.binary_cross_entropy(TT(bad), TT(x)), "between 0 and 1", RuntimeError)
    both_raise(lambda: F.binary_cross_entropy(T(x), T(np.zeros((3, 2)))),
               lambda: torch.nn.functional.binary_cross_entropy(TT(x), TT(np.zeros((3, 2)))), "binary_cross_entropy",
               ValueError)
    both_raise(lambda: F.kl_div(T(x), T(x), "average"),
               lambda: torch.nn.functional.kl_div(TT(x), TT(x), reduction="average"), "kl_div", ValueError)
    both_raise(lambda: F.huber_loss(T(x), T(x), delta=-1.0),
               lambda: torch.nn.functional.huber_loss(TT(x), TT(x), delta=-1.0), "huber_loss", RuntimeError)
    both_raise(lambda: nn.L1Loss(reduction="avg"), lambda: torch.nn.L1Loss(reduction="avg")(TT(x), TT(x)), "L1Loss")
    with pytest.raises(ValueError, match="l1_loss"):
        F.l1_loss(T(x), T(np.zeros((2, 1))))
    # BCE keeps its log clamp at -100 (finite loss and gradient at 0 and 1), as torch
    edge, target = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.3])
    parity(lambda p: F.binary_cross_entropy(p, T(target, False), reduction="sum"),
           lambda p: torch.nn.functional.binary_cross_entropy(p, TT(target, False), reduction="sum"),
           [edge], 1e-7, 1e-12)


# ================================================================ normalize, cosine_similarity, interpolate
@requires_torch
def test_normalize_and_cosine_similarity_match_torch():
    for seed in range(6):
        rng = np.random.default_rng(seed)
        shape = tuple(int(v) for v in rng.integers(1, 5, rng.integers(1, 4)))
        dim = int(rng.integers(-len(shape), len(shape)))
        p = [2.0, 1.0, 3.0, math.inf][seed % 4]
        parity(lambda x: F.normalize(x, p, dim), lambda x: torch.nn.functional.normalize(x, p, dim),
               [rng.standard_normal(shape)], 1e-10, 1e-12)
        other = tuple(1 if seed % 2 and i == 0 else s for i, s in enumerate(shape))   # broadcasting
        parity(lambda a, b: F.cosine_similarity(a, b, dim), lambda a, b: torch.nn.functional.cosine_similarity(a, b, dim),
               [rng.standard_normal(shape), rng.standard_normal(other)], 1e-10, 1e-12)
    x = np.zeros((2, 3))
    both_raise(lambda: F.normalize(T(x), dim=2), lambda: torch.nn.functional.normalize(TT(x), dim=2), "normalize")
    both_raise(lambda: F.cosine_similarity(T(x), T(np.zeros((2, 4)))),
               lambda: torch.nn.functional.cosine_similarity(TT(x), TT(np.zeros((2, 4)))), "cosine_similarity")


def test_normalize_cosine_gradcheck():
    rng = np.random.default_rng(16)
    tg.gradcheck(lambda x: F.normalize(x, dim=0), [T(rng.standard_normal((3, 4)))])
    tg.gradcheck(lambda x: F.normalize(x, p=3.0), [T(rng.standard_normal((3, 4)))])
    tg.gradcheck(lambda a, b: F.cosine_similarity(a, b, -1), [T(rng.standard_normal((3, 4))), T(rng.standard_normal((1, 4)))])


def interp_cases(count):
    for seed in range(count):
        rng = np.random.default_rng(seed)
        nd = 3 + seed % 2
        mode = ["nearest", "linear" if nd == 3 else "bilinear"][(seed // 2) % 2]
        ac = None if mode == "nearest" else bool(rng.integers(0, 2))
        spatial = tuple(int(v) for v in rng.integers(1, 7, nd - 2))
        if seed % 3:
            kw = dict(size=tuple(int(v) for v in rng.integers(1, 9, nd - 2)))
        else:
            kw = dict(scale_factor=float(rng.choice([1.5, 2.0, 2.7, 3.0])))
        yield rng, mode, ac, (2, 3) + spatial, kw


@requires_torch
def test_interpolate_matches_torch():
    for rng, mode, ac, shape, kw in interp_cases(24):
        parity(lambda x: F.interpolate(x, mode=mode, align_corners=ac, **kw),
               lambda x: torch.nn.functional.interpolate(x, mode=mode, align_corners=ac, **kw),
               [rng.standard_normal(shape)], 1e-10, 1e-12)
    x3, x4 = np.zeros((1, 2, 4)), np.zeros((1, 2, 4, 4))
    ti = torch.nn.functional.interpolate
    both_raise(lambda: F.interpolate(T(x3), size=3, mode="bilinear"), lambda: ti(TT(x3), size=3, mode="bilinear"),
               "interpolate")
    both_raise(lambda: F.interpolate(T(x4), size=3, align_corners=True),
               lambda: ti(TT(x4), size=3, align_corners=True), "align_corners", ValueError)
    both_raise(lambda: F.interpolate(T(x4)), lambda: ti(TT(x4)), "size or scale_factor", ValueError)


def test_interpolate_gradcheck():
    for rng, mode, ac, shape, kw in interp_cases(6):
        tg.gradcheck(lambda x: F.interpolate(x, mode=mode, align_corners=ac, **kw), [T(rng.standard_normal(shape))])


# ================================================================ a torch-style model, end to end
@requires_torch
def test_torch_style_model_runs_and_matches():
    """Model code written for torch runs unchanged with `import tinygrad_seq as torch` and gives
    torch's outputs and gradients from torch's weights."""
    def build(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = lib.nn.Sequential(lib.nn.Conv2d(2, 4, 3, padding=1), lib.nn.BatchNorm2d(4), lib.nn.GELU())
                self.up = lib.nn.ConvTranspose2d(4, 4, 2, stride=2)
                self.pool = lib.nn.AdaptiveAvgPool2d((2, 2))
                self.heads = lib.nn.ModuleDict({"a": lib.nn.Linear(16, 3), "b": lib.nn.Linear(16, 3)})
                self.norm = lib.nn.GroupNorm(2, 4)
                self.attn = lib.nn.MultiheadAttention(4, 2, batch_first=True)

            def forward(self, x):
                h = self.norm(self.up(self.stem(x)))
                seq = h.flatten(2).transpose(1, 2)
                h = self.attn(seq, seq, seq)[0].transpose(1, 2).reshape(h.shape)
                z = self.pool(h).flatten(1)
                return self.heads["a"](z) + lib.nn.functional.silu(self.heads["b"](z))
        return Net()

    theirs = build(torch).double()
    ours = copy_from_torch(build(tg), theirs)
    x = np.random.default_rng(17).standard_normal((2, 2, 3, 3))
    module_parity(ours, theirs, [x], 1e-8, 1e-10)


# ================================================================ the same on the GPU
@pytest.mark.gpu
def test_new_layers_on_gpu_match_cpu():
    """Every new function runs through the backend's array module: CuPy gives the CPU's values and
    gradients."""
    rng = np.random.default_rng(18)
    x4, x3 = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((2, 4, 7))
    idx, off = np.array([0, 3, 3, 1, 4, 2]), np.array([0, 1, 4])
    w_t, table = rng.standard_normal((4, 2, 3, 2)), rng.standard_normal((5, 3))
    cases = [
        (lambda x: F.gelu(x) + F.elu(x) + F.silu(x) + F.softplus(x, 2.0, 1.0), x3),
        (lambda x: F.glu(x, 1), x3),
        (lambda x: F.batch_norm(x, None, None, training=True), x4),
        (lambda x: F.group_norm(x, 2), x4),
        (lambda x: F.conv_transpose2d(x, tg.tensor(w_t, device=x.device), stride=2, padding=1), x4),
        (lambda x: F.adaptive_avg_pool2d(x, (3, 4)) + F.adaptive_max_pool2d(x, (3, 4)), x4),
        (lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=False), x4),
        (lambda x: F.interpolate(x, size=9), x3),
        (lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True), x4),
        (lambda x: F.normalize(x) + F.cosine_similarity(x, x * 2 + 1, dim=1).unsqueeze(1), x3),
        (lambda x: F.smooth_l1_loss(x, x * 0.5) + F.huber_loss(x, -x) + F.l1_loss(x, x * 0), x3),
        (lambda x: F.binary_cross_entropy(x.sigmoid(), (x * 0 + 0.3)) + F.kl_div(x, x.sigmoid(), "batchmean"), x3),
        (lambda w: F.embedding_bag(tg.tensor(idx, device=w.device), w, tg.tensor(off, device=w.device), mode="max"), table),
    ]
    for k, (fn, a) in enumerate(cases):
        outs, grads = [], []
        for device in ("cpu", "cuda"):
            x = tg.tensor(a, device=device, requires_grad=True)
            y = fn(x)
            y.backward(tg.ones_like(y))
            outs.append(y.numpy())
            grads.append(x.grad.numpy())
        np.testing.assert_allclose(outs[1], outs[0], 1e-9, 1e-10, err_msg=f"case {k}: output")
        np.testing.assert_allclose(grads[1], grads[0], 1e-9, 1e-10, err_msg=f"case {k}: gradient")
    bn, mha = nn.BatchNorm1d(4).cuda(), nn.MultiheadAttention(4, 2).cuda()
    bn(tg.randn(3, 4, device="cuda"))
    assert bn.running_mean.device == "cuda" and int(bn.num_batches_tracked.item()) == 1
    q = tg.randn(3, 2, 4, device="cuda")
    out, w = mha(q, q, q, key_padding_mask=tg.tensor(np.zeros((2, 3), bool), device="cuda"))
    assert out.device == w.device == "cuda" and w.shape == (2, 3, 3)
