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
           "...ij,...jk->...ik", "ij,j->i", "abc->cb", "ij,ij->ij", "ijk,k->ij",
           "...iJ,Jk", "A...j,jk->A...k", "i...,i...->..."]


def _case_einsum(rng):
    eq = EINSUMS[int(rng.integers(0, len(EINSUMS)))]
    lhs = eq.split("->")[0].split(",")
    sizes = {c: int(rng.integers(1, 5)) for c in "abcdefghijklmnopqrstuvwxyzAJ"}
    lead = _shape(rng, int(rng.integers(0, 3)))
    def shape(s):   # '...' at its place in the subscripts
        pre, dots, post = s.partition("...")
        return tuple(sizes[c] for c in pre) + (lead if dots else ()) + tuple(sizes[c] for c in post)
    arrays = [rng.standard_normal(shape(s)) for s in lhs]
    def fn(M, *xs):
        return M.einsum(eq, *xs)
    fn.eq = eq
    return arrays, fn


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


def _case_remainder(rng):
    s = _shape(rng, 2)
    a, b = rng.standard_normal(s) * 3, rng.uniform(0.5, 2, s[1:]) * rng.choice([-1, 1], s[1:])
    return [a, b], lambda M, x, y: x % y + x % 1.5 + (x // 0.7).detach() + x.remainder(y)


def _case_median(rng):
    s = _shape(rng, 3)
    d = int(rng.integers(-3, 3))
    keep = bool(rng.integers(0, 2))
    return [rng.standard_normal(s)], lambda M, x: x.median(d, keep).values * 2 + M.median(x).exp()


def _case_tensordot(rng):
    """int dims, or two lists pairing random dims of a and b (in a random order)."""
    na, nb = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    k = int(rng.integers(0, min(na, nb) + 1))
    a_shape = _shape(rng, na)
    if rng.integers(0, 2):
        b_shape = a_shape[na - k:] + _shape(rng, nb - k)
        dims = k
    else:
        da = [int(d) for d in rng.permutation(na)[:k]]
        db = [int(d) for d in rng.permutation(nb)[:k]]
        b_list = list(_shape(rng, nb))
        for i, j in zip(da, db):
            b_list[j] = a_shape[i]
        b_shape = tuple(b_list)
        dims = ([d - na if rng.integers(0, 2) else d for d in da], db)   # negative dims too
    return [rng.standard_normal(a_shape), rng.standard_normal(b_shape)], lambda M, a, b: M.tensordot(a, b, dims)


def _case_meshgrid(rng):
    n = int(rng.integers(1, 4))
    indexing = ["ij", "xy"][int(rng.integers(0, 2))]
    arrays = [rng.standard_normal(_shape(rng, 1)) if rng.integers(0, 4) else rng.standard_normal(())
              for _ in range(n)]

    def fn(M, *xs):
        grids = M.meshgrid(*xs, indexing=indexing)
        out = grids[0] * 1.5
        for k, g in enumerate(grids[1:]):
            out = out * g + g.exp() * (k + 1)
        return out
    return arrays, fn


CASES = {
    "median": _case_median, "tensordot": _case_tensordot, "meshgrid": _case_meshgrid,
    "remainder": _case_remainder,
    "gather": _case_gather, "scatter": _case_scatter, "scatter_add": _case_scatter_add,
    "index_select": _case_index_select, "masked_fill": _case_masked_fill,
    "masked_select": _case_masked_select, "narrow": _case_narrow, "repeat": _case_repeat,
    "unfold": _case_unfold_tanh, "t_contiguous_mT": _case_t_contiguous, "clone": _case_clone,
    "rsqrt": _case_unary("rsqrt", "pos"), "log1p": _case_unary("log1p", "pos"),
    "expm1": _case_unary("expm1"), "sin": _case_unary("sin"), "cos": _case_unary("cos"),
    "square": _case_unary("square"), "sign": _case_unary("sign"),
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
@pytest.mark.parametrize("eq", EINSUMS)
def test_einsum_every_equation(eq, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    while True:   # draw until this equation comes up
        arrays, fn = _case_einsum(rng)
        if fn.eq == eq:
            break
    ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn(tg, *ours), fn(torch, *theirs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-7, atol=1e-10)
    out.sum().backward()
    ref.sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-7, atol=1e-10)
    assert tg.gradcheck(lambda *t: fn(tg, *t), ours)


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


# ---------------------------------------------------------------- bad input: one clear error, as torch refuses
def _x(M):
    return M.tensor(np.arange(12.0).reshape(3, 4))


ERRORS = {
    "gather_out_of_range": (lambda M: _x(M).gather(1, M.tensor([[0, 4]] * 3)), "gather"),
    "gather_negative": (lambda M: _x(M).gather(1, M.tensor([[0, -1]] * 3)), "gather"),
    "gather_ndim": (lambda M: _x(M).gather(1, M.tensor([0, 1])), "gather"),
    "gather_float_index": (lambda M: _x(M).gather(1, M.tensor([[0.0]] * 3)), "gather"),
    "gather_dim": (lambda M: _x(M).gather(2, M.tensor([[0]] * 3)), "gather"),
    "scatter_add_src_dtype": (lambda M: _x(M).scatter_add(0, M.tensor([[0]]), M.tensor([[1]])), "scatter_add"),
    "index_select_range": (lambda M: _x(M).index_select(0, M.tensor([3])), "index_select"),
    "narrow_range": (lambda M: _x(M).narrow(1, 2, 3), "narrow"),
    "topk_k": (lambda M: _x(M).topk(5), "topk"),
    "mm_shapes": (lambda M: _x(M).mm(_x(M)), "mm"),
    "mm_ndim": (lambda M: _x(M).reshape(1, 3, 4).mm(_x(M).t()), "mm"),
    "bmm_ndim": (lambda M: _x(M).bmm(_x(M).t()), "bmm"),
    "masked_fill_mask_dtype": (lambda M: _x(M).masked_fill(M.tensor([1, 0, 1, 0]), 0.0), "masked_fill"),
    "masked_fill_mask_shape": (lambda M: _x(M).masked_fill(M.tensor([True, False]), 0.0), "masked_fill"),
    "diag_3d": (lambda M: _x(M).reshape(1, 3, 4).diag(), "diag"),
    "t_3d": (lambda M: _x(M).reshape(1, 3, 4).t(), "t"),
    "tril_1d": (lambda M: _x(M).reshape(-1).tril(), "tril"),
    "repeat_few": (lambda M: _x(M).repeat(2), "repeat"),
    "einsum_subscripts": (lambda M: M.einsum("ijk->i", _x(M)), "einsum"),
    "einsum_operands": (lambda M: M.einsum("ij,jk->ik", _x(M)), "einsum"),
    "max_dim": (lambda M: _x(M).max(2), "max"),
    "cumsum_dim": (lambda M: _x(M).cumsum(-3), "cumsum"),
    "sort_dim": (lambda M: _x(M).sort(5), "sort"),
    "cdist_m": (lambda M: M.cdist(_x(M), _x(M)[:, :3]), "cdist"),
    "unfold_size": (lambda M: _x(M).unfold(1, 5, 1), "unfold"),
    "outer_2d": (lambda M: M.outer(_x(M), _x(M)), "outer"),
    "norm_int": (lambda M: M.tensor([1, 2]).norm(), "norm"),
    "median_dim": (lambda M: _x(M).median(2), "median"),
    "median_empty_dim": (lambda M: _x(M)[:, :0].median(1), "median"),
    "median_bool": (lambda M: M.tensor([True, False]).median(), "median"),
    "t__3d": (lambda M: _x(M).reshape(1, 3, 4).t_(), "t_"),
    "tensordot_sizes": (lambda M: M.tensordot(_x(M), _x(M), 1), "tensordot"),
    "tensordot_negative": (lambda M: M.tensordot(_x(M), _x(M).t(), -1), "tensordot"),
    "tensordot_too_many": (lambda M: M.tensordot(_x(M), _x(M).t(), 3), "tensordot"),
    "tensordot_lengths": (lambda M: M.tensordot(_x(M), _x(M), ([1], [1, 0])), "tensordot"),
    "tensordot_repeat": (lambda M: M.tensordot(_x(M), _x(M), ([0, 0], [0, 0])), "tensordot"),
    "tensordot_dim": (lambda M: M.tensordot(_x(M), _x(M), ([2], [0])), "tensordot"),
    "tensordot_dtype": (lambda M: M.tensordot(_x(M), M.tensor([[1, 2]] * 4), 1), "tensordot"),
    "tensordot_dims_type": (lambda M: M.tensordot(_x(M), _x(M).t(), 1.0), "tensordot"),
    "tensordot_int_pair": (lambda M: M.tensordot(_x(M), _x(M).t(), (1, 0)), "tensordot"),
    "meshgrid_2d": (lambda M: M.meshgrid(_x(M), _x(M)[0], indexing="ij"), "meshgrid"),
    "meshgrid_indexing": (lambda M: M.meshgrid(_x(M)[0], indexing="yx"), "meshgrid"),
    "meshgrid_empty": (lambda M: M.meshgrid([], indexing="ij"), "meshgrid"),
    "meshgrid_dtypes": (lambda M: M.meshgrid(_x(M)[0], M.tensor([1, 2]), indexing="ij"), "meshgrid"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_name_the_op(name):
    fn, op = ERRORS[name]
    with pytest.raises((ValueError, TypeError, IndexError, RuntimeError)) as e:
        fn(tg)
    assert op in str(e.value), str(e.value)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_where_torch_refuses(name):
    torch = pytest.importorskip("torch")
    fn, _ = ERRORS[name]
    with pytest.raises(Exception):
        fn(torch)


# ---------------------------------------------------------------- indices, dtypes and other non-differentiable results
def test_sort_topk_max_indices_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (5, 7)).astype(np.float32)   # many ties: the stable order must match
    x, tx = tg.tensor(a), torch.tensor(a)
    for d in (0, 1, -1):
        for desc in (False, True):
            ours, ref = x.sort(dim=d, descending=desc, stable=True), tx.sort(dim=d, descending=desc, stable=True)
            np.testing.assert_array_equal(ours.indices.numpy(), ref.indices.numpy())
            np.testing.assert_array_equal(ours.values.numpy(), ref.values.numpy())
            np.testing.assert_array_equal(x.argsort(dim=d, descending=desc, stable=True).numpy(),
                                          tx.argsort(dim=d, descending=desc, stable=True).numpy())
    b = rng.standard_normal((4, 6)).astype(np.float32)
    y, ty = tg.tensor(b), torch.tensor(b)
    for largest in (True, False):
        v, i = y.topk(3, 1, largest=largest)
        tv, ti = ty.topk(3, 1, largest=largest)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
    for name in ("max", "min"):
        got, ref = getattr(tg, name)(y, 1, keepdim=True), getattr(torch, name)(ty, 1, keepdim=True)
        np.testing.assert_array_equal(got.indices.numpy(), ref.indices.numpy())
        assert got.values.shape == tuple(ref.values.shape) and got.indices.dtype == tg.long
        assert getattr(y, name)().shape == () and getattr(y, name)().item() == getattr(ty, name)().item()
        np.testing.assert_array_equal(getattr(y, name)(y * 0).numpy(), getattr(ty, name)(ty * 0).numpy())
        assert getattr(tg, name)(y).item() == getattr(torch, name)(ty).item()


def test_max_without_dim_shares_ties_like_torch_and_max_dim_picks_one():
    x = tg.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5]])   # torch.max() too
    x.grad = None
    x.max(1).values.sum().backward()
    assert x.grad.numpy().sum() == 1.0 and x.grad.numpy()[0, 0] == 0


def test_median_ties_nan_ints_and_gradients_match_torch():
    """Ties (small integer values), NaNs, integer dtypes, 0-d and 1-element tensors: torch's
    values and indices along every dim (its index: the stable sort's (n - 1) // 2-th, or the
    first NaN), and median()'s gradient shared by the tied entries (or the NaNs)."""
    torch = pytest.importorskip("torch")
    for seed in range(40):
        rng = np.random.default_rng(seed)
        a = rng.integers(0, 4, _shape(rng, int(rng.integers(1, 4)), 1, 6)).astype(np.float64)
        if seed % 3 == 0:
            a[rng.random(a.shape) < 0.2] = np.nan
        for d in range(-a.ndim, a.ndim):
            for keep in (False, True):
                got, ref = tg.tensor(a).median(d, keep), torch.tensor(a).median(d, keep)
                np.testing.assert_array_equal(got.indices.numpy(), ref.indices.numpy(), err_msg=f"{seed} {d}")
                np.testing.assert_array_equal(got.values.numpy(), ref.values.numpy())
                assert got.indices.dtype == tg.int64 and got.values.shape == tuple(ref.values.shape)
        x, tx = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        m, tm = x.median(), tx.median()
        np.testing.assert_array_equal(m.numpy(), tm.detach().numpy())
        m.backward()
        tm.backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-15)
        d = int(rng.integers(0, a.ndim))
        x.grad, tx.grad = None, None
        (x.median(d).values * 3).sum().backward()
        (tx.median(d).values * 3).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
        ints = a[np.isfinite(a).all(axis=tuple(range(1, a.ndim)))] if a.ndim > 1 else a[np.isfinite(a)]
        for dt in ("int64", "int32", "float32"):
            if ints.size:
                b = ints.astype(dt)
                got, ref = tg.median(tg.tensor(b)), torch.median(torch.tensor(b))
                assert got.item() == ref.item() and str(got.dtype) == str(ref.dtype).replace("torch.", "")
    for a in (np.array(2.5), np.array([7.0])):   # 0-d and one entry: the entry, index 0
        got, ref = tg.tensor(a).median(0, True), torch.tensor(a).median(0, True)
        assert got.values.shape == tuple(ref.values.shape) and got.indices.item() == ref.indices.item() == 0
    assert np.isnan(tg.tensor([]).median().item()) and np.isnan(torch.tensor([]).median().item())
    with pytest.raises(ValueError, match="median"):   # torch gives an arbitrary integer
        tg.tensor([], dtype=tg.int64).median()
    x = tg.tensor([[1.0, 2.0], [2.0, 5.0]], requires_grad=True)
    tg.median(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5], [0.5, 0]])
    assert type(tg.median(x, 1)).__name__ == "median" and tg.median(x, 1)[0] is not None


def test_t_inplace_transposes_a_matrix_and_leaves_vectors():
    torch = pytest.importorskip("torch")
    for shape in [(2, 3), (4,), ()]:
        a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
        x, tx = tg.tensor(a), torch.tensor(a)
        assert x.t_() is x and tx.t_() is tx
        np.testing.assert_array_equal(x.numpy(), tx.numpy())
        assert x.stride() == tx.stride()
    base = tg.zeros(2, 3)
    view = base[:]
    view.t_()
    view[0, 1] = 5.0   # still a view of base: writes reach it, transposed
    assert base[1, 0].item() == 5.0 and view.shape == (3, 2)


def test_tensordot_random_dims_and_size_one_dims_match_torch():
    """Many random dims pairings (both forms), a tensor `dims`, and a contracted dim of size 1
    meeting one of any size (torch sums the other side over it)."""
    torch = pytest.importorskip("torch")
    for seed in range(60):
        rng = np.random.default_rng(seed)
        arrays, fn = _case_tensordot(rng)
        if seed % 4 == 0 and arrays[0].ndim and arrays[1].ndim:   # squeeze a contracted dim to 1
            arrays[0] = arrays[0][..., :1]
        ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        try:
            ref = fn(torch, *theirs)
        except RuntimeError:
            with pytest.raises(ValueError, match="tensordot"):
                fn(tg, *ours)
            continue
        out = fn(tg, *ours)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(out.shape)
        out.backward(tg.Tensor(g))
        ref.backward(torch.tensor(g))
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
    a, b = np.random.default_rng(0).standard_normal((2, 3)), np.random.default_rng(1).standard_normal((3, 4))
    for dims in (tg.tensor(1), tg.tensor([[1], [0]])):
        tdims = torch.tensor(dims.numpy())
        np.testing.assert_allclose(tg.tensordot(tg.tensor(a), tg.tensor(b), dims).numpy(),
                                   torch.tensordot(torch.tensor(a), torch.tensor(b), tdims).numpy(), rtol=1e-12)
    ints = tg.tensordot(tg.arange(6).reshape(2, 3), tg.arange(12).reshape(3, 4), 1)
    assert ints.dtype == tg.int64 and ints.tolist() == torch.tensordot(
        torch.arange(6).reshape(2, 3), torch.arange(12).reshape(3, 4), 1).tolist()


def test_meshgrid_indexing_views_and_warning_match_torch():
    import warnings
    torch = pytest.importorskip("torch")
    xs = [np.arange(3.0), np.arange(4.0) * 2, np.array(7.0), np.arange(2.0)]
    for k in range(1, 5):
        for indexing in ("ij", "xy"):
            got = tg.meshgrid(*[tg.tensor(a) for a in xs[:k]], indexing=indexing)
            ref = torch.meshgrid([torch.tensor(a) for a in xs[:k]], indexing=indexing)
            assert isinstance(got, tuple) and len(got) == len(ref)
            for g, r in zip(got, ref):
                np.testing.assert_array_equal(g.numpy(), r.numpy())
    x = tg.tensor(xs[0])
    grid = tg.meshgrid(x, tg.tensor(xs[1]), indexing="ij")[0]
    assert grid.stride() == (1, 0)   # an expanded view of x, as torch
    with pytest.warns(UserWarning, match="indexing argument"):
        default = tg.meshgrid(x, tg.tensor(xs[1]))
    np.testing.assert_array_equal(default[0].numpy(), grid.numpy())   # 'ij', as torch's default
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.meshgrid([x, x], indexing="xy")


@pytest.fixture
def restore_default_dtype():
    """set_default_dtype is process-wide: put both libraries' defaults back after the test."""
    torch = pytest.importorskip("torch")
    before, before_torch = tg.get_default_dtype(), torch.get_default_dtype()
    yield torch
    tg.set_default_dtype(before)
    torch.set_default_dtype(before_torch)


def test_default_dtype_drives_factories_python_floats_and_layers(restore_default_dtype):
    torch = restore_default_dtype
    makers = {
        "tensor(1.5)": lambda M: M.tensor(1.5), "tensor([1, 2])": lambda M: M.tensor([1, 2]),
        "zeros": lambda M: M.zeros(2), "ones": lambda M: M.ones(2, 3), "empty": lambda M: M.empty(2),
        "full float": lambda M: M.full((2,), 1.5), "full int": lambda M: M.full((2,), 3),
        "randn": lambda M: M.randn(2), "rand": lambda M: M.rand(2), "eye": lambda M: M.eye(2),
        "arange float": lambda M: M.arange(0.0, 2), "arange int": lambda M: M.arange(3),
        "linspace": lambda M: M.linspace(0, 1, 3), "int / int": lambda M: M.tensor([1, 2]) / 2,
        "int * float": lambda M: M.tensor([1, 2]) * 2.5, "int exp": lambda M: M.tensor([1, 2]).exp(),
        "float32 * float": lambda M: M.ones(2, dtype=M.float32) * 2.5,
        "normal": lambda M: M.normal(0.0, 1.0, (2,)), "FloatTensor": lambda M: M.FloatTensor([1.0]),
        "Linear": lambda M: M.nn.Linear(2, 3).weight, "Conv1d": lambda M: M.nn.Conv1d(2, 3, 2).bias,
        "Embedding": lambda M: M.nn.Embedding(4, 2).weight, "LayerNorm": lambda M: M.nn.LayerNorm(3).weight,
        "BatchNorm1d": lambda M: M.nn.BatchNorm1d(3).running_var, "GroupNorm": lambda M: M.nn.GroupNorm(1, 2).bias,
        "EmbeddingBag": lambda M: M.nn.EmbeddingBag(4, 2).weight,
        "ConvTranspose1d": lambda M: M.nn.ConvTranspose1d(2, 3, 2).weight,
        "MultiheadAttention": lambda M: M.nn.MultiheadAttention(4, 2).in_proj_bias,
    }
    for d in ("float64", "float32"):
        tg.set_default_dtype(getattr(tg, d))
        torch.set_default_dtype(getattr(torch, d))
        assert tg.get_default_dtype() == np.dtype(d) and str(torch.get_default_dtype()) == "torch." + d
        for name, make in makers.items():
            assert str(make(tg).dtype) == str(make(torch).dtype).replace("torch.", ""), (d, name)
    tg.set_default_dtype(np.float64)   # NumPy's type objects work too
    assert repr(tg.tensor([1.0])) == "tensor([1.])" and "dtype=float32" in repr(tg.tensor([1.0]).float())
    for bad in (tg.int64, tg.float16, "float64", float, None):
        with pytest.raises(TypeError, match="set_default_dtype"):
            tg.set_default_dtype(bad)
        assert tg.get_default_dtype() == tg.float64   # unchanged by a refused call
    for bad in (torch.int64, "float64", None):
        with pytest.raises(TypeError):
            torch.set_default_dtype(bad)


def test_logical_and_float_checks_match_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[0.0, np.nan, 1.0], [np.inf, -np.inf, 2.0]], dtype=np.float32)
    x, tx = tg.tensor(a), torch.tensor(a)
    for name in ("isnan", "isinf", "isfinite"):
        np.testing.assert_array_equal(getattr(x, name)().numpy(), getattr(tx, name)().numpy())
        np.testing.assert_array_equal(getattr(tg, name)(x).numpy(), getattr(torch, name)(tx).numpy())
    b = x.isfinite()
    for name in ("all", "any"):
        assert getattr(b, name)().item() == getattr(tx.isfinite(), name)().item()
        np.testing.assert_array_equal(getattr(b, name)(1).numpy(), getattr(tx.isfinite(), name)(1).numpy())
        assert getattr(b, name)(0, keepdim=True).shape == (1, 3)
    np.testing.assert_array_equal(x.nan_to_num().numpy(), tx.nan_to_num().numpy())
    assert tg.equal(x.nan_to_num(), x.nan_to_num()) and not tg.equal(x.nan_to_num(), x.nan_to_num()[:1])
    assert tg.allclose(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 2.0 + 1e-9]))
    assert not tg.allclose(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 2.1]))


def test_dtypes_casts_and_int_scans_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("long", "float", "double", "int", "bool", "half", "float16", "float32", "float64",
                 "int32", "int64", "int8", "int16", "uint8"):
        assert str(getattr(tg, name)) == str(getattr(torch, name)).replace("torch.", ""), name
    a = np.array([[1.7, -2.2], [0.0, 3.5]])
    x, tx = tg.tensor(a, dtype=tg.float), torch.tensor(a, dtype=torch.float)
    for cast in ("int", "bool", "half", "long", "double", "float"):
        np.testing.assert_array_equal(getattr(x, cast)().numpy(), getattr(tx, cast)().numpy())
        assert str(getattr(x, cast)().dtype) == str(getattr(tx, cast)().dtype).replace("torch.", "")
    assert x.type_as(tg.tensor([1])).dtype == tg.long
    for src in (x.int(), x.bool()):
        ref = torch.tensor(src.numpy())
        for op in ("cumsum", "cumprod"):
            got, exp = getattr(src, op)(1), getattr(ref, op)(1)
            assert str(got.dtype) == str(exp.dtype).replace("torch.", "")
            np.testing.assert_array_equal(got.numpy(), exp.numpy())
    assert x.element_size() == tx.element_size() and x.nbytes == tx.nbytes
    y = tg.tensor(np.zeros((2, 3, 4), np.float32))
    ty = torch.zeros(2, 3, 4)
    assert y.stride() == ty.stride() and y.stride(1) == ty.stride(1)
    assert y.transpose(0, 2).stride() == ty.transpose(0, 2).stride()
    assert y.is_contiguous() and not y.transpose(0, 2).is_contiguous()
    assert y.transpose(0, 2).contiguous().is_contiguous() and y.contiguous() is y


def test_new_factories_and_constructors_match_torch():
    torch = pytest.importorskip("torch")
    x, tx = tg.tensor([[1, 2]], dtype=tg.float64), torch.tensor([[1, 2]], dtype=torch.float64)
    for ours, ref in [(x.new_zeros(2, 3), tx.new_zeros(2, 3)), (x.new_ones((3,)), tx.new_ones((3,))),
                      (x.new_full((2, 2), 7), tx.new_full((2, 2), 7)), (x.new_empty(0), tx.new_empty(0)),
                      (x.new_tensor([1, 2]), tx.new_tensor([1, 2])),
                      (x.new_zeros(2, dtype=tg.long), tx.new_zeros(2, dtype=torch.long)),
                      (tg.linspace(-1, 2, 7), torch.linspace(-1, 2, 7)),
                      (tg.full_like(x, 3), torch.full_like(tx, 3)), (tg.empty(2, 3).zero_(), torch.empty(2, 3).zero_()),
                      (tg.empty_like(x).zero_(), torch.empty_like(tx).zero_()),
                      (tg.LongTensor([1, 2]), torch.LongTensor([1, 2])), (tg.FloatTensor([1, 2]), torch.FloatTensor([1, 2])),
                      (tg.DoubleTensor([1.5]), torch.DoubleTensor([1.5])), (tg.BoolTensor([1, 0]), torch.BoolTensor([1, 0])),
                      (tg.LongTensor(2, 3).zero_(), torch.LongTensor(2, 3).zero_()),
                      (tg.as_tensor([1, 2]), torch.as_tensor([1, 2])), (tg.randperm(0), torch.randperm(0))]:
        assert ours.shape == tuple(ref.shape) and str(ours.dtype) == str(ref.dtype).replace("torch.", "")
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)
    assert x.new_zeros(2, requires_grad=True).requires_grad
    assert tg.rand_like(x).dtype == tg.float64 and tg.numel(x) == 2


def test_from_numpy_shares_memory():
    a = np.zeros(3)
    t = tg.from_numpy(a)
    a[1] = 5
    assert t.dtype == tg.double and t.tolist() == [0, 5, 0]
    t.add_(1)
    assert a.tolist() == [1, 6, 1]
    assert tg.as_tensor(t) is t
    copy = t.new_tensor(a)          # new_tensor copies, as torch's does, in t's dtype
    a[0] = -1
    assert copy.tolist() == [1, 6, 1] and copy.dtype == tg.double
    with pytest.raises(TypeError, match="from_numpy"):
        tg.from_numpy([1, 2])


# ---------------------------------------------------------------- in place
INPLACE = {
    "clamp_": (lambda x: x.clamp_(-0.5, 0.3), lambda x: x.clamp(-0.5, 0.3)),
    "clamp_min": (lambda x: x.clamp_(min=0.1), lambda x: x.clamp(min=0.1)),
    "masked_fill_": (lambda x: x.masked_fill_(x > 0, 2.0), lambda x: x.masked_fill(x > 0, 2.0)),
    "abs_": (lambda x: x.abs_(), lambda x: x.abs()),
    "exp_": (lambda x: x.exp_(), lambda x: x.exp()),
    "sigmoid_": (lambda x: x.sigmoid_(), lambda x: x.sigmoid()),
    "tanh_": (lambda x: x.tanh_(), lambda x: x.tanh()),
    "relu_": (lambda x: x.relu_(), lambda x: x.relu()),
    "squeeze_": (lambda x: x.unsqueeze_(1).squeeze_(1), lambda x: x),
    "unsqueeze_": (lambda x: x.unsqueeze_(0), lambda x: x.unsqueeze(0)),
    "transpose_": (lambda x: x.transpose_(0, 1), lambda x: x.transpose(0, 1)),
    "t_": (lambda x: x.t_(), lambda x: x.t()),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_matches_out_of_place_and_bumps_version(name):
    inplace, outplace = INPLACE[name]
    a = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    x = tg.tensor(a)
    expect = outplace(tg.tensor(a)).numpy()
    v = x._version
    assert inplace(x) is x
    np.testing.assert_allclose(x.numpy(), expect, rtol=1e-6)
    assert x._version > v
    leaf = tg.tensor(a, requires_grad=True)
    with pytest.raises(tg.AutogradError, match=name.rstrip("_min").split("_min")[0]):
        inplace(leaf)
    with tg.no_grad():
        inplace(leaf)


def test_inplace_after_use_in_graph_is_caught_by_backward():
    w = tg.randn(3, requires_grad=True)
    h = w * 2
    y = h * h            # Mul saves h: an in-place change of it must be caught
    with tg.no_grad():
        h.exp_()
    with pytest.raises(tg.AutogradError, match="modified in place"):
        y.sum().backward()


def test_masked_fill_inplace_and_int_value_cast_like_torch():
    torch = pytest.importorskip("torch")
    a = np.arange(6).reshape(2, 3)
    ours, ref = tg.tensor(a), torch.tensor(a)
    m = a % 2 == 0
    ours.masked_fill_(tg.tensor(m), 2.7)
    ref.masked_fill_(torch.tensor(m), 2.7)
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())
    assert ours.dtype == tg.long


# ---------------------------------------------------------------- random draws
def test_random_fills_repeat_under_manual_seed():
    def draw():
        tg.manual_seed(7)
        x = tg.zeros(4, 5)
        return (x.clone().normal_(2, 0.5).numpy(), x.clone().uniform_(-1, 3).numpy(),
                tg.randperm(10).numpy(), tg.multinomial(tg.rand(3, 6), 4).numpy(),
                tg.multinomial(tg.tensor([0.2, 0.8]), 5, replacement=True).numpy(),
                tg.bernoulli(tg.full((3, 3), 0.5)).numpy(), tg.normal(tg.zeros(3), tg.ones(3)).numpy(),
                tg.normal(1.0, 2.0, (2, 2)).numpy(), x.clone().bernoulli_(0.3).numpy())
    first, second = draw(), draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], draw.__call__()[0] * 0 + tg.zeros(4, 5).normal_().numpy())


def test_random_draws_have_the_right_distribution():
    tg.manual_seed(0)
    x = tg.zeros(20000, dtype=tg.float64).normal_(3.0, 2.0)
    assert abs(x.mean().item() - 3) < 0.1 and abs(x.std().item() - 2) < 0.1
    u = tg.zeros(20000).uniform_(-1, 3)
    assert u.amin().item() >= -1 and u.amax().item() < 3 and abs(u.mean().item() - 1) < 0.1
    p = tg.randperm(50)
    assert sorted(p.tolist()) == list(range(50)) and p.dtype == tg.long
    w = tg.tensor([[0.0, 1.0, 3.0, 0.0], [5.0, 0.0, 0.0, 5.0]])
    s = tg.multinomial(w, 20000, replacement=True)
    assert s.shape == (2, 20000) and s.dtype == tg.long
    f0 = np.bincount(s[0].numpy(), minlength=4) / 20000
    np.testing.assert_allclose(f0, [0, 0.25, 0.75, 0], atol=0.02)
    assert set(s[1].tolist()) == {0, 3}
    d = tg.multinomial(tg.ones(100, 6), 6)
    assert all(sorted(r) == list(range(6)) for r in d.tolist())   # without replacement: distinct
    d2 = tg.multinomial(w, 2)
    assert sorted(d2[0].tolist()) == [1, 2] and sorted(d2[1].tolist()) == [0, 3]
    first = tg.multinomial(tg.tensor([1.0, 9.0]).expand(20000, 2), 1)[:, 0]
    assert abs(first.float().mean().item() - 0.9) < 0.02
    b = tg.bernoulli(tg.full((20000,), 0.3))
    assert set(np.unique(b.numpy())) <= {0.0, 1.0} and abs(b.mean().item() - 0.3) < 0.02
    assert tg.normal(tg.zeros(3), 2.0).shape == (3,)


def test_random_draws_refuse_bad_input():
    with pytest.raises(ValueError, match="multinomial"):
        tg.multinomial(tg.tensor([1.0, -1.0]), 1)
    with pytest.raises(ValueError, match="multinomial"):
        tg.multinomial(tg.tensor([1.0, 0.0]), 2)
    with pytest.raises(ValueError, match="multinomial"):
        tg.multinomial(tg.tensor([0.0, 0.0]), 1, replacement=True)
    with pytest.raises(TypeError, match="multinomial"):
        tg.multinomial(tg.tensor([1, 2]), 1)
    with pytest.raises(ValueError, match="bernoulli"):
        tg.bernoulli(tg.tensor([1.5]))
    with pytest.raises(ValueError, match="normal"):
        tg.normal(0.0, 1.0)


# ---------------------------------------------------------------- gradient hooks
def _hooked_graph(M, record):
    x = M.tensor([1.0, -2.0, 3.0], dtype=M.float64, requires_grad=True)
    w = M.tensor([0.5, 0.25, 2.0], dtype=M.float64, requires_grad=True)
    h = x * w
    h.register_hook(lambda g: record.append(("h", g.tolist())))
    h.register_hook(lambda g: g * 10)                 # replaces h's gradient
    x.register_hook(lambda g: record.append(("x", g.tolist())))
    handle = w.register_hook(lambda g: g * 0)
    handle.remove()
    y = (h.tanh() * x).sum()                          # x used twice: its hook sees the total once
    y.backward()
    return x.grad.tolist(), w.grad.tolist()


def test_register_hook_matches_torch():
    torch = pytest.importorskip("torch")
    ours_rec, ref_rec = [], []
    ours, ref = _hooked_graph(tg, ours_rec), _hooked_graph(torch, ref_rec)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-6)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-6)
    assert [r[0] for r in ours_rec] == [r[0] for r in ref_rec]
    for a, b in zip(ours_rec, ref_rec):
        np.testing.assert_allclose(a[1], b[1], rtol=1e-6)


def test_register_hook_without_torch():
    rec = []
    gx, gw = _hooked_graph(tg, rec)
    x, w = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.25, 2.0])
    dh = 10 * (1 - np.tanh(x * w) ** 2) * x
    np.testing.assert_allclose(gx, dh * w + np.tanh(x * w), rtol=1e-6)
    np.testing.assert_allclose(gw, dh * x, rtol=1e-6)
    assert len([r for r in rec if r[0] == "x"]) == 1
    leaf = tg.ones(2, requires_grad=True)
    leaf.register_hook(lambda g: g * 3)
    leaf.backward(tg.ones(2))
    assert leaf.grad.tolist() == [3, 3]
    with pytest.raises(RuntimeError, match="register_hook"):
        tg.ones(2).register_hook(print)
    bad = tg.ones(2, requires_grad=True)
    bad.register_hook(lambda g: tg.ones(3))
    with pytest.raises(tg.AutogradError, match="register_hook"):
        (bad * 2).sum().backward()


# ---------------------------------------------------------------- devices, cuda namespace, grad modes
def test_device_objects():
    d = tg.device("cpu")
    assert d.type == "cpu" and d.index is None and d == "cpu" and str(d) == "cpu"
    c = tg.device("cuda", 1)
    assert c.type == "cuda" and c.index == 1 and c == "cuda:1" and c == tg.device("cuda:1")
    x = tg.zeros(2, device=tg.device("cpu"))
    assert x.device == "cpu" and x.device == d and x.device.type == "cpu" and not x.is_cuda
    assert (x * 2).device.type == "cpu" and x.to(d) is x and tg.tensor([1.0], device=d).device == d
    assert tg.randn(2, device=d).new_zeros(1).device.type == "cpu"
    with pytest.raises(ValueError, match="device"):
        tg.device("tpu")
    with pytest.raises(ValueError, match="device"):
        tg.device("cuda:x")
    assert isinstance(tg.cuda.is_available(), bool)
    assert tg.cuda.device_count() == (tg.cuda.device_count() if tg.cuda.is_available() else 0)
    tg.cuda.manual_seed(3)
    tg.cuda.synchronize()
    if not tg.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            tg.zeros(2, device=tg.device("cuda"))


def test_inference_mode():
    x = tg.ones(2, requires_grad=True)
    with tg.inference_mode():
        assert not (x * 2).requires_grad
    with tg.inference_mode(False):
        assert (x * 2).requires_grad

    @tg.inference_mode()
    def f(t):
        return t * 2
    assert not f(x).requires_grad and (x * 2).requires_grad


# ---------------------------------------------------------------- a script written for PyTorch
def _pytorch_script(torch):
    """Typical PyTorch code: batchify, a tiny attention LM step with masks, decoding with topk."""
    torch.manual_seed(0)
    data = (torch.arange(0, 61) + torch.arange(0, 61) // 30) % 7
    bsz = 4
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    data = data.view(bsz, -1).t().contiguous()                      # (T, B)
    T, B, V, H = data.size(0), data.size(1), 7, 8
    emb = torch.nn.Embedding(V, H)
    out_w = torch.randn(H, V, requires_grad=True)
    x = emb(data)                                                   # (T, B, H)
    hidden = x.new_zeros(B, H)
    scores = torch.einsum("tbh,sbh->bts", x, x) / H ** 0.5          # (B, T, T)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(mask, float("-inf"))
    att = scores.softmax(dim=-1)
    ctx = torch.bmm(att, x.transpose(0, 1)) + hidden.unsqueeze(1)  # (B, T, H)
    logits = ctx @ out_w                                             # (B, T, V)
    logp = logits.log_softmax(-1)
    targets = data.t()[:, 1:]
    picked = logp[:, :-1].gather(2, targets.unsqueeze(-1)).squeeze(-1)
    loss = -picked.mean()
    loss.backward()
    positions = torch.ones(B, T, dtype=torch.long).cumsum(1) - 1
    with torch.no_grad():
        values, indices = logits[:, -1].topk(3, dim=-1)
        best = logits.max(dim=-1).indices
        probs = values.softmax(-1)
    assert best.shape == (B, T) and positions[0, -1].item() == T - 1
    return [float(loss.item()), probs.detach().numpy(), indices.numpy(), tuple(data.shape),
            float(out_w.grad.norm().item()), float(emb.weight.grad.abs().sum().item()), best.numpy()]


def test_pytorch_script_runs_as_is():
    import tinygrad_seq as torch   # the whole point: a PyTorch script, unchanged
    loss, probs, idx, shape, gnorm, gemb, best = _pytorch_script(torch)
    assert shape == (15, 4) and np.isfinite(loss) and gnorm > 0 and gemb > 0
    assert idx.shape == (4, 3) and idx.dtype == np.int64
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-5)


def test_pytorch_script_matches_torch_given_the_same_weights():
    torch = pytest.importorskip("torch")
    tg.manual_seed(0)
    ref_emb = torch.nn.Embedding(7, 8)
    torch.manual_seed(0)

    class Patched:   # run the script in torch with the same random weights tinygrad_seq draws
        def __getattr__(self, name):
            return getattr(torch, name)
    p = Patched()
    tg.manual_seed(0)
    tg_emb_w = tg.nn.Embedding(7, 8).weight.numpy()
    tg_out_w = tg.randn(8, 7).numpy()
    p.manual_seed = lambda s: None
    p.nn = type("nn", (), {"Embedding": lambda V, H: _with_weight(ref_emb, tg_emb_w, torch)})
    p.randn = lambda *s, requires_grad=False: torch.tensor(tg_out_w, requires_grad=requires_grad)
    ours = _pytorch_script(tg)
    ref = _pytorch_script(p)
    assert ours[3] == ref[3]
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours[2], ref[2])
    np.testing.assert_allclose(ours[4:6], ref[4:6], rtol=1e-4)
    np.testing.assert_array_equal(ours[6], ref[6])


def _with_weight(module, w, torch):
    with torch.no_grad():
        module.weight.copy_(torch.tensor(w))
    return module


def test_remainder_and_floor_divide_values_match_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[-3.5, 2.0, 7.25], [0.5, -0.1, 4.0]])
    b = np.array([1.5, -2.0, 3.0])
    x, y = tg.tensor(a, dtype=tg.float), tg.tensor(b, dtype=tg.float)
    tx, ty = torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
    n, tn = tg.arange(-5, 5), torch.arange(-5, 5)
    for ours, ref in [(x % y, tx % ty), (2.5 % y, 2.5 % ty), (x // y, tx // ty), (x // 2, tx // 2),
                      (n % 3, tn % 3), (n // 3, tn // 3)]:
        assert str(ours.dtype) == str(ref.dtype).replace("torch.", "")
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)


# ---------------------------------------------------------------- on the GPU (CuPy): same values and gradients
@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_cuda_matches_cpu(name):
    arrays, fn = CASES[name](np.random.default_rng(5))
    cpu = [tg.Tensor(a, requires_grad=True) for a in arrays]
    gpu = [tg.Tensor(a, requires_grad=True, device="cuda") for a in arrays]
    out_c, out_g = fn(tg, *cpu), fn(tg, *gpu)
    assert out_g.device == "cuda"
    np.testing.assert_allclose(out_g.numpy(), out_c.numpy(), rtol=1e-7, atol=1e-10)
    g = np.random.default_rng(6).standard_normal(out_c.shape)
    out_c.backward(tg.Tensor(g))
    out_g.backward(tg.Tensor(g, device="cuda"))
    for a, b in zip(cpu, gpu):
        if a.grad is None:
            assert b.grad is None
        else:
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-7, atol=1e-10)


@pytest.mark.gpu
def test_cuda_random_fills_indices_and_checks():
    tg.manual_seed(1)
    x = tg.zeros(4, 5, device="cuda")
    assert x.normal_().device == "cuda" and x.uniform_(-1, 1).amax().item() <= 1
    assert sorted(tg.randperm(9, device="cuda").tolist()) == list(range(9))
    s = tg.multinomial(tg.ones(3, 6, device="cuda"), 6)
    assert all(sorted(r) == list(range(6)) for r in s.tolist())
    assert tg.bernoulli(tg.full((4,), 0.5, device="cuda")).device == "cuda"
    y = tg.randn(3, 4, device="cuda")
    assert y.max(1).indices.device == "cuda" and y.topk(2).indices.tolist() == y.cpu().topk(2).indices.tolist()
    assert y.masked_fill_(y > 0, 0.0).amax().item() <= 0 and y.device.type == "cuda"
    with pytest.raises(IndexError, match="gather"):
        y.gather(1, tg.tensor([[7]] * 3, device="cuda")).numpy()


def test_mask_and_index_arguments_are_checked_as_torch_refuses_them():
    """A float mask or a float index raises in both libraries; ours names the op and the dtype."""
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        x = lib.zeros(2, 3)
        with pytest.raises((TypeError, RuntimeError)):
            x.masked_fill(lib.zeros(2, 3), 1.0)
        with pytest.raises((TypeError, RuntimeError, IndexError)):
            x.index_select(0, lib.zeros(2))
    x = tg.zeros(2, 3)
    with pytest.raises(TypeError, match=r"masked_fill: mask must be a bool tensor, got dtype float32"):
        x.masked_fill(tg.zeros(2, 3), 1.0)
    with pytest.raises(TypeError, match=r"index_select: index must be an int64 \(long\) tensor, got dtype float32"):
        x.index_select(0, tg.zeros(2))
    np.testing.assert_array_equal(x.masked_fill([[True, False, False]] * 2, 5.0).numpy()[:, 0], [5, 5])
