"""Every differentiable op and Tensor method is twice differentiable: gradgradcheck over each,
in float64, on inputs away from kinks (a second derivative is only checked where it exists)."""
import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq.autograd import grad
from tests.conftest import requires_torch, torch

RNG = np.random.default_rng(5)


def T(*shape, low=None, high=None):
    a = RNG.standard_normal(shape) if low is None else RNG.uniform(low, high, shape)
    return tg.Tensor(a, requires_grad=True)


def P(*shape):
    """Positive entries, well away from 0 (log, sqrt, pow, rsqrt, prod)."""
    return T(*shape, low=0.5, high=2.0)


IDX = tg.tensor([[0, 2, 2], [1, 0, 3], [3, 3, 1]])      # an index for dim 1 of a (3, 4) tensor
UNIQUE = tg.tensor([[0, 2, 3], [1, 0, 3], [3, 2, 1]])   # no repeats in a row: scatter writes each once
MASK = tg.tensor([[True, False, True, False], [False, False, True, True], [True, True, False, False]])

def _written(a, b):
    """x[idx] = v with v needing a gradient: recorded SetItem nodes (two writes chain)."""
    buf = tg.zeros(3, 4, dtype=tg.float64)
    buf[[0, 2]] = b * b
    buf[1] = a[1] * a[0]
    return buf * a


OPS = {
    "setitem": (_written, [T(3, 4), T(2, 4)]),
    # binary and unary elementwise
    "add/sub/neg": (lambda a, b: (a + b) * (a - b) * -a, [T(3, 4), T(4)]),
    "mul/div scalar": (lambda a: (a * 3) / 2 + 1 / (a * a + 1), [T(3, 4)]),
    "div": (lambda a, b: a / b, [T(3, 4), P(3, 4)]),
    "pow scalar": (lambda a: a ** 3 + a.abs() ** 0.5 + a.abs() ** 2.5, [P(3, 4)]),
    "pow tensor": (lambda a, b: a ** b, [P(3, 4), T(3, 4)]),
    "rpow": (lambda a: 3.0 ** a, [T(3, 4)]),
    "exp/log/sqrt": (lambda a: a.exp() * a.log() * a.sqrt(), [P(3, 4)]),
    "sin/cos": (lambda a: a.sin() * a.cos() + a.sin() ** 2, [T(3, 4)]),
    "rsqrt/log1p/expm1/square": (lambda a: a.rsqrt() * a.log1p() + a.expm1() * a.square(), [P(3, 4)]),
    "tanh/sigmoid": (lambda a: a.tanh() * a.sigmoid(), [T(3, 4)]),
    "abs": (lambda a: a.abs() * a, [T(3, 4)]),
    "relu/leaky_relu": (lambda a: a.relu() * a + a.leaky_relu(0.2) ** 2, [T(3, 4)]),
    "clamp": (lambda a: a.clamp(-0.5, 0.5) * a + a.clamp(min=0.1) ** 2 + a.clip(max=0.2) ** 2, [T(3, 4)]),
    "maximum/minimum": (lambda a, b: a.maximum(b) * a.minimum(b), [T(3, 4), T(4)]),
    "where": (lambda a, b: tg.where(a > 0, a * b, b * b), [T(3, 4), T(3, 4)]),
    "remainder": (lambda a, b: (a % b) * a + (a % 1.5) ** 2, [T(3, 4), P(3, 4)]),
    "rmod": (lambda b: (2.5 % b) * b, [P(3, 4)]),
    "sign/floor/ceil/trunc/round": (lambda a: (a.sign() + a.floor() + a.ceil() + a.trunc() + a.round()
                                               + a // 0.7 + 1) * a ** 2, [T(3, 4)]),
    "lerp": (lambda a, b, w: a.lerp(b, w) ** 2 + a.lerp(b, 0.3) ** 2, [T(3, 4), T(3, 4), T(3, 4)]),
    "nan_to_num": (lambda a: (a + tg.tensor([0.0, np.nan, np.inf, -np.inf])).nan_to_num(0.5, 5.0, -5.0) * a
                   + (a * 2).nan_to_num() ** 2, [T(3, 4)]),
    "type_as": (lambda a, b: a.type_as(b) * b, [T(3, 4), T(3, 4)]),
    "to same device": (lambda a: a.to("cpu") ** 3, [T(3, 4)]),
    # products
    "matmul/mm": (lambda a, b: (a @ b) ** 2 + a.mm(b) ** 2, [T(3, 4), T(4, 2)]),
    "matmul vector/batched": (lambda a, b, v: (a @ b) ** 2 + ((a @ v) ** 2).sum() + ((v @ b) ** 2).sum(),
                              [T(2, 3, 4), T(4, 2), T(4)]),
    "bmm/baddbmm": (lambda c, a, b: a.bmm(b) ** 2 + c.baddbmm(a, b, beta=0.5, alpha=2) ** 2,
                    [T(2, 3, 2), T(2, 3, 4), T(2, 4, 2)]),
    "addmm": (lambda c, a, b: c.addmm(a, b, beta=0.5, alpha=2) ** 2, [T(2), T(3, 4), T(4, 2)]),
    "outer": (lambda a, b: a.outer(b) ** 2, [T(3), T(4)]),
    "einsum matmul": (lambda a, b: tg.einsum("ij,jk->ik", a, b) ** 2, [T(3, 4), T(4, 2)]),
    "einsum batch/ellipsis": (lambda a, b: tg.einsum("...ij,...jk", a, b) ** 2, [T(2, 3, 4), T(2, 4, 2)]),
    "einsum trace/diag/sum": (lambda a, b: tg.einsum("ii->i", a) * tg.einsum("ij->", b) + tg.einsum("ii", a) ** 2,
                              [T(3, 3), T(3, 2)]),
    "einsum three operands": (lambda a, b, c: tg.einsum("i,ij,j->", a, b, c) ** 2, [T(3), T(3, 4), T(4)]),
    # reductions
    "sum/mean": (lambda a: a.sum(dim=1) ** 2 + a.mean(dim=0).sum() ** 2 + a.sum() * a.mean((0, 1), keepdim=True),
                 [T(3, 4)]),
    "var/std": (lambda a: a.var(dim=1) * a.std(dim=0).sum() + a.var() * a.std(correction=0), [T(3, 4)]),
    "amax/amin": (lambda a: a.amax(dim=1) ** 2 + a.amin(dim=0, keepdim=True).sum() ** 2 + a.amax() ** 2, [T(3, 4)]),
    "max/min dim values": (lambda a: a.max(1).values ** 2 + a.min(dim=1, keepdim=True)[0].squeeze(1) ** 3
                           + a.max() * a.min(), [T(3, 4)]),
    "torch.max/min dim": (lambda a: tg.max(a, 0)[0] ** 2 * tg.min(a, 0).values, [T(3, 4)]),
    "logsumexp": (lambda a: a.logsumexp(dim=1) ** 2 + a.logsumexp(dim=(0, 1)), [T(3, 4)]),
    "softmax/log_softmax": (lambda a: a.softmax(dim=0) ** 2 + a.log_softmax(dim=-1) ** 2, [T(3, 4)]),
    "prod": (lambda a: a.prod(1) ** 2 + a.prod() + a.prod(0, keepdim=True).sum(), [T(3, 4)]),
    "prod with a zero": (lambda a: (a * tg.tensor([1.0, 0.0, 1.0, 1.0])).prod(1).sum() + a.prod(0), [T(3, 4)]),
    "cumsum": (lambda a: a.cumsum(1) ** 2 + a.cumsum(0) ** 3, [T(3, 4)]),
    "cumprod": (lambda a: a.cumprod(1) ** 2 + a.cumprod(0), [T(3, 4)]),
    "cumprod with a zero": (lambda a: (a * tg.tensor([1.0, 0.0, 1.0, 1.0])).cumprod(1) * a, [T(3, 4)]),
    "norm p=2": (lambda a: a.norm() ** 3 + a.norm(dim=1) ** 2 + a.norm("fro", dim=0, keepdim=True).sum(), [T(3, 4)]),
    "norm p=1/3/inf": (lambda a: a.norm(1, dim=1) ** 2 + a.norm(3) + a.norm(float("inf"), dim=0).sum(), [T(3, 4)]),
    "cdist": (lambda a, b: tg.cdist(a, b) ** 2 + tg.cdist(a, b, p=1.0), [T(3, 4), T(2, 4)]),
    # shapes and views
    "reshape/view_as/flatten": (lambda a, b: a.reshape(4, 3) ** 3 + a.view_as(b).flatten().reshape(4, 3),
                                [T(3, 4), T(12)]),
    "permute/transpose/t/mT": (lambda a: a.permute(1, 0) ** 3 + a.t() * a.mT + a.transpose(0, 1), [T(3, 4)]),
    "squeeze/unsqueeze": (lambda a: a.unsqueeze(1).squeeze(1) ** 3 + a.unsqueeze(0).squeeze() ** 2, [T(3, 4)]),
    "expand/expand_as/repeat": (lambda a, b: a.expand(2, 3, 4) ** 3 + a.expand_as(b) * b + a.repeat(2, 1, 1),
                                [T(3, 4), T(2, 3, 4)]),
    "contiguous/clone": (lambda a: a.t().contiguous() ** 3 + a.clone().t() ** 2, [T(3, 4)]),
    "getitem basic/int array/mask": (lambda a: a[1:, ::2] ** 3 + a[[0, 0, 2]][:2, 1:3] ** 2 + a[MASK].sum(),
                                     [T(3, 4)]),
    "narrow/index_select": (lambda a: a.narrow(1, 1, 2) ** 3 + a.index_select(1, tg.tensor([0, 3])) ** 2,
                            [T(3, 4)]),
    "masked_select": (lambda a: a.masked_select(MASK) ** 3, [T(3, 4)]),
    "unfold": (lambda a: a.unfold(1, 2, 1) ** 3, [T(3, 4)]),
    "cat/stack": (lambda a, b: (tg.cat([a, b * a], dim=1) ** 2).sum() + (tg.stack([a, b], 1) ** 3).sum(),
                  [T(3, 4), T(3, 4)]),
    "split/unbind/chunk": (lambda a: a.split([1, 3], dim=1)[1] ** 3 + a.unbind(1)[0].unsqueeze(1)
                           * a.chunk(2, 1)[0].sum(), [T(3, 4)]),
    "pad": (lambda a: a.pad((1, 2, 0, 1), value=0.5) ** 3, [T(3, 4)]),
    "flip/roll": (lambda a: a.flip(1) ** 3 * a.roll(1, 0) + a.roll((1, -2), (0, 1)) ** 2 + a.roll(5) ** 2,
                  [T(3, 4)]),
    "tril/triu": (lambda a: a.tril() ** 3 + a.triu(1) ** 2 + a.tril(-1) * a, [T(3, 4)]),
    "diag": (lambda a, v: a.diag() ** 3 + a.diag(1).sum() * v.diag(-1)[1:, :3] ** 2, [T(3, 4), T(3)]),
    # indexing along a dim
    "gather": (lambda a: a.gather(1, IDX) ** 3, [T(3, 4)]),
    "scatter tensor/number": (lambda a, s: a.scatter(1, UNIQUE, s) ** 3 + a.scatter(1, IDX, value=0.5) ** 2,
                              [T(3, 4), T(3, 3)]),
    "scatter_add": (lambda a, s: a.scatter_add(1, IDX, s) ** 3, [T(3, 4), T(3, 3)]),
    "masked_fill": (lambda a, v: a.masked_fill(MASK, 0.5) ** 3 + a.masked_fill(MASK, v.sum()) ** 2,
                    [T(3, 4), T(2)]),
    "topk": (lambda a: a.topk(2, dim=1).values ** 3 + a.topk(1, dim=0, largest=False)[0].sum(), [T(3, 4)]),
    "sort": (lambda a: a.sort(1).values ** 3 * a + a.sort(0, descending=True)[0] ** 2, [T(3, 4)]),
    "median": (lambda a: a.median(1, keepdim=True).values ** 3 * a + a.median() ** 2 * a, [T(3, 4)]),
}


@pytest.mark.parametrize("name", list(OPS))
def test_gradgradcheck_every_op(name):
    f, args = OPS[name]
    args = [tg.Tensor(a.numpy(), requires_grad=True) for a in args]
    assert tg.gradgradcheck(f, args)
    assert tg.gradcheck(f, args)


def _ops_in_graph(t):
    seen, stack, names = set(), [t._ctx], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(node.fn.__name__)
        stack += [p[0] if isinstance(p, tuple) else p for p in node.parents if p is not None
                  and not isinstance(p, tg.Tensor)]
    return names


def test_the_table_covers_every_op():
    """A new op in ops.py must get a gradgradcheck entry above (Cast and ToDevice are checked
    in test_higher_order.py and on the GPU; View and Picked are base classes)."""
    from tinygrad_seq import ops
    every = {n for n, c in vars(ops).items() if isinstance(c, type) and issubclass(c, tg.Function)
             and c.__module__ == ops.__name__} - {"View", "Picked", "Cast", "ToDevice"}
    used = set()
    for f, args in OPS.values():
        args = [tg.Tensor(a.numpy(), requires_grad=True) for a in args]
        out = f(*args)
        used |= _ops_in_graph(out)
        g = grad(out.sum(), args, create_graph=True, allow_unused=True)   # the backwards' ops too
        used |= set().union(*(_ops_in_graph(x) for x in g if x is not None and x.requires_grad))
    assert every - used == set()


def test_first_order_gradient_is_the_same_under_create_graph():
    """create_graph runs the same backwards on Tensors: the gradient must not change."""
    for name, (f, args) in OPS.items():
        args = [tg.Tensor(a.numpy(), requires_grad=True) for a in args]
        v = None

        def total(create_graph):
            nonlocal v
            out = f(*args)
            if v is None:
                v = tg.Tensor(np.random.default_rng(2).standard_normal(out.shape))
            return grad((out * v).sum(), args, create_graph=create_graph, allow_unused=True)
        for a, b in zip(total(False), total(True)):
            if a is None:
                assert b is None, name
            else:
                np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------- values and indices: one op, two outputs
@pytest.mark.parametrize("call, dim, keepdim", [
    (lambda x: x.max(1), 1, False), (lambda x: x.min(0, keepdim=True), 0, True), (lambda x: tg.max(x, 1), 1, False),
    (lambda x: x.sort(1, descending=True), 1, True), (lambda x: x.topk(2, dim=0), 0, True)])
def test_values_and_indices_are_one_node_and_indices_get_no_graph(call, dim, keepdim):
    x = T(3, 4)
    values, indices = call(x)
    assert values.requires_grad and values._ctx is not None and values._ctx.n_out == 2
    assert not indices.requires_grad and indices._ctx is None and indices.dtype == np.int64
    kept = (lambda a: a) if keepdim else (lambda a: np.expand_dims(a, dim))
    idx, vals = kept(indices.numpy()), kept(values.numpy())
    np.testing.assert_array_equal(np.take_along_axis(x.numpy(), idx, dim), vals)
    (values * values).sum().backward()    # each value's gradient goes where its index points
    expected = np.zeros((3, 4))
    np.put_along_axis(expected, idx, 2 * vals, dim)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_max_dim_gives_a_tie_all_the_gradient_at_its_index():
    x = tg.Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), requires_grad=True)
    v, i = x.max(1)
    np.testing.assert_array_equal(i.numpy(), [1, 0])
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])


def test_sort_and_max_of_a_0d_tensor():
    x = tg.Tensor(np.array(2.5), requires_grad=True)
    for v, i in (x.max(0), x.sort(), x.topk(1)):
        assert v.shape == () and i.shape == () and int(i.numpy()) == 0 and float(v.numpy()) == 2.5
        gx, = grad(v * v, x)
        assert gx.shape == () and float(gx.numpy()) == 5.0


# ---------------------------------------------------------------- parity with torch
PARITY = {   # written once, run on tinygrad_seq and on torch (same method names)
    "cumprod/prod": lambda lib, a, b: (a.cumprod(1) * b).sum() + a.prod(0).sum() ** 2,
    "norm/cdist": lambda lib, a, b: a.norm(dim=1).sum() * b.norm(3)
    + (a.unsqueeze(1) - b.unsqueeze(0)).norm(dim=-1).sum(),   # torch's cdist has no double backward
    "gather/scatter_add": lambda lib, a, b: (a.gather(1, lib.tensor([[0, 2, 2], [1, 0, 3], [3, 3, 1]])) ** 3).sum()
    + (a.scatter_add(1, lib.tensor([[0, 0, 1, 2], [3, 3, 3, 0], [1, 2, 3, 0]]), b) ** 2).sum(),
    "sort/topk/max": lambda lib, a, b: (a.sort(1)[0] * b).sum() ** 2 + (a.topk(2, 0)[0] ** 3).sum()
    + (a.max(1)[0] * a.min(0)[0].sum()).sum(),
    "einsum/diag": lambda lib, a, b: lib.einsum("ij,kj->ik", a, b).tanh().sum() + (a.diag(1) ** 3).sum(),
    "roll/flip/tril/cumsum": lambda lib, a, b: (a.roll(1, 1) * b.flip(0)).sum() ** 2
    + (a.tril(1) ** 3).sum() + (a.cumsum(0) ** 2 * b).sum(),
    "rsqrt/log1p/expm1/lerp": lambda lib, a, b: ((a * a + 1).rsqrt() * (a * a).log1p() + b.expm1()).sum()
    + (a.lerp(b, 0.3) ** 3).sum(),
}


@requires_torch
@pytest.mark.parametrize("name", list(PARITY))
def test_hessian_vector_products_of_ops_match_torch(name):
    f = PARITY[name]
    R = np.random.default_rng(7)
    a0, b0, v0 = R.standard_normal((3, 4)), R.standard_normal((3, 4)), R.standard_normal((3, 4))
    a, b = tg.Tensor(a0, requires_grad=True), tg.Tensor(b0, requires_grad=True)
    ga, gb = grad(f(tg, a, b), [a, b], create_graph=True)
    hv = grad((ga * tg.Tensor(v0)).sum() + (gb * gb).sum(), [a, b])
    at, bt = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    gat, gbt = torch.autograd.grad(f(torch, at, bt), [at, bt], create_graph=True)
    hvt = torch.autograd.grad((gat * torch.tensor(v0)).sum() + (gbt * gbt).sum(), [at, bt])
    np.testing.assert_allclose(ga.numpy(), gat.detach().numpy(), rtol=1e-10, atol=1e-12)
    for x, y in zip(hv, hvt):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-9, atol=1e-11)
