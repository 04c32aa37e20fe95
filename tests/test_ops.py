"""Every built-in op: float64 gradcheck over shapes, broadcasting, size-1 dims and
scalars, and parity with PyTorch (outputs and gradients) when torch is importable."""
import numpy as np
import pytest

import tinygrad_seq as tg
from tests.conftest import torch, requires_torch, assert_close

# name -> (our fn, torch fn, input shapes, input kind). Kinds: "any" (normals),
# "pos" (uniform in [0.5, 2], for log/sqrt/pow), "nonzero" (normals away from 0, for abs/div/relu kinks)
UNARY = {
    "neg": (lambda x: -x, lambda x: -x),
    "exp": (lambda x: x.exp(), lambda x: x.exp()),
    "log": (lambda x: x.log(), lambda x: x.log()),
    "sqrt": (lambda x: x.sqrt(), lambda x: x.sqrt()),
    "abs": (lambda x: abs(x), lambda x: x.abs()),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh()),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid()),
    "relu": (lambda x: x.relu(), lambda x: x.relu()),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), lambda x: torch.nn.functional.leaky_relu(x, 0.1)),
    "clip": (lambda x: x.clip(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7)),
    "pow_scalar": (lambda x: x ** 3, lambda x: x ** 3),
    "pow_frac": (lambda x: x ** 1.5, lambda x: x ** 1.5),
    "rpow": (lambda x: 2.0 ** x, lambda x: 2.0 ** x),
    "scalar_ops": (lambda x: (3 - x) * 2 / (x + 4) - 1, lambda x: (3 - x) * 2 / (x + 4) - 1),
    "rdiv": (lambda x: 1.5 / x, lambda x: 1.5 / x),
    "softmax": (lambda x: x.softmax(-1), lambda x: x.softmax(-1)),
    "softmax0": (lambda x: x.softmax(dim=0), lambda x: x.softmax(0)),
    "log_softmax": (lambda x: x.log_softmax(-1), lambda x: x.log_softmax(-1)),
    "logsumexp": (lambda x: x.logsumexp(dim=-1), lambda x: x.logsumexp(-1)),
    "logsumexp_all": (lambda x: x.logsumexp(), lambda x: x.logsumexp(tuple(range(x.ndim)))),
    "sum": (lambda x: x.sum(), lambda x: x.sum()),
    "sum_axis": (lambda x: x.sum(axis=0), lambda x: x.sum(0)),
    "sum_keep": (lambda x: x.sum(dim=-1, keepdim=True), lambda x: x.sum(-1, keepdim=True)),
    "sum_tuple": (lambda x: x.sum(axis=(0, -1)), lambda x: x.sum((0, -1))),
    "mean": (lambda x: x.mean(), lambda x: x.mean()),
    "mean_axis": (lambda x: x.mean(dim=-1, keepdim=True), lambda x: x.mean(-1, keepdim=True)),
    "var": (lambda x: x.var(), lambda x: x.var()),
    "var_axis": (lambda x: x.var(dim=0, correction=0), lambda x: x.var(0, correction=0)),
    "std": (lambda x: x.std(dim=0), lambda x: x.std(0)),
    "max": (lambda x: x.max(), lambda x: x.amax(tuple(range(x.ndim)))),
    "max_axis": (lambda x: x.amax(dim=-1), lambda x: x.amax(-1)),
    "min_axis": (lambda x: x.amin(axis=0, keepdims=True), lambda x: x.amin(0, keepdim=True)),
    "reshape": (lambda x: x.reshape(-1) * 2, lambda x: x.reshape(-1) * 2),
    "flatten": (lambda x: x.flatten(), lambda x: x.flatten()),
    "transpose": (lambda x: x.transpose(0, -1) * 2, lambda x: x.transpose(0, -1) * 2),
    "T": (lambda x: x.T.exp(), lambda x: x.permute(*reversed(range(x.ndim))).exp()),
    "unsqueeze": (lambda x: x.unsqueeze(1).tanh(), lambda x: x.unsqueeze(1).tanh()),
    "expand": (lambda x: x.unsqueeze(0).expand(3, *x.shape) * 1.5,
               lambda x: x.unsqueeze(0).expand(3, *x.shape) * 1.5),
    "slice": (lambda x: x[1:, ::2], lambda x: x[1:, ::2]),
    "int_index": (lambda x: x[0] * x[-1], lambda x: x[0] * x[-1]),
    "none_index": (lambda x: x[None, :, 0], lambda x: x[None, :, 0]),
    "array_index_repeat": (lambda x: x[[0, 0, 1, 0]] * 3, lambda x: x[[0, 0, 1, 0]] * 3),
    "pad": (lambda x: x.pad((1, 2)), lambda x: torch.nn.functional.pad(x, (1, 2))),
    "pad2": (lambda x: x.pad((1, 0, 0, 2), value=3.0) * x.sum(),
             lambda x: torch.nn.functional.pad(x, (1, 0, 0, 2), value=3.0) * x.sum()),
    "split": (lambda x: x.split(2, dim=1)[1] * 2, lambda x: x.split(2, dim=1)[1] * 2),
    "chunk": (lambda x: x.chunk(2, dim=0)[0].exp(), lambda x: x.chunk(2, dim=0)[0].exp()),
    "split_sections": (lambda x: x.split([1, x.shape[0] - 1])[1].exp() * x.split([1, x.shape[0] - 1])[0],
                       lambda x: x.split([1, x.shape[0] - 1])[1].exp() * x.split([1, x.shape[0] - 1])[0]),
    "unbind": (lambda x: tg.stack([p * (i + 1) for i, p in enumerate(x.unbind(-1))], dim=0),
               lambda x: torch.stack([p * (i + 1) for i, p in enumerate(x.unbind(-1))], dim=0)),
    "unbind_some": (lambda x: x.unbind(0)[-1].tanh() * x.unbind(0)[0],      # unused pieces get zeros
                    lambda x: x.unbind(0)[-1].tanh() * x.unbind(0)[0]),
    "iter": (lambda x: sum(p * p.exp() for p in x), lambda x: sum(p * p.exp() for p in x)),
}
UNARY_KIND = {"log": "pos", "sqrt": "pos", "pow_frac": "pos", "rdiv": "pos", "abs": "nonzero",
              "relu": "nonzero", "leaky_relu": "nonzero", "clip": "nonzero", "scalar_ops": "pos"}
UNARY_SHAPES = [(3, 4), (2, 3, 4), (4, 1)]
NEEDS_WIDE = {"split", "pad2"}  # these slice dim 1 in pieces of 2
UNARY_CASES = [(n, s) for n in sorted(UNARY) for s in UNARY_SHAPES if n not in NEEDS_WIDE or s[1] >= 3]

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b),
    "maximum": (lambda a, b: a.maximum(b), lambda a, b: torch.maximum(a, b)),
    "minimum": (lambda a, b: a.minimum(b), lambda a, b: torch.minimum(a, b)),
    "where": (lambda a, b: tg.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b)),
}
BINARY_KIND = {"div": "pos", "pow": "pos"}
# broadcasting patterns, size-1 dims and scalars (0-d tensors)
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((), (2, 3)),
                 ((3, 4), ())]


def make(shape, kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "pos":
        a = rng.uniform(0.5, 2.0, shape)
    else:
        a = rng.standard_normal(shape)
        if kind == "nonzero":  # keep clear of kinks so central differences are valid
            a = np.where(np.abs(a) < 0.1, 0.3, a)
    return tg.Tensor(a, requires_grad=True)


def check_parity(ours_fn, torch_fn, inputs):
    out = ours_fn(*inputs)
    t_in = [torch.tensor(x.numpy(), requires_grad=True) for x in inputs]
    t_out = torch_fn(*t_in)
    assert_close(out, t_out, rtol=1e-10, atol=1e-12, what="forward")
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(tg.Tensor(g))
    t_out.backward(torch.tensor(g))
    for i, (x, tx) in enumerate(zip(inputs, t_in)):
        assert_close(x.grad, tx.grad, rtol=1e-9, atol=1e-12, what=f"grad of input {i}")


@pytest.mark.parametrize("name,shape", UNARY_CASES, ids=str)
def test_unary_gradcheck(name, shape):
    ours, _ = UNARY[name]
    x = make(shape, UNARY_KIND.get(name, "any"))
    assert tg.gradcheck(ours, [x])


@requires_torch
@pytest.mark.parametrize("name,shape", UNARY_CASES, ids=str)
def test_unary_parity(name, shape):
    ours, theirs = UNARY[name]
    check_parity(ours, theirs, [make(shape, UNARY_KIND.get(name, "any"))])


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_binary_gradcheck(name, shapes):
    ours, _ = BINARY[name]
    kind = BINARY_KIND.get(name, "nonzero")
    a, b = make(shapes[0], kind, 1), make(shapes[1], kind, 2)
    assert tg.gradcheck(ours, [a, b])


@requires_torch
@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_binary_parity(name, shapes):
    ours, theirs = BINARY[name]
    kind = BINARY_KIND.get(name, "nonzero")
    check_parity(ours, theirs, [make(shapes[0], kind, 1), make(shapes[1], kind, 2)])


MATMUL_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)), ((2, 3, 4), (4, 5)),
                 ((3, 4), (2, 4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_gradcheck(shapes):
    a, b = make(shapes[0], "any", 1), make(shapes[1], "any", 2)
    assert tg.gradcheck(lambda a, b: a @ b, [a, b])


@requires_torch
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_parity(shapes):
    check_parity(lambda a, b: a @ b, lambda a, b: a @ b, [make(shapes[0], "any", 1), make(shapes[1], "any", 2)])


def test_cat_stack_gradcheck():
    a, b, c = make((2, 3), "any", 1), make((2, 1), "any", 2), make((2, 3), "any", 3)
    assert tg.gradcheck(lambda a, b: tg.cat([a, b], dim=1) * 2, [a, b])
    assert tg.gradcheck(lambda a, c: tg.stack([a, c, a], axis=1).tanh(), [a, c])
    assert tg.gradcheck(lambda a, c: tg.stack([a, c], dim=-1).sum(-1), [a, c])


@requires_torch
def test_cat_stack_parity():
    a, b = make((2, 3), "any", 1), make((2, 1), "any", 2)
    check_parity(lambda a, b: tg.cat([a, b, a], dim=-1), lambda a, b: torch.cat([a, b, a], -1), [a, b])
    a, c = make((2, 3), "any", 1), make((2, 3), "any", 3)
    check_parity(lambda a, c: tg.stack([a, c], 1), lambda a, c: torch.stack([a, c], 1), [a, c])


@requires_torch
def test_max_ties_split_evenly_like_amax():
    x = tg.Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    tx = torch.tensor(x.numpy(), requires_grad=True)
    x.amax(dim=1).sum().backward()
    tx.amax(1).sum().backward()
    assert_close(x.grad, tx.grad)
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


@requires_torch
def test_maximum_ties_split_in_half_like_torch():
    a = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = tg.Tensor(np.array([1.0, 1.0, 4.0]), requires_grad=True)
    a.maximum(b).sum().backward()
    ta, tb = torch.tensor(a.numpy(), requires_grad=True), torch.tensor(b.numpy(), requires_grad=True)
    torch.maximum(ta, tb).sum().backward()
    assert_close(a.grad, ta.grad)
    assert_close(b.grad, tb.grad)


def test_array_index_backward_scatter_adds_repeats():
    x = tg.Tensor(np.arange(4.0), requires_grad=True)
    idx = tg.Tensor(np.array([0, 2, 2, 2]))
    x[idx].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 3, 0])


def test_bool_mask_index():
    x = make((3, 4), "any")
    m = x > 0
    assert tg.gradcheck(lambda x: x[m.array] * 2, [x])


def test_argmax_and_comparisons_have_no_grad():
    x = make((3, 4), "any")
    am = x.argmax(dim=1)
    assert am.dtype == np.int64 and am.shape == (3,)
    np.testing.assert_array_equal(am.numpy(), x.numpy().argmax(1))
    c = x > 0
    assert c.dtype == np.bool_ and not c.requires_grad


def test_stable_softmax_at_large_logits():
    x = tg.Tensor(np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]], dtype=np.float32), requires_grad=True)
    for y in (x.softmax(-1), x.log_softmax(-1), x.logsumexp(-1)):
        assert np.isfinite(y.numpy()).all()
    np.testing.assert_allclose(x.logsumexp(-1).numpy(), [1e4, 1e4 + np.log(3)], rtol=1e-6)
    x.log_softmax(-1).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.gpu
def test_ops_on_cuda_match_cpu():
    for name, (fn, _) in sorted(UNARY.items()):
        x = make((3, 4), UNARY_KIND.get(name, "any"))
        xc = tg.Tensor(x.array, requires_grad=True, device="cuda")
        y, yc = fn(x), fn(xc)
        assert yc.device == "cuda"
        np.testing.assert_allclose(yc.numpy(), y.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        y.sum().backward()
        yc.sum().backward()
        np.testing.assert_allclose(xc.grad.numpy(), x.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    for name, (fn, _) in sorted(BINARY.items()):
        a, b = make((2, 3, 4), "pos", 1), make((3, 1), "pos", 2)
        ac, bc = (tg.Tensor(t.array, requires_grad=True, device="cuda") for t in (a, b))
        fn(a, b).sum().backward()
        fn(ac, bc).sum().backward()
        np.testing.assert_allclose(bc.grad.numpy(), b.grad.numpy(), rtol=1e-10, err_msg=name)
    a, b = make((2, 3, 4), "any", 1), make((4, 5), "any", 2)
    ac, bc = (tg.Tensor(t.array, requires_grad=True, device="cuda") for t in (a, b))
    (a @ b).sum().backward()
    (ac @ bc).sum().backward()
    np.testing.assert_allclose(bc.grad.numpy(), b.grad.numpy(), rtol=1e-10)
    idx = tg.Tensor(np.array([0, 1, 1]), device="cuda")
    (ac[idx] * 2).sum().backward()
