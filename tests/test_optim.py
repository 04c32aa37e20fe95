"""Optimizers, learning-rate schedules and gradient clipping: parity with PyTorch
on identical gradients, state dicts, dtypes, and the never-write-into-.grad rule."""
import math

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq import optim
from tinygrad_seq.autograd import AutogradError
from tinygrad_seq.optim import lr_scheduler
from tests.conftest import torch, requires_torch, assert_close

SHAPES = [(3, 4), (5,)]

OPTIONS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-3, amsgrad=True)),
    ("Adam", dict(lr=1e-2, maximize=True)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=1e-3, momentum=0.9, alpha=0.9)),
    ("RMSprop", dict(centered=True, weight_decay=0.01)),
    ("RMSprop", dict(centered=True, momentum=0.5, eps=1e-4)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adagrad", dict(eps=1e-5, maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in OPTIONS]


def make_params(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def grads_for(step, dtype=np.float32):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def run_ours(name, kw, steps, params=None):
    ps = [tg.Tensor(a.copy(), requires_grad=True) for a in (params or make_params())]
    opt = getattr(optim, name)(ps, **kw)
    for s in range(steps):
        for p, g in zip(ps, grads_for(s)):
            p.grad = tg.Tensor(g)
        opt.step()
    return ps, opt


# ------------------------------------------------------------------ parity with torch
@requires_torch
@pytest.mark.parametrize("name,kw", OPTIONS, ids=IDS)
def test_parity_with_torch(name, kw):
    ours = [tg.Tensor(a, requires_grad=True) for a in make_params()]
    theirs = [torch.tensor(a, requires_grad=True) for a in make_params()]
    o = getattr(optim, name)(ours, **kw)
    t = getattr(torch.optim, name)(theirs, **kw)
    for s in range(10):
        for a, b, g in zip(ours, theirs, grads_for(s)):
            a.grad, b.grad = tg.Tensor(g), torch.tensor(g)
        o.step()
        t.step()
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_close(a, b, rtol=1e-5, atol=1e-6, what=f"{name} {kw} param {i} after step {s + 1}")
    # the state holds the same running averages as torch's, in float32
    ts = t.state_dict()["state"]
    for i, a in enumerate(ours):
        for k, v in o.state[a].items():
            if k == "step":
                assert v == 10 == int(ts[i][k])
            else:
                assert v.dtype == np.float32, (k, v.dtype)
                assert_close(v, ts[i][k], rtol=1e-5, atol=1e-6, what=f"{name} state {k}")
        assert a.dtype == np.float32


@requires_torch
def test_param_groups_parity_with_torch():
    ours = [tg.Tensor(a, requires_grad=True) for a in make_params()]
    theirs = [torch.tensor(a, requires_grad=True) for a in make_params()]
    o = optim.Adam([{"params": [ours[0]], "lr": 0.1}, {"params": [ours[1]], "weight_decay": 0.5}], lr=0.01)
    t = torch.optim.Adam([{"params": [theirs[0]], "lr": 0.1}, {"params": [theirs[1]], "weight_decay": 0.5}], lr=0.01)
    assert o.param_groups[0]["lr"] == 0.1 and o.param_groups[1]["lr"] == 0.01
    assert o.param_groups[1]["weight_decay"] == 0.5 and o.param_groups[0]["weight_decay"] == 0
    for s in range(5):
        for a, b, g in zip(ours, theirs, grads_for(s)):
            a.grad, b.grad = tg.Tensor(g), torch.tensor(g)
        o.step()
        t.step()
    for a, b in zip(ours, theirs):
        assert_close(a, b, rtol=1e-5, atol=1e-6, what="param groups")
    # and the state dict has torch's layout: params by index across the groups
    assert [g["params"] for g in o.state_dict()["param_groups"]] == [g["params"] for g in t.state_dict()["param_groups"]]
    assert sorted(o.state_dict()["state"]) == sorted(t.state_dict()["state"])


# ------------------------------------------------------------------ update rules in detail
@pytest.mark.parametrize("name,kw", OPTIONS, ids=IDS)
def test_grad_arrays_are_never_written(name, kw):
    ps = [tg.Tensor(a, requires_grad=True) for a in make_params()]
    opt = getattr(optim, name)(ps, **kw)
    for s in range(3):
        gs = grads_for(s)
        for p, g in zip(ps, gs):
            p.grad = tg.Tensor(g)
        opt.step()
        for p, g in zip(ps, grads_for(s)):
            assert p.grad.array is not None and np.array_equal(p.grad.array, g), "step wrote into a .grad array"


def test_shared_gradient_array_updates_both_params_like_separate_arrays():
    g = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    init = np.arange(6, dtype=np.float32).reshape(2, 3)
    a, b = tg.Tensor(init.copy(), requires_grad=True), tg.Tensor(init.copy() * 2, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, weight_decay=0.5)
    a.grad = b.grad = tg.Tensor(g.copy())  # one array shared by two parameters
    opt.step()
    np.testing.assert_array_equal(a.grad.array, g)
    np.testing.assert_allclose(a.numpy(), init - 0.1 * (g + 0.5 * init), rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), 2 * init - 0.1 * (g + 0.5 * 2 * init), rtol=1e-6)


def test_sgd_plain_step_formula():
    p = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    p.grad = tg.Tensor([0.5, 0.5, -1.0])
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.numpy(), [0.95, -2.05, 3.1], rtol=1e-6)


def test_adam_first_step_moves_by_lr():
    # after bias correction the first Adam step is lr * g / (|g| + eps) ~ lr * sign(g)
    p = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    p.grad = tg.Tensor([0.3, -5.0, 1e-3])
    optim.Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.numpy(), [0.9, -1.9, 2.9], rtol=1e-4)


def test_params_without_grad_are_skipped():
    a, b = tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor([3.0, 4.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = tg.Tensor([1.0, 1.0])
    opt.step()
    np.testing.assert_array_equal(b.numpy(), [3.0, 4.0])
    assert b not in opt.state and a in opt.state
    assert not np.array_equal(a.numpy(), [1.0, 2.0])


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(name, dtype):
    kw = dict(lr=np.float64(0.01))  # a NumPy float64 lr must not turn float32 state into float64
    if name in ("SGD", "RMSprop"):
        kw["momentum"] = 0.9
    ps = [tg.Tensor(a, requires_grad=True) for a in make_params(dtype)]
    opt = getattr(optim, name)(ps, **kw)
    for s in range(2):
        for p, g in zip(ps, grads_for(s, np.float64)):  # even a float64 gradient
            p.grad = tg.Tensor(g)
        opt.step()
    for p in ps:
        assert p.dtype == dtype
        assert all(v.dtype == dtype for v in opt.state[p].values() if hasattr(v, "dtype")), opt.state[p]


def test_update_is_in_place_and_bumps_version():
    p = tg.Tensor([1.0, 2.0], requires_grad=True)
    arr = p.array
    y = (p * p).sum()  # Mul saved p for backward
    p.grad = tg.Tensor([1.0, 1.0])
    optim.SGD([p], lr=0.1).step()
    assert p.array is arr, "the update must write into the parameter's own array"
    with pytest.raises(AutogradError, match="modified in place"):
        y.backward()


def test_training_reduces_a_quadratic():
    target = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    for name, kw in [("SGD", dict(lr=0.1, momentum=0.5)), ("Adam", dict(lr=0.1)), ("AdamW", dict(lr=0.1)),
                     ("RMSprop", dict(lr=0.03)), ("Adagrad", dict(lr=0.5))]:
        p = tg.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
        opt = getattr(optim, name)([p], **kw)
        for _ in range(100):
            opt.zero_grad()
            loss = ((p - tg.Tensor(target)) ** 2).sum()
            loss.backward()
            opt.step()
        assert float(((p - tg.Tensor(target)) ** 2).sum()) < 0.05, name


def test_closure_is_called_and_its_loss_returned():
    p = tg.Tensor([3.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    with tg.no_grad():  # the closure records a graph even when step is called under no_grad
        loss = opt.step(closure)
    assert float(loss) == 9.0
    np.testing.assert_allclose(p.numpy(), [3.0 - 0.25 * 6.0])


def test_zero_grad():
    p = tg.Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    old = np.array([5.0, 6.0], dtype=np.float32)
    p.grad = tg.Tensor(old)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(old, [5.0, 6.0])  # a fresh array, not the old one zeroed
    opt.zero_grad()
    assert p.grad is None


def test_optimizer_works_with_module_parameters():
    class Lin(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(tg.randn(3, 2))
            self.b = nn.Parameter(tg.zeros(2))

        def forward(self, x):
            return x @ self.w + self.b

    m = Lin()
    opt = optim.SGD(m.parameters(), lr=0.1)  # a generator is fine
    assert len(opt.param_groups[0]["params"]) == 2
    before = m.w.numpy().copy()
    m(tg.ones(4, 3)).sum().backward()
    opt.step()
    np.testing.assert_allclose(m.w.numpy(), before - 0.1 * 4, rtol=1e-6)
    assert "SGD (" in repr(opt) and "lr: 0.1" in repr(opt)


# ------------------------------------------------------------------ state dicts
@pytest.mark.parametrize("name,kw", OPTIONS[1::2], ids=IDS[1::2])
def test_state_dict_round_trip_continues_identically(name, kw, tmp_path):
    full, _ = run_ours(name, kw, 6)
    ps, opt = run_ours(name, kw, 3)
    sd = opt.state_dict()
    tg.save(sd, tmp_path / "opt.npz")  # through a checkpoint file: JSON + arrays, no pickle
    fresh = [tg.Tensor(p.numpy().copy(), requires_grad=True) for p in ps]
    opt2 = getattr(optim, name)(fresh, lr=123.0)  # hyperparameters come from the state dict
    opt2.load_state_dict(tg.load(tmp_path / "opt.npz"))
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for s in range(3, 6):
        for p, g in zip(fresh, grads_for(s)):
            p.grad = tg.Tensor(g)
        opt2.step()
    for a, b in zip(full, fresh):
        assert np.array_equal(a.numpy(), b.numpy()), f"{name} did not resume bit for bit"


def test_state_dict_is_plain_data_and_a_snapshot():
    ps, opt = run_ours("Adam", dict(lr=0.1), 2)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"} and sd["state"][0]["step"] == 2
    assert isinstance(sd["state"][0]["exp_avg"], np.ndarray)
    saved = sd["state"][0]["exp_avg"].copy()
    for p, g in zip(ps, grads_for(7)):
        p.grad = tg.Tensor(g)
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], saved)  # later steps leave it alone


def test_load_state_dict_mismatch_errors():
    _, opt = run_ours("Adam", {}, 1)
    sd = opt.state_dict()
    p = [tg.Tensor(a, requires_grad=True) for a in make_params()]
    two_groups = optim.Adam([{"params": [p[0]]}, {"params": [p[1]]}])
    with pytest.raises(ValueError, match="Adam.load_state_dict: the state dict has 1 parameter groups, "
                                         "the optimizer has 2"):
        two_groups.load_state_dict(sd)
    one_param = optim.Adam([p[0]])
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters in the state dict but 1"):
        one_param.load_state_dict(sd)
    with pytest.raises(KeyError, match="no 'state' entry"):
        one_param.load_state_dict({"param_groups": []})
    swapped = optim.Adam([p[1], p[0]])
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(3, 4\), the parameter has "
                                         r"shape \(5,\)"):
        swapped.load_state_dict(sd)


# ------------------------------------------------------------------ bad input
def test_constructor_errors():
    p = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="Adam got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="SGD got an empty parameter list"):
        optim.SGD(iter([]), lr=0.1)
    with pytest.raises(TypeError, match="SGD: optimizer can only optimize Tensors, but parameter 1 is a ndarray"):
        optim.SGD([p, np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 has dtype int64"):
        optim.SGD([tg.Tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match=r"RMSprop: invalid learning rate -0.1 \(must be a number >= 0\)"):
        optim.RMSprop([p], lr=-0.1)
    with pytest.raises(ValueError, match="Adam: invalid learning rate -1"):
        optim.Adam([{"params": [p], "lr": -1}])
    with pytest.raises(ValueError, match=r"Adam: invalid betas \(0.9, 1.0\)"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="AdamW: invalid eps -1"):
        optim.AdamW([p], eps=-1)
    with pytest.raises(ValueError, match="nesterov momentum requires a momentum > 0 and zero dampening"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="SGD: invalid momentum -0.5"):
        optim.SGD([p], lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="Adagrad: invalid lr_decay -1"):
        optim.Adagrad([p], lr_decay=-1)
    with pytest.raises(ValueError, match="RMSprop: invalid alpha -1"):
        optim.RMSprop([p], alpha=-1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(KeyError, match="a parameter group needs a 'params' entry, got keys \\['lr'\\]"):
        optim.SGD([{"lr": 0.1}], lr=0.1)


def test_grad_of_wrong_shape_is_an_error():
    p = tg.Tensor([1.0, 2.0], requires_grad=True)
    p.grad = tg.Tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"SGD: gradient of shape \(3,\) does not match its parameter of shape \(2,\)"):
        optim.SGD([p], lr=0.1).step()


# ------------------------------------------------------------------ schedulers
SCHEDULERS = [("StepLR", dict(step_size=3, gamma=0.5)), ("StepLR", dict(step_size=2)),
              ("ExponentialLR", dict(gamma=0.9)), ("CosineAnnealingLR", dict(T_max=7)),
              ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01))]


@requires_torch
@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=[f"{n}-{kw}" for n, kw in SCHEDULERS])
def test_scheduler_parity_with_torch(name, kw):
    p, q = tg.Tensor([1.0], requires_grad=True), tg.Tensor([1.0], requires_grad=True)
    tp, tq = torch.tensor([1.0], requires_grad=True), torch.tensor([1.0], requires_grad=True)
    o = optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.3}], lr=0.1)
    t = torch.optim.SGD([{"params": [tp]}, {"params": [tq], "lr": 0.3}], lr=0.1)
    s = getattr(lr_scheduler, name)(o, **kw)
    ts = getattr(torch.optim.lr_scheduler, name)(t, **kw)
    for epoch in range(16):  # past T_max: the cosine comes back up, as in torch
        np.testing.assert_allclose(s.get_last_lr(), ts.get_last_lr(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name} epoch {epoch}")
        assert [g["lr"] for g in o.param_groups] == s.get_last_lr()
        t.step()
        o.step()
        s.step()
        ts.step()


def test_scheduler_values():
    p = tg.Tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    s = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    lrs = []
    for _ in range(5):
        lrs.append(s.get_last_lr()[0])
        s.step()
    np.testing.assert_allclose(lrs, [1, 1, 0.1, 0.1, 0.01])
    opt = optim.SGD([tg.Tensor([1.0], requires_grad=True)], lr=2.0)
    c = lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=1.0)
    got = []
    for _ in range(5):
        got.append(c.get_last_lr()[0])
        c.step()
    np.testing.assert_allclose(got, [2.0, 1 + (1 + math.cos(math.pi / 4)) / 2, 1.5, 1 + (1 - math.cos(math.pi / 4)) / 2, 1.0])


@pytest.mark.parametrize("name,kw", SCHEDULERS[::2], ids=[f"{n}" for n, _ in SCHEDULERS[::2]])
def test_scheduler_state_dict_resume(name, kw, tmp_path):
    def fresh():
        opt = optim.SGD([tg.Tensor([1.0], requires_grad=True)], lr=0.5)
        return opt, getattr(lr_scheduler, name)(opt, **kw)
    opt, s = fresh()
    for _ in range(4):
        s.step()
    tg.save({"opt": opt.state_dict(), "sched": s.state_dict()}, tmp_path / "s.npz")
    expected = []
    for _ in range(5):
        s.step()
        expected.append(s.get_last_lr())
    ck = tg.load(tmp_path / "s.npz")
    opt2, s2 = fresh()
    opt2.load_state_dict(ck["opt"])
    s2.load_state_dict(ck["sched"])
    got = []
    for _ in range(5):
        s2.step()
        got.append(s2.get_last_lr())
    assert got == expected
    assert "optimizer" not in s.state_dict() and s.state_dict()["last_epoch"] == 9


def test_scheduler_errors():
    opt = optim.SGD([tg.Tensor([1.0], requires_grad=True)], lr=0.5)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be > 0"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match="ExponentialLR: expected an Optimizer, got list"):
        lr_scheduler.ExponentialLR([], gamma=0.5)


# ------------------------------------------------------------------ gradient clipping
def _with_grads(scale=1.0, dtype=np.float32):
    rng = np.random.default_rng(7)
    ps = [tg.Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in [(4, 3), (6,), (2,)]]
    gs = [(rng.standard_normal(p.shape) * scale).astype(dtype) for p in ps]
    for p, g in zip(ps, gs):
        p.grad = tg.Tensor(g.copy())
    return ps, gs


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_parity_with_torch(norm_type, max_norm):
    ps, gs = _with_grads()
    tps = [torch.tensor(p.numpy(), requires_grad=True) for p in ps]
    for tp, g in zip(tps, gs):
        tp.grad = torch.tensor(g)
    old = [p.grad.array for p in ps]
    total = nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    assert isinstance(total, tg.Tensor) and total.shape == () and total.dtype == np.float32
    assert_close(total, ttotal, rtol=1e-6, what="total norm")
    for p, tp, g, o in zip(ps, tps, gs, old):
        assert_close(p.grad, tp.grad, rtol=1e-6, atol=1e-7, what="clipped grad")
        assert p.grad.dtype == np.float32
        np.testing.assert_array_equal(o, g)  # the old gradient array was not written into
    if max_norm > 100:
        for p, g in zip(ps, gs):
            np.testing.assert_array_equal(p.grad.numpy(), g)  # below max_norm: unchanged


def test_clip_grad_norm_values_and_edge_cases():
    p, q, r = (tg.Tensor([0.0, 0.0], requires_grad=True) for _ in range(3))
    p.grad, q.grad = tg.Tensor([3.0, 0.0]), tg.Tensor([0.0, 4.0])  # joint 2-norm 5; r has no grad
    total = nn.utils.clip_grad_norm_(iter([p, q, r]), 1.0)
    assert abs(float(total) - 5.0) < 1e-6
    np.testing.assert_allclose(np.concatenate([p.grad.numpy(), q.grad.numpy()]), [0.6, 0, 0, 0.8], rtol=1e-5)
    assert r.grad is None
    single = tg.Tensor([1.0], requires_grad=True)
    single.grad = tg.Tensor([-10.0])
    assert float(nn.utils.clip_grad_norm_(single, 2.0, norm_type=math.inf)) == 10.0
    np.testing.assert_allclose(single.grad.numpy(), [-2.0], rtol=1e-5)
    assert float(nn.utils.clip_grad_norm_([r], 1.0)) == 0.0  # no gradients at all
    q.grad = tg.Tensor([np.inf, 0.0])
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total 2.0-norm of the gradients is inf"):
        nn.utils.clip_grad_norm_([p, q], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="norm_type must be > 0 or inf"):
        nn.utils.clip_grad_norm_([p], 1.0, norm_type=0)


@requires_torch
def test_clip_grad_value_parity_with_torch():
    ps, gs = _with_grads(scale=2.0)
    tps = [torch.tensor(p.numpy()) for p in ps]
    for tp, g in zip(tps, gs):
        tp.grad = torch.tensor(g)
    assert nn.utils.clip_grad_value_(ps, 0.7) is None
    torch.nn.utils.clip_grad_value_(tps, 0.7)
    for p, tp, g in zip(ps, tps, gs):
        assert_close(p.grad, tp.grad, rtol=0, atol=0, what="clip_grad_value_")
        assert np.abs(g).max() > 0.7  # the test clips something ...
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        nn.utils.clip_grad_value_(ps, -1)


def test_clip_grad_value_does_not_write_into_grad():
    p = tg.Tensor([0.0, 0.0], requires_grad=True)
    g = np.array([5.0, -0.1], dtype=np.float32)
    p.grad = tg.Tensor(g)
    nn.utils.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), np.array([1.0, -0.1], dtype=np.float32))
    np.testing.assert_array_equal(g, np.array([5.0, -0.1], dtype=np.float32))


# ------------------------------------------------------------------ GPU
@pytest.mark.gpu
@pytest.mark.parametrize("name,kw", OPTIONS, ids=IDS)
def test_cuda_step_equals_cpu(name, kw):
    cpu, _ = run_ours(name, kw, 4)
    ps = [tg.Tensor(a, requires_grad=True, device="cuda") for a in make_params()]
    opt = getattr(optim, name)(ps, **kw)
    for s in range(4):
        for p, g in zip(ps, grads_for(s)):
            p.grad = tg.Tensor(g, device="cuda")
        opt.step()
    for a, b in zip(ps, cpu):
        assert a.device == "cuda" and a.dtype == np.float32
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    sd = opt.state_dict()  # state stays on the device, and loads back onto it
    opt.load_state_dict(sd)
    assert all(tg.backend.device_of(v) == "cuda" for st in opt.state.values() for v in st.values()
               if tg.backend.is_array(v))


@pytest.mark.gpu
def test_cuda_clip_grad_norm_equals_cpu():
    ps, _ = _with_grads()
    gps = [tg.Tensor(p.numpy(), requires_grad=True, device="cuda") for p in ps]
    for gp, p in zip(gps, ps):
        gp.grad = tg.Tensor(p.grad.numpy(), device="cuda")
    a = nn.utils.clip_grad_norm_(ps, 0.5)
    b = nn.utils.clip_grad_norm_(gps, 0.5)
    assert b.device == "cuda"
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)
    for p, gp in zip(ps, gps):
        np.testing.assert_allclose(p.grad.numpy(), gp.grad.numpy(), rtol=1e-5, atol=1e-7)
