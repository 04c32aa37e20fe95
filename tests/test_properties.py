"""Hypothesis property tests: broadcasting gradients and reductions on random shapes."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_seq as tg
from tinygrad_seq import unbroadcast

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)


@settings(max_examples=60, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4), st.integers(0, 2**31))
def test_broadcast_gradient_has_input_shape_and_sums(bshapes, seed):
    (sa, sb), out_shape = bshapes.input_shapes, bshapes.result_shape
    rng = np.random.default_rng(seed)
    a = tg.Tensor(rng.standard_normal(sa), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(sb), requires_grad=True)
    g = rng.standard_normal(out_shape)
    (a * b).backward(tg.Tensor(g))
    assert a.grad.shape == sa and b.grad.shape == sb
    # d(a*b)/da summed over broadcast positions == unbroadcast(g * b)
    full_b = np.broadcast_to(b.numpy(), out_shape)
    np.testing.assert_allclose(a.grad.numpy(), unbroadcast(g * full_b, sa), rtol=1e-10, atol=1e-12)
    # total gradient mass of an add is preserved: sum(grad a) == sum(g)
    a.grad = None
    (a + b).backward(tg.Tensor(g))
    np.testing.assert_allclose(a.grad.numpy().sum(), g.sum(), rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(shapes, st.data())
def test_reductions_match_numpy_and_gradients_have_input_shape(shape, data):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(shape)
    ndim = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1) if ndim else st.none()))
    keep = data.draw(st.booleans())
    x = tg.Tensor(x_np, requires_grad=True)
    for name, ref in (("sum", np.sum), ("mean", np.mean), ("amax", np.max)):
        y = getattr(x, name)(axis=axis, keepdims=keep)
        np.testing.assert_allclose(y.numpy(), ref(x_np, axis=axis, keepdims=keep), rtol=1e-12)
        x.grad = None
        y.sum().backward()
        assert x.grad.shape == tuple(shape)
        if name == "sum":
            assert (x.grad.numpy() == 1).all()
        if name == "amax":  # gradient mass 1 per reduced slice, split between ties
            n_out = np.asarray(ref(x_np, axis=axis, keepdims=keep)).size
            np.testing.assert_allclose(x.grad.numpy().sum(), n_out)


@settings(max_examples=40, deadline=None)
@given(shapes)
def test_softmax_rows_sum_to_one_and_log_softmax_consistent(shape):
    x = tg.Tensor(np.random.default_rng(1).standard_normal(shape) * 30)
    if len(shape) == 0:
        return
    s = x.softmax(-1).numpy()
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(np.exp(x.log_softmax(-1).numpy()), s, rtol=1e-8, atol=1e-300)
