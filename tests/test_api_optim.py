"""Adadelta, Adamax, NAdam, RAdam, LBFGS and the schedules MultiStepLR, LambdaLR, LinearLR,
OneCycleLR, CyclicLR, SequentialLR, CosineAnnealingWarmRestarts and ReduceLROnPlateau against
torch.optim: the same
float64 problem, the same trajectory; errors for the same bad arguments."""
import math

import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq import optim
from tinygrad_seq.optim import lr_scheduler

torch = pytest.importorskip("torch")

OPTIONS = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=1e-2, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.1)),
    ("Adamax", dict(maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=1e-2)),
    ("NAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=1e-2, betas=(0.5, 0.6), weight_decay=0.1)),   # beta2 small: rectified from step 3
    ("RAdam", dict(lr=1e-2, betas=(0.9, 0.8), eps=1e-3, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in OPTIONS]
SHAPES = [(3, 4), (5,)]


@pytest.fixture(autouse=True)
def torch_float64_scalars():
    """torch keeps scalar optimizer state (NAdam's mu_product, step counts) in the default
    dtype; float64 makes its arithmetic the exact float64 math these tests compare to."""
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(prev)


def problem(seed=0):
    """Random parameters, and a fixed nonlinear loss of them (so gradients follow the path)."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in SHAPES]
    targets = [rng.standard_normal(s) for s in SHAPES]
    return params, targets


@pytest.mark.parametrize("name,kw", OPTIONS, ids=IDS)
def test_optimizer_matches_torch_over_steps(name, kw):
    params, targets = problem()
    ours = [tg.Tensor(p.copy(), requires_grad=True) for p in params]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt_o = getattr(optim, name)(ours, **kw)
    opt_t = getattr(torch.optim, name)(theirs, **kw)
    for step in range(15):
        for P, T, mod in ((ours, [tg.Tensor(t) for t in targets], tg), (theirs, [torch.tensor(t) for t in targets],
                                                                          torch)):
            loss = sum(((p - t) ** 2 * (1 + p.tanh())).sum() for p, t in zip(P, T))
            loss.backward()
        opt_o.step()
        opt_t.step()
        opt_o.zero_grad()
        opt_t.zero_grad()
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name} step {step}")
    # the state has torch's names and values
    st_o, st_t = opt_o.state_dict()["state"], opt_t.state_dict()["state"]
    assert set(st_o) == set(st_t)
    for i in st_t:
        assert set(st_o[i]) == set(st_t[i])
        for k, v in st_t[i].items():
            np.testing.assert_allclose(np.asarray(st_o[i][k]), np.asarray(v.numpy() if hasattr(v, "numpy") else v),
                                       rtol=1e-10, atol=1e-14)
    assert {k: v for k, v in opt_o.state_dict()["param_groups"][0].items() if k in kw} == \
        {k: v for k, v in opt_t.state_dict()["param_groups"][0].items() if k in kw}


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam"])
def test_optimizer_state_dict_round_trip_continues_exactly(name):
    params, targets = problem(1)

    def run(opt, ps, steps):
        for _ in range(steps):
            loss = sum(((p - tg.Tensor(t)) ** 2).sum() for p, t in zip(ps, targets))
            opt.zero_grad()
            loss.backward()
            opt.step()

    ps = [tg.Tensor(p.copy(), requires_grad=True) for p in params]
    opt = getattr(optim, name)(ps, lr=0.01)
    run(opt, ps, 3)
    saved, saved_ps = opt.state_dict(), [p.numpy().copy() for p in ps]
    run(opt, ps, 4)
    ps2 = [tg.Tensor(p, requires_grad=True) for p in saved_ps]
    opt2 = getattr(optim, name)(ps2, lr=0.5)
    opt2.load_state_dict(saved)
    run(opt2, ps2, 4)
    for a, b in zip(ps, ps2):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


BAD = [
    ("Adadelta", dict(lr=-1.0)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-0.1)),
    ("Adamax", dict(betas=(1.0, 0.9))), ("Adamax", dict(betas=(0.9, -0.1))), ("Adamax", dict(eps=-1.0)),
    ("NAdam", dict(momentum_decay=-1.0)), ("NAdam", dict(weight_decay=-1.0)), ("NAdam", dict(betas=(0.9, 1.0))),
    ("RAdam", dict(lr=-1e-3)), ("RAdam", dict(betas=(-0.1, 0.9))), ("RAdam", dict(eps=-1.0)),
]


@pytest.mark.parametrize("name,kw", BAD, ids=[f"{n}-{kw}" for n, kw in BAD])
def test_optimizer_rejects_what_torch_rejects(name, kw):
    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
    with pytest.raises(ValueError, match=name):
        getattr(optim, name)([tg.Tensor(np.zeros(2), requires_grad=True)], **kw)


# ------------------------------------------------------------------ LBFGS
def rosenbrock(x, mod):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def quadratic_maker(seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((6, 6))
    A, b = M @ M.T + 6 * np.eye(6), rng.standard_normal(6)

    def quadratic(x, mod):
        At, bt = (tg.Tensor(A), tg.Tensor(b)) if mod is tg else (torch.tensor(A), torch.tensor(b))
        return 0.5 * (x * (At @ x)).sum() - (bt * x).sum()
    return quadratic


LBFGS_CASES = [
    # without a line search the path on Rosenbrock is chaotic (rounding grows 10x every few
    # iterations), so compare 24 iterations only
    ("rosenbrock", rosenbrock, np.array([-1.5, 2.0]), dict(max_iter=4)),
    ("rosenbrock-wolfe", rosenbrock, np.array([-1.5, 2.0]), dict(line_search_fn="strong_wolfe")),
    ("rosenbrock-small-history", rosenbrock, np.array([-1.2, 1.0]),
     dict(lr=0.5, history_size=3, max_iter=7, line_search_fn="strong_wolfe")),
    ("quadratic", quadratic_maker(0), np.linspace(-1, 1, 6), dict(lr=0.8, max_iter=5, history_size=4)),
    ("quadratic-wolfe", quadratic_maker(1), np.linspace(-1, 1, 6),
     dict(max_iter=4, line_search_fn="strong_wolfe", tolerance_grad=1e-5, tolerance_change=1e-7)),
    ("rosenbrock-max-eval", rosenbrock, np.array([0.5, -0.5]), dict(max_iter=30, max_eval=12,
                                                                       line_search_fn="strong_wolfe")),
]


@pytest.mark.parametrize("case,f,x0,kw", LBFGS_CASES, ids=[c[0] for c in LBFGS_CASES])
def test_lbfgs_matches_torch(case, f, x0, kw):
    xo = tg.Tensor(x0.copy(), requires_grad=True)
    xt = torch.tensor(x0.copy(), requires_grad=True)
    opt_o, opt_t = optim.LBFGS([xo], **kw), torch.optim.LBFGS([xt], **kw)
    evals = {"o": 0, "t": 0}

    def closure_o():
        evals["o"] += 1
        opt_o.zero_grad()
        loss = f(xo, tg)
        loss.backward()
        return loss

    def closure_t():
        evals["t"] += 1
        opt_t.zero_grad()
        loss = f(xt, torch)
        loss.backward()
        return loss

    for step in range(6):
        lo, lt = opt_o.step(closure_o), opt_t.step(closure_t)
        assert float(lo.item()) == pytest.approx(float(lt.item()), rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(xo.numpy(), xt.detach().numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=f"step {step}")
        assert evals["o"] == evals["t"]
        so, st = opt_o.state[xo], opt_t.state[xt]
        assert so["func_evals"] == st["func_evals"] and so["n_iter"] == st["n_iter"]
        assert len(so["old_dirs"]) == len(st["old_dirs"])
    if case == "rosenbrock-wolfe":
        np.testing.assert_allclose(xo.numpy(), [1.0, 1.0], atol=1e-4)   # it did converge


def test_lbfgs_state_dict_resume_and_errors():
    def closure_for(x, opt):
        def closure():
            opt.zero_grad()
            loss = rosenbrock(x, tg)
            loss.backward()
            return loss
        return closure

    x = tg.Tensor(np.array([-1.0, 1.5]), requires_grad=True)
    opt = optim.LBFGS([x], max_iter=3, history_size=5, line_search_fn="strong_wolfe")
    opt.step(closure_for(x, opt))
    saved, x_saved = opt.state_dict(), x.numpy().copy()
    opt.step(closure_for(x, opt))
    x2 = tg.Tensor(x_saved, requires_grad=True)
    opt2 = optim.LBFGS([x2], max_iter=3, history_size=5, line_search_fn="strong_wolfe")
    opt2.load_state_dict(saved)
    opt2.step(closure_for(x2, opt2))
    np.testing.assert_array_equal(x.numpy(), x2.numpy())

    p = [tg.Tensor(np.zeros(2), requires_grad=True)]
    for kw in (dict(lr=-1.0),):
        with pytest.raises(ValueError):
            torch.optim.LBFGS([torch.zeros(2, requires_grad=True)], **kw)
        with pytest.raises(ValueError, match="LBFGS"):
            optim.LBFGS(p, **kw)
    groups_t = [{"params": [torch.zeros(2, requires_grad=True)]}, {"params": [torch.zeros(2, requires_grad=True)]}]
    with pytest.raises(ValueError, match="parameter groups"):
        torch.optim.LBFGS(groups_t)
    groups_o = [{"params": [tg.Tensor(np.zeros(2), requires_grad=True)]},
                {"params": [tg.Tensor(np.zeros(2), requires_grad=True)]}]
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS(groups_o)
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS(p, line_search_fn="armijo")
    with pytest.raises(TypeError, match="closure"):
        optim.LBFGS(p).step()


# ------------------------------------------------------------------ schedules
class Scale:
    """A callable object as lr_lambda (its attributes go into the state dict, as in torch)."""

    def __init__(self, k):
        self.k = k

    def __call__(self, epoch):
        return self.k ** epoch


SCHEDULES = [
    ("MultiStepLR", dict(milestones=[3, 7, 7, 20], gamma=0.5), "SGD"),
    ("MultiStepLR", dict(milestones=[10, 2]), "SGD"),
    ("LambdaLR", dict(lr_lambda=lambda e: 1 / (1 + 0.3 * e)), "SGD"),
    ("LambdaLR", dict(lr_lambda=[lambda e: 0.9 ** e, Scale(0.8)]), "SGD"),
    ("LinearLR", dict(), "SGD"),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.5, total_iters=12), "SGD"),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=30), "SGD"),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=31), "SGD"),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=8, pct_start=0.4,
                        anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0), "Adam"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=31, three_phase=True, base_momentum=0.7), "SGD"),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=31, cycle_momentum=False), "Adagrad"),
    ("CosineAnnealingWarmRestarts", dict(T_0=5), "SGD"),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.01), "SGD"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4), "SGD"),
    ("CyclicLR", dict(base_lr=[0.01, 0.002], max_lr=[0.1, 0.05], step_size_up=3, step_size_down=5,
                      mode="triangular2", base_momentum=0.7, max_momentum=0.95), "SGD"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, mode="exp_range", gamma=0.9), "Adam"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=2, scale_fn=lambda x: 0.8 ** x,
                      scale_mode="iterations"), "SGD"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=lambda c: 1 / c), "Adam"),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular", scale_mode="iterations",
                      cycle_momentum=False), "Adagrad"),
]


def two_groups(lib, opt_name):
    mk = (lambda: tg.Tensor(np.zeros(2), requires_grad=True)) if lib is optim else \
        (lambda: torch.zeros(2, dtype=torch.float64, requires_grad=True))
    kw = dict(momentum=0.9) if opt_name == "SGD" else {}
    return getattr(lib, opt_name)([{"params": [mk()]}, {"params": [mk()], "lr": 0.01}], lr=0.1, **kw)


@pytest.mark.parametrize("name,kw,opt_name", SCHEDULES, ids=[f"{s[0]}-{i}" for i, s in enumerate(SCHEDULES)])
def test_schedule_matches_torch(name, kw, opt_name):
    opt_o, opt_t = two_groups(optim, opt_name), two_groups(torch.optim, opt_name)
    s_o = getattr(lr_scheduler, name)(opt_o, **kw)
    s_t = getattr(torch.optim.lr_scheduler, name)(opt_t, **kw)
    for epoch in range(31 if name == "OneCycleLR" and kw.get("total_steps") == 31 else 30):
        np.testing.assert_allclose(s_o.get_last_lr(), s_t.get_last_lr(), rtol=1e-12, atol=1e-15,
                                   err_msg=f"epoch {epoch}")
        for go, gt in zip(opt_o.param_groups, opt_t.param_groups):
            assert go["lr"] == pytest.approx(gt["lr"], rel=1e-12, abs=1e-15)
            for key in ("momentum", "betas"):
                if key in gt:
                    np.testing.assert_allclose(go[key], gt[key], rtol=1e-12)
        if epoch < (30 if name != "OneCycleLR" else min(30, s_t.total_steps - 1)):
            opt_o.step()
            opt_t.step()
            s_o.step()
            s_t.step()


def test_cosine_warm_restarts_fractional_epochs_match_torch():
    opt_o, opt_t = two_groups(optim, "SGD"), two_groups(torch.optim, "SGD")
    s_o = lr_scheduler.CosineAnnealingWarmRestarts(opt_o, T_0=4, T_mult=2, eta_min=0.001)
    s_t = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt_t, T_0=4, T_mult=2, eta_min=0.001)
    for epoch in np.arange(0, 30, 0.37):
        s_o.step(float(epoch))
        s_t.step(float(epoch))
        np.testing.assert_allclose(s_o.get_last_lr(), s_t.get_last_lr(), rtol=1e-12)
    with pytest.raises(ValueError):
        s_t.step(-1)
    with pytest.raises(ValueError, match="epoch"):
        s_o.step(-1)


def test_schedule_state_dict_resumes():
    opt = two_groups(optim, "SGD")
    s = lr_scheduler.LambdaLR(opt, [lambda e: 0.9 ** e, Scale(0.8)])
    for _ in range(5):
        s.step()
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [None, {"k": 0.8}]
    opt2 = two_groups(optim, "SGD")
    s2 = lr_scheduler.LambdaLR(opt2, [lambda e: 0.9 ** e, Scale(0.5)])
    s2.load_state_dict(sd)
    assert s2.lr_lambdas[1].k == 0.8
    s.step()
    s2.step()
    assert s.get_last_lr() == s2.get_last_lr()


SEQUENCES = [   # (the schedulers, made on one optimizer, from a library's lr_scheduler; milestones)
    (lambda L, o: [L.LinearLR(o, start_factor=0.1, total_iters=4), L.ExponentialLR(o, gamma=0.9)], [5]),
    (lambda L, o: [L.StepLR(o, 2, 0.5), L.CosineAnnealingLR(o, T_max=6, eta_min=0.001),
                   L.MultiStepLR(o, [2, 5], gamma=0.3)], [4, 11]),
    (lambda L, o: [L.StepLR(o, 1, 0.5), L.LambdaLR(o, lambda e: 1 / (1 + e)),   # milestone 0: the
                   L.CosineAnnealingWarmRestarts(o, T_0=3)], [0, 6]),                 # first never runs
    (lambda L, o: [L.CyclicLR(o, 0.01, 0.1, step_size_up=2), L.ExponentialLR(o, gamma=0.8)], [7]),
    (lambda L, o: [L.ExponentialLR(o, gamma=0.5)], []),
]


@pytest.mark.parametrize("k", range(len(SEQUENCES)))
def test_sequential_lr_matches_torch(k):
    make, milestones = SEQUENCES[k]
    opt_o, opt_t = two_groups(optim, "SGD"), two_groups(torch.optim, "SGD")
    s_o = lr_scheduler.SequentialLR(opt_o, make(lr_scheduler, opt_o), milestones)
    s_t = torch.optim.lr_scheduler.SequentialLR(opt_t, make(torch.optim.lr_scheduler, opt_t), milestones)
    for epoch in range(25):
        np.testing.assert_allclose(s_o.get_last_lr(), s_t.get_last_lr(), rtol=1e-12, err_msg=f"epoch {epoch}")
        np.testing.assert_allclose([g["lr"] for g in opt_o.param_groups], [g["lr"] for g in opt_t.param_groups],
                                   rtol=1e-12, err_msg=f"epoch {epoch}")
        assert s_o.last_epoch == s_t.last_epoch
        opt_o.step()
        opt_t.step()
        s_o.step()
        s_t.step()


def test_sequential_and_cyclic_state_dicts_resume():
    def build(opt):
        return lr_scheduler.SequentialLR(opt, [lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_up=3,
                                                                     scale_fn=Scale(0.5)),
                                               lr_scheduler.StepLR(opt, 2, 0.5)], [8])
    opt = two_groups(optim, "SGD")
    s = build(opt)
    for _ in range(6):
        s.step()
    sd = s.state_dict()
    assert sd["_schedulers"][0]["_scale_fn_custom"] == {"k": 0.5}
    opt2 = two_groups(optim, "SGD")
    s2 = build(opt2)
    s2._schedulers[0]._scale_fn_custom.k = 0.9
    s2.load_state_dict(sd)
    assert s2._schedulers[0]._scale_fn_custom.k == 0.5
    for _ in range(6):
        s.step()
        s2.step()
        assert s.get_last_lr() == s2.get_last_lr()
        assert [g["momentum"] for g in opt.param_groups] == [g["momentum"] for g in opt2.param_groups]


def _sched_bad_cases(L, lib):
    def opt():
        return two_groups(lib, "SGD")
    return [
        lambda: L.CyclicLR(opt(), 0.01, 0.1, mode="sine"),
        lambda: L.CyclicLR(opt(), [0.01], 0.1),
        lambda: L.CyclicLR(opt(), 0.01, [0.1, 0.2, 0.3]),
        lambda: L.CyclicLR(two_groups(lib, "Adagrad"), 0.01, 0.1),
        lambda: L.CyclicLR(opt(), 0.01, 0.1, base_momentum=[0.8]),
        lambda: L.SequentialLR(opt(), [], []),
        lambda: (lambda o: L.SequentialLR(o, [L.StepLR(o, 2), L.StepLR(o, 3)], []))(opt()),
        lambda: (lambda o: L.SequentialLR(o, [L.StepLR(o, 2), L.StepLR(opt(), 3)], [3]))(opt()),
        lambda: (lambda o: L.SequentialLR(o, [L.StepLR(o, 2), L.ReduceLROnPlateau(o)], [3]))(opt()),
    ]


@pytest.mark.parametrize("k", range(9))
def test_cyclic_and_sequential_reject_what_torch_rejects(k):
    with pytest.raises(ValueError):
        _sched_bad_cases(torch.optim.lr_scheduler, torch.optim)[k]()
    with pytest.raises(ValueError, match="CyclicLR|SequentialLR|per parameter group"):
        _sched_bad_cases(lr_scheduler, optim)[k]()


def test_sequential_lr_refuses_a_non_scheduler_like_torch():
    with pytest.raises(TypeError):
        torch.optim.lr_scheduler.SequentialLR(two_groups(torch.optim, "SGD"), [object()], [])
    with pytest.raises(TypeError, match="SequentialLR"):
        lr_scheduler.SequentialLR(two_groups(optim, "SGD"), [object()], [])


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", factor=0.5, patience=2, threshold=0.1, cooldown=2),
                                dict(threshold_mode="abs", threshold=0.05, patience=1, min_lr=[0.02, 0.005]),
                                dict(mode="max", threshold_mode="abs", patience=0, eps=0.02, min_lr=1e-3)])
def test_reduce_lr_on_plateau_matches_torch(kw):
    opt_o, opt_t = two_groups(optim, "SGD"), two_groups(torch.optim, "SGD")
    s_o = lr_scheduler.ReduceLROnPlateau(opt_o, **kw)
    s_t = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, **kw)
    metrics = [1.0, 0.9, 0.95, 0.9, 0.899, 0.91, 0.92, 0.5, 0.5, 0.5, 0.6, 0.49] * 4
    for m in metrics:
        s_o.step(m)
        s_t.step(m)
        assert s_o.get_last_lr() == pytest.approx(s_t.get_last_lr(), rel=1e-12)
        assert s_o.num_bad_epochs == s_t.num_bad_epochs and s_o.best == s_t.best
    assert len(set(s_o.get_last_lr())) >= 1 and s_o.get_last_lr() != [0.1, 0.01] or kw.get("mode") == "max"


SCHED_BAD = [
    ("ReduceLROnPlateau", dict(factor=1.0)), ("ReduceLROnPlateau", dict(mode="avg")),
    ("ReduceLROnPlateau", dict(threshold_mode="pct")), ("ReduceLROnPlateau", dict(min_lr=[0.1])),
    ("LinearLR", dict(start_factor=0.0)), ("LinearLR", dict(end_factor=1.5)),
    ("OneCycleLR", dict(max_lr=0.1)), ("OneCycleLR", dict(max_lr=0.1, total_steps=0)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, pct_start=1.5)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, anneal_strategy="exp")),
    ("OneCycleLR", dict(max_lr=[0.1], total_steps=10)),
    ("CosineAnnealingWarmRestarts", dict(T_0=0)), ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=0)),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1.0])),
]


@pytest.mark.parametrize("name,kw", SCHED_BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHED_BAD)])
def test_schedule_rejects_what_torch_rejects(name, kw):
    with pytest.raises(ValueError):
        getattr(torch.optim.lr_scheduler, name)(two_groups(torch.optim, "SGD"), **kw)
    with pytest.raises(ValueError):
        getattr(lr_scheduler, name)(two_groups(optim, "SGD"), **kw)


def test_one_cycle_needs_momentum_and_stops_after_total_steps():
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.OneCycleLR(two_groups(torch.optim, "Adagrad"), max_lr=0.1, total_steps=5)
    with pytest.raises(ValueError, match="momentum"):
        lr_scheduler.OneCycleLR(two_groups(optim, "Adagrad"), max_lr=0.1, total_steps=5)
    s = lr_scheduler.OneCycleLR(two_groups(optim, "SGD"), max_lr=0.1, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="total_steps"):
        s.step()
    assert math.isfinite(s.get_last_lr()[0])


# ------------------------------------------------------------------ a torch training script, unchanged
def train_script(torch, init):
    """A typical PyTorch training loop (data, model, optimizer, schedule, clipping, hooks),
    written against the `torch` namespace it is given."""
    nn = torch.nn
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 3)), rng.standard_normal((40, 1))
    ds = torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(Y))
    train_set = torch.utils.data.Subset(ds, list(range(0, 40, 2)))
    loader = torch.utils.data.DataLoader(train_set, batch_size=6, drop_last=False,
                                         sampler=torch.utils.data.SequentialSampler(train_set))
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    model.load_state_dict(init)
    acts = []
    handle = model[1].register_forward_hook(lambda m, args, out: acts.append(float(out.detach().abs().mean())))
    opt = torch.optim.NAdam(model.parameters(), lr=0.01, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, epochs=3, steps_per_epoch=len(loader))
    losses = []
    for epoch in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            loss = ((model(xb) - yb) ** 2).mean()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.item()))
        if epoch == 0:
            handle.remove()
    return losses, acts, torch.nn.utils.parameters_to_vector(model.parameters())


def test_a_torch_training_script_runs_unchanged_and_matches_torch():
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    init = {k: v.detach().numpy().copy() for k, v in ref.state_dict().items()}
    ours = train_script(tg, init)
    theirs = train_script(torch, {k: torch.tensor(v) for k, v in init.items()})
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9)
    assert len(ours[1]) == 4   # the hook saw the first epoch only
    np.testing.assert_allclose(ours[2].numpy(), theirs[2].detach().numpy(), rtol=1e-9)


try:
    from tests.conftest import gpu
except ImportError:   # pragma: no cover
    gpu = pytest.mark.skip(reason="no conftest")


@gpu
@pytest.mark.parametrize("name,kw", OPTIONS + [("LBFGS", dict(line_search_fn="strong_wolfe", max_iter=5))],
                         ids=IDS + ["LBFGS"])
def test_optimizers_on_gpu_match_cpu(name, kw):
    params, targets = problem(3)
    finals = []
    for device in ("cpu", "cuda"):
        ps = [tg.Tensor(p.copy(), device=device, requires_grad=True) for p in params]
        ts = [tg.Tensor(t, device=device) for t in targets]
        opt = getattr(optim, name)(ps, **kw)

        def closure():
            opt.zero_grad()
            loss = sum(((p - t) ** 2 * (1 + p.tanh())).sum() for p, t in zip(ps, ts))
            loss.backward()
            return loss
        for _ in range(5):
            opt.step(closure)
        finals.append([p.numpy() for p in ps])
    for a, b in zip(*finals):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
