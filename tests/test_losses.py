"""Losses: the fused cross-entropy (every option, gradchecked, against torch and against the
composed log_softmax + pick definition), nll / mse / bce-with-logits, their stability on huge
logits, the loss Modules, and the error messages."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tests.conftest import torch, requires_torch
from tests.test_nn_functional import parity

REDUCTIONS = ["mean", "sum", "none"]


def logits_targets(rng, shape, ignore=None):
    """float64 logits of `shape` (N, C, ...) and int64 class targets (N, ...), a few set to `ignore`."""
    C = shape[1]
    x = rng.standard_normal(shape) * 2
    t = rng.integers(0, C, (shape[0],) + tuple(shape[2:]))
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return x, t


CE_CASES = [  # shape, ignore_index, label_smoothing, weighted
    ((4, 5), None, 0.0, False), ((4, 5), -100, 0.0, True), ((3, 4), 2, 0.25, False),
    ((2, 3, 4), -100, 0.1, True), ((2, 4, 3, 2), 1, 0.0, True), ((5,), None, 0.3, True),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CE_CASES, ids=lambda c: f"{c[0]}-ign{c[1]}-ls{c[2]}-w{int(c[3])}")
def test_cross_entropy_gradcheck(case, reduction):
    shape, ignore, ls, weighted = case
    rng = np.random.default_rng(len(shape) * 10 + int(ls * 10))
    if len(shape) == 1:   # unbatched: (C,) scores and a 0-d target
        x, t = rng.standard_normal(shape), np.array(rng.integers(0, shape[0]))
    else:
        x, t = logits_targets(rng, shape, ignore)
    kw = dict(reduction=reduction, label_smoothing=ls)
    if ignore is not None:
        kw["ignore_index"] = ignore
    C = shape[0] if len(shape) == 1 else shape[1]
    w = tg.Tensor(rng.uniform(0.5, 2.0, C)) if weighted else None
    xt, tt = tg.Tensor(x, requires_grad=True), tg.Tensor(t)
    assert tg.gradcheck(lambda x: F.cross_entropy(x, tt, weight=w, **kw), [xt])


@requires_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_parity(reduction):
    TF = torch.nn.functional
    for i, (shape, ignore, ls, weighted) in enumerate(CE_CASES):
        rng = np.random.default_rng(300 + i)
        if len(shape) == 1:
            x, t = rng.standard_normal(shape), np.array(rng.integers(0, shape[0]))
        else:
            x, t = logits_targets(rng, shape, ignore)
        C = shape[0] if len(shape) == 1 else shape[1]
        w = rng.uniform(0.5, 2.0, C) if weighted else None
        ign = -100 if ignore is None else ignore
        parity(lambda x: F.cross_entropy(x, tg.Tensor(t), None if w is None else tg.Tensor(w), ign, reduction, ls),
               lambda x: TF.cross_entropy(x, torch.tensor(t), None if w is None else torch.tensor(w), ignore_index=ign,
                                          reduction=reduction, label_smoothing=ls), [x], rtol=1e-9, atol=1e-12)


def test_cross_entropy_equals_composed_definition():
    """The fused op against log_softmax, the target's entry and the average, written out."""
    rng = np.random.default_rng(20)
    x, t = logits_targets(rng, (6, 4), ignore=-100)
    w = rng.uniform(0.5, 2.0, 4)
    a = tg.Tensor(x, requires_grad=True)
    b = tg.Tensor(x, requires_grad=True)
    fused = F.cross_entropy(a, tg.Tensor(t), weight=tg.Tensor(w), label_smoothing=0.2)
    keep = np.flatnonzero(t != -100)
    logp = b.log_softmax(dim=1)[keep]                           # (M, C) kept rows
    wt = w[t[keep]]
    nll = -(logp[np.arange(len(keep)), t[keep]] * tg.Tensor(wt)).sum()
    smooth = -(logp * tg.Tensor(w)).sum()
    composed = (0.8 * nll + 0.2 / 4 * smooth) / wt.sum()
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_cross_entropy_is_stable_for_huge_logits():
    x = tg.Tensor(np.array([[1e4, 0.0, -1e4], [-5e3, 5e3, 0.0]], dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(x, tg.Tensor([0, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and abs(loss.item() - 2500.0) < 1e-2   # (0 + 5000) / 2
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 0], [0, 0.5, -0.5]], atol=1e-6)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_cross_entropy_all_ignored_mean_is_nan_like_torch():
    loss = F.cross_entropy(tg.randn(2, 3), tg.Tensor([-100, -100]))
    assert np.isnan(loss.item())
    assert F.cross_entropy(tg.randn(2, 3), tg.Tensor([-100, -100]), reduction="sum").item() == 0.0


def test_cross_entropy_errors():
    x = tg.randn(4, 3)
    with pytest.raises(TypeError, match=r"cross_entropy: target must hold int64 class indices, got dtype float32"):
        F.cross_entropy(x, tg.Tensor([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(IndexError, match=r"cross_entropy: target 3 is out of bounds for 3 classes \(input shape \(4, 3\)"):
        F.cross_entropy(x, tg.Tensor([0, 1, 3, 1]))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        F.cross_entropy(x, tg.Tensor([0, -1, 2, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy: expected target of shape \(4,\) for input of shape \(4, 3\), got \(3,\)"):
        F.cross_entropy(x, tg.Tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.cross_entropy(x, tg.Tensor([0, 1, 2, 1]), reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, tg.Tensor([0, 1, 2, 1]), weight=tg.ones(4))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(x, tg.Tensor([0, 1, 2, 1]), label_smoothing=1.5)


# ---------------------------------------------------------------- nll, mse, bce
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_gradcheck_and_parity(reduction):
    rng = np.random.default_rng(21)
    x, t = logits_targets(rng, (3, 4, 2), ignore=1)
    w = rng.uniform(0.5, 2, 4)
    xt = tg.Tensor(x, requires_grad=True)
    assert tg.gradcheck(lambda x: F.nll_loss(x, tg.Tensor(t), tg.Tensor(w), 1, reduction), [xt])
    if torch is not None:
        parity(lambda x: F.nll_loss(x.log_softmax(dim=1), tg.Tensor(t), tg.Tensor(w), 1, reduction),
               lambda x: torch.nn.functional.nll_loss(x.log_softmax(1), torch.tensor(t), torch.tensor(w),
                                                      ignore_index=1, reduction=reduction), [x])


def test_nll_of_log_softmax_equals_cross_entropy():
    rng = np.random.default_rng(22)
    x, t = logits_targets(rng, (5, 3), ignore=-100)
    a = F.nll_loss(tg.Tensor(x).log_softmax(dim=1), tg.Tensor(t))
    b = F.cross_entropy(tg.Tensor(x), tg.Tensor(t))
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss(reduction):
    rng = np.random.default_rng(23)
    a, b = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True), tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert tg.gradcheck(lambda a, b: F.mse_loss(a, b, reduction), [a, b])
    if torch is not None:
        parity(lambda a, b: F.mse_loss(a, b, reduction), lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
               [a.numpy(), b.numpy()])
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3,\) and target shape \(3, 1\) differ"):
        F.mse_loss(tg.randn(3), tg.randn(3, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck_and_parity(reduction):
    rng = np.random.default_rng(24)
    x, t = rng.standard_normal((4, 3)) * 3, rng.uniform(0, 1, (4, 3))
    w, pw = rng.uniform(0.5, 2, (1, 3)), rng.uniform(0.5, 3, 3)
    for weight, pos_weight in [(None, None), (w, None), (None, pw), (w, pw)]:
        kw = dict(weight=None if weight is None else tg.Tensor(weight),
                  pos_weight=None if pos_weight is None else tg.Tensor(pos_weight))
        xt, tt = tg.Tensor(x, requires_grad=True), tg.Tensor(t, requires_grad=True)
        assert tg.gradcheck(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw), [xt, tt])
        if torch is not None:
            tkw = dict(weight=None if weight is None else torch.tensor(weight),
                       pos_weight=None if pos_weight is None else torch.tensor(pos_weight))
            parity(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=reduction, **kw),
                   lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction=reduction, **tkw),
                   [x, t])


def test_bce_with_logits_is_stable_and_checks_shapes():
    x = tg.Tensor(np.array([1e4, -1e4, 0.0], dtype=np.float32), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, tg.Tensor([0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1e4, 1e4, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, -0.5], atol=1e-6)
    with pytest.raises(ValueError, match=r"target size \(2,\) must be the same as input size \(3,\)"):
        F.binary_cross_entropy_with_logits(tg.randn(3), tg.rand(2))


# ---------------------------------------------------------------- modules
@requires_torch
def test_loss_modules_match_torch_and_keep_weights_as_buffers():
    rng = np.random.default_rng(25)
    x, t = logits_targets(rng, (6, 4), ignore=-100)
    w = rng.uniform(0.5, 2, 4)
    pairs = [
        (nn.CrossEntropyLoss(tg.Tensor(w), label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(torch.tensor(w), label_smoothing=0.1), x, t),
        (nn.CrossEntropyLoss(reduction="sum", ignore_index=2), torch.nn.CrossEntropyLoss(reduction="sum", ignore_index=2),
         x, np.where(t < 0, 2, t)),
        (nn.NLLLoss(tg.Tensor(w)), torch.nn.NLLLoss(torch.tensor(w)), x, t),
        (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum"), x, rng.standard_normal(x.shape)),
        (nn.BCEWithLogitsLoss(pos_weight=tg.Tensor(w)), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)),
         x, rng.uniform(0, 1, x.shape)),
    ]
    for ours, theirs, a, b in pairs:
        bt = tg.Tensor(b)
        parity(lambda a: ours(a, bt), lambda a: theirs(a, torch.tensor(b)), [a])
        assert repr(ours) == repr(theirs)
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert sorted(nn.CrossEntropyLoss(tg.Tensor(w)).state_dict()) == ["weight"]


def test_loss_module_argument_errors():
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none'"):
        nn.CrossEntropyLoss(reduction="batchmean")
    with pytest.raises(TypeError):   # torch's deprecated positional size_average slot is not mimicked
        nn.CrossEntropyLoss(None, None, -1)
