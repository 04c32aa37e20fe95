"""torch's everyday Tensor API and top-level functions: each differentiable op gradchecked in
float64 and compared with PyTorch (values, gradients, errors) on random shapes; the
non-differentiable ones (sort indices, random fills, dtypes, devices) checked directly; and
a script written for PyTorch run with `import tinygrad_seq as torch`."""
import numpy as np
import pytest

import tinygrad_seq as tg
from tests.conftest import torch as _torch

SEEDS = [0, 1, 2]


def _shape(rng, nd, lo=1, hi=5):
    return tuple(int(n) for n in rng.integers(lo, hi + 1, nd))


def _idx(rng, high, shape):
    return rng.integers(0, high, shape)


def _case_gather(rng):
    s = _shape(rng, 3, 2)
    d = int(rng.integers(0, 3))
    ishape = tuple(int(rng.integers(1, n + 1)) if i != d else int(rng.integers(1, 6)) for i, n in enumerate(s))
    idx = _idx(rng, s[d], ishape)
    return [rng.standard_normal(s)], lambda M, x: x.gather(d, M.tensor(idx))


def _case_scatter(rng):
    s = _shape(rng, 2, 2)
    d = int(rng.integers(0, 2))
    # distinct targets along d (torch's scatter is undefined for repeats): a permutation prefix
    k = int(rng.integers(1, s[d] + 1))
    other = s[1 - d]
    perm = np.stack([rng.permutation(s[d])[:k] for _ in range(other)], axis=1 - d)
    src_shape = (k, other) if d == 0 else (other, k)
    return ([rng.standard_normal(s), rng.standard_normal(src_shape)],
            lambda M, x, src: x.scatter(d, M.tensor(perm), src) * 1.5)


def _case_scatter_add(rng):
    s = _shape(rng, 2, 2)
    d = int(rng.integers(0, 2))
    ishape = (int(rng.integers(1, 7)), s[1]) if d == 0 else (s[0], int(rng.integers(1, 7)))
    idx = _idx(rng, s[d], ishape)
    return ([rng.standard_normal(s), rng.standard_normal(ishape)],
            lambda M, x, src: x.scatter_add(d, M.tensor(idx), src))


def _case_index_select(rng):
    s = _shape(rng, 3)
    d = int(rng.integers(0, 3))
    idx = _idx(rng, s[d], (int(rng.integers(1, 6)),))
    return [rng.standard_normal(s)], lambda M, x: x.index_select(d, M.tensor(idx))


def _case_masked_fill(rng):
    s = _shape(rng, 3)
    mask = rng.random((1,) + s[1:]) < 0.4
    return [rng.standard_normal(s)], lambda M, x: x.masked_fill(M.tensor(mask), -7.5).exp()


def _case_masked_select(rng):
    s = _shape(rng, 2)
    mask = rng.random(s[1:]) < 0.5
    return [rng.standard_normal(s)], lambda M, x: x.masked_select(M.tensor(mask)) * 2


def _case_narrow(rng):
    s = _shape(rng, 3, 2)
    d = int(rng.integers(0, 3))
    start = int(rng.integers(-s[d], s[d]))
    length = int(rng.integers(0, s[d] - start % s[d] + 1))
    return [rng.standard_normal(s)], lambda M, x: x.narrow(d, start, length) * 3


def _case_repeat(rng):
    s = _shape(rng, 2, 1, 3)
    reps = tuple(int(r) for r in rng.integers(1, 4, int(rng.integers(2, 4))))
    return [rng.standard_normal(s)], lambda M, x: x.repeat(*reps).tanh()


def _case_unfold_tanh(rng):
    s = _shape(rng, 2, 3, 6)
    d = int(rng.integers(-2, 2))
    size, step = int(rng.integers(1, s[d] + 1)), int(rng.integers(1, 3))
    return [rng.standard_normal(s)], lambda M, x: x.unfold(d, size, step).tanh()


def _case_t_contiguous(rng):
    s = _shape(rng, 2)
    return [rng.standard_normal(s)], lambda M, x: x.t().contiguous().reshape(-1) * x.mT.reshape(-1)


def _case_clone(rng):
    return [rng.standard_normal(_shape(rng, 2))], lambda M, x: x.clone() * x


def _case_unary(name, kind="any"):
    def make(rng):
        s = _shape(rng, 2)
        a = rng.standard_normal(s) if kind == "any" else rng.uniform(0.3, 2.0, s)
        return [a], lambda M, x: getattr(x, name)()
    return make


def _case_nan_to_num(rng):
    s = _shape(rng, 2, 2)
    a = rng.standard_normal(s)
    a.flat[0], a.flat[-1] = np.nan, np.inf
    return [a], lambda M, x: x.nan_to_num(nan=0.5, posinf=9.0) * 2


def _case_norm(rng):
    s = _shape(rng, 3)
    p = [2, 1, 3, "fro", float("inf")][int(rng.integers(0, 5))]
    dim = [None, 0, -1, (0, 2)][int(rng.integers(0, 4))]
    if p == float("inf") and isinstance(dim, tuple):
        dim = 1
    keep = bool(rng.integers(0, 2))
    a = rng.standard_normal(s)
    a = a + np.sign(a) * 0.1   # away from |x| = 0, where p=1 has a kink
    return [a], lambda M, x: x.norm(p, dim, keep)


def _case_prod(rng):
    s = _shape(rng, 3)
    a = rng.standard_normal(s)
    a.flat[int(rng.integers(0, a.size))] = 0.0   # a zero: the gradient must not divide by it
    dim = [None, 0, 1, -1][int(rng.integers(0, 4))]
    return [a], (lambda M, x: x.prod()) if dim is None else (lambda M, x: x.prod(dim, keepdim=True))


def _case_scan(name):
    def make(rng):
        s = _shape(rng, 3)
        a = rng.standard_normal(s)
        if name == "cumprod":
            a.flat[int(rng.integers(0, a.size))] = 0.0
        d = int(rng.integers(-3, 3))
        return [a], lambda M, x: getattr(x, name)(d)
    return make


def _case_flip_roll(rng):
    s = _shape(rng, 3)
    dims = tuple(int(d) for d in rng.choice(3, int(rng.integers(1, 4)), replace=False))
    shift = int(rng.integers(-4, 5))
    return [rng.standard_normal(s)], lambda M, x: x.flip(dims).roll(shift, 1) * x.roll(shift + 1)


def _case_triangle(rng):
    s = _shape(rng, 3, 1, 5)
    k = int(rng.integers(-2, 3))
    return [rng.standard_normal(s)], lambda M, x: x.tril(k) * 2 + x.triu(k + 1).exp()


def _case_diag(rng):
    k = int(rng.integers(-2, 3))
    if rng.integers(0, 2):
        return [rng.standard_normal(_shape(rng, 1))], lambda M, x: x.diag(k).exp()
    return [rng.standard_normal(_shape(rng, 2, 2, 5))], lambda M, x: x.diag(k) * 3


def _case_products(rng):
    n, m, k, b = (int(v) for v in rng.integers(1, 5, 4))
    which = int(rng.integers(0, 5))
    if which == 0:
        return [rng.standard_normal(n), rng.standard_normal(m)], lambda M, a, c: a.outer(c)
    if which == 1:
        return [rng.standard_normal((n, k)), rng.standard_normal((k, m))], lambda M, a, c: a.mm(c)
    if which == 2:
        return [rng.standard_normal((b, n, k)), rng.standard_normal((b, k, m))], lambda M, a, c: M.bmm(a, c)
    if which == 3:
        return ([rng.standard_normal((m,)), rng.standard_normal((n, k)), rng.standard_normal((k, m))],
                lambda M, i, a, c: i.addmm(a, c, beta=0.5, alpha=2.0))
    return ([rng.standard_normal((1, n, m)), rng.standard_normal((b, n, k)), rng.standard_normal((b, k, m))],
            lambda M, i, a, c: i.baddbmm(a, c, alpha=-1.5))


def _case_lerp(rng):
    s = _shape(rng, 2)
    return ([rng.standard_normal(s), rng.standard_normal(s[1:]), rng.uniform(0, 1, s)],
            lambda M, a, e, w: a.lerp(e, w) + a.lerp(e, 0.3))


EINSUMS = ["ij,jk->ik", "bij,bjk->bik", "ij->ji", "ij->", "ii->i", "ii", "i,i->", "ij,kj", "bi,bj->bij",
           "...ij,...jk->...ik", "ij,j->i", "abc->cb", "ij,ij->ij", "ijk,k->ij"]


def _case_einsum(rng):
    eq = EINSUMS[int(rng.integers(0, len(EINSUMS)))]
    lhs = eq.split("->")[0].split(",")
    sizes = {c: int(rng.integers(1, 5)) for c in "abcdefghijklmnopqrstuvwxyz"}
    lead = _shape(rng, int(rng.integers(0, 3)))
    arrays = [rng.standard_normal((lead if "..." in s else ()) + tuple(sizes[c] for c in s.replace("...", "")))
              for s in lhs]
    return arrays, lambda M, *xs: M.einsum(eq, *xs)


def _case_topk_sort(rng):
    s = _shape(rng, 3, 2)
    d = int(rng.integers(-3, 3))
    k = int(rng.integers(0, s[d] + 1))
    largest, desc = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    return [rng.standard_normal(s)], lambda M, x: (x.topk(k, d, largest).values.sum(d)
                                                  + x.sort(d, descending=desc).values.exp().sum(d))


def _case_max_min_dim(rng):
    s = _shape(rng, 3)
    d = int(rng.integers(-3, 3))
    keep = bool(rng.integers(0, 2))
    return [rng.standard_normal(s)], lambda M, x: x.max(d, keep).values * 2 + M.min(x, d, keep)[0]


def _case_cdist(rng):
    b, p, r, m = (int(v) for v in rng.integers(1, 5, 4))
    pp = [2.0, 1.0, 3.0][int(rng.integers(0, 3))]
    return ([rng.standard_normal((b, p, m)), rng.standard_normal((b, r, m))],
            lambda M, a, c: M.cdist(a, c, p=pp))


CASES = {
    "gather": _case_gather, "scatter": _case_scatter, "scatter_add": _case_scatter_add,
    "index_select": _case_index_select, "masked_fill": _case_masked_fill,
    "masked_select": _case_masked_select, "narrow": _case_narrow, "repeat": _case_repeat,
    "unfold": _case_unfold_tanh, "t_contiguous_mT": _case_t_contiguous, "clone": _case_clone,
    "rsqrt": _case_unary("rsqrt", "pos"), "log1p": _case_unary("log1p", "pos"),
    "expm1": _case_unary("expm1"), "square": _case_unary("square"), "sign": _case_unary("sign"),
    "floor": _case_unary("floor"), "ceil": _case_unary("ceil"), "round": _case_unary("round"),
    "nan_to_num": _case_nan_to_num, "norm": _case_norm, "prod": _case_prod,
    "cumsum": _case_scan("cumsum"), "cumprod": _case_scan("cumprod"), "flip_roll": _case_flip_roll,
    "tril_triu": _case_triangle, "diag": _case_diag, "products": _case_products, "lerp": _case_lerp,
    "einsum": _case_einsum, "topk_sort": _case_topk_sort, "max_min_dim": _case_max_min_dim,
    "cdist": _case_cdist,
}
# piecewise-constant ops: gradcheck's central differences are 0 too away from the jumps
NEEDS_FINITE = {"nan_to_num"}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name, seed):
    arrays, fn = CASES[name](np.random.default_rng(seed))
    if name in NEEDS_FINITE:   # perturbing NaN / Inf entries is meaningless: check the finite ones
        xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
        out = fn(tg, *xs)
        g = np.random.default_rng(seed).standard_normal(out.shape)
        out.backward(tg.Tensor(g))
        finite = np.isfinite(arrays[0])
        np.testing.assert_allclose(xs[0].grad.numpy(), np.where(finite, 2 * g, 0))
        return
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    assert tg.gradcheck(lambda *t: fn(tg, *t), xs)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_parity_with_torch(name, seed):
    torch = pytest.importorskip("torch")
    arrays, fn = CASES[name](np.random.default_rng(seed))
    ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn(tg, *ours), fn(torch, *theirs)
    assert out.shape == tuple(ref.shape) and str(out.dtype) == str(ref.dtype).replace("torch.", "")
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-7, atol=1e-10)
    g = np.random.default_rng(seed + 100).standard_normal(out.shape)
    out.backward(tg.Tensor(g))
    ref.backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        expect = np.zeros(a.shape) if b.grad is None else b.grad.numpy()
        got = np.zeros(a.shape) if a.grad is None else a.grad.numpy()
        np.testing.assert_allclose(got, expect, rtol=1e-7, atol=1e-10, err_msg=f"{name} input {i}")
