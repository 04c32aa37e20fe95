"""The core follows PyTorch's semantics, or raises: dims, indexing, views and in-place changes,
values at ±inf / NaN, dtypes. Each case is pinned here with the value torch gives (no torch
needed); tests/test_differential_core.py fuzzes the same ground against torch itself."""
import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq import AutogradError


def t64(a, requires_grad=False):
    return tg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------- dims
X = [[0., 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("call", [
    lambda x: x.sum(dim=2), lambda x: x.mean(dim=-3), lambda x: x.max(dim=2), lambda x: x.min(dim=2),
    lambda x: x.var(dim=2), lambda x: x.std(dim=2), lambda x: x.logsumexp(dim=2),
    lambda x: x.softmax(dim=2), lambda x: x.log_softmax(dim=-3), lambda x: x.argmax(dim=2),
    lambda x: x.unsqueeze(3), lambda x: x.squeeze(2), lambda x: x.flatten(0, 2), lambda x: x.unbind(2),
    lambda x: x.permute(0, 2), lambda x: x.transpose(0, 2), lambda x: x.split(1, dim=2),
    lambda x: x.chunk(2, dim=-3), lambda x: x.size(2), lambda x: tg.nn.Softmax(dim=2)(x),
    lambda x: tg.cat([x, x], dim=2), lambda x: tg.stack([x, x], dim=3), lambda x: x.sum(dim=(0, 2)),
])
def test_out_of_range_dim_raises_index_error(call):
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-\d, \d\]"):
        call(tg.tensor(X))


def test_out_of_range_dim_message_names_op_and_range():
    with pytest.raises(IndexError, match=r"^sum: .*\[-2, 1\], but got 2\)"):
        tg.tensor(X).sum(dim=2)
    with pytest.raises(IndexError, match=r"^cat: .*\[-2, 1\], but got 2\)"):
        tg.cat([tg.tensor(X)] * 2, dim=2)


def test_repeated_dims_raise():
    with pytest.raises(RuntimeError, match="sum: dim"):
        tg.tensor(X).sum(dim=(0, -2))


def test_0d_tensors_take_dims_0_and_minus_1():
    x = t64(2.0, requires_grad=True)
    for d in (0, -1):
        assert x.squeeze(d).shape == ()
        assert x.unsqueeze(d).shape == (1,)
        assert x.mean(dim=d).item() == 2.0
        assert np.isnan(x.var(dim=d).item())   # one value, correction 1: NaN as torch
        assert x.softmax(dim=d).item() == 1.0
        assert x.flatten().shape == (1,) and x.flatten(d, d).shape == (1,)
    y = x.sum(dim=0) + x.amax(dim=0) + x.logsumexp(dim=-1) + x.amin(dim=-1, keepdim=True)
    y.backward()
    assert x.grad.item() == 4.0
    with pytest.raises(IndexError, match=r"\[-1, 0\], but got 1"):
        x.sum(dim=1)
    with pytest.raises(IndexError, match=r"unsqueeze: .*\[-1, 0\]"):
        x.unsqueeze(1)


def test_empty_tensors_chunk_and_unbind_like_torch():
    z = tg.Tensor(np.zeros((0, 3)))
    pieces = z.chunk(2)
    assert [p.shape for p in pieces] == [(0, 3), (0, 3)]
    assert z.unbind(0) == ()
    assert [p.shape for p in z.split(2)] == [(0, 3)]
    assert [p.shape for p in z.unbind(1)] == [(0,)] * 3
    assert z.split([], 0) == ()


def test_bad_flatten_chunk_split_args_raise():
    x = tg.zeros(2, 1, 3)
    with pytest.raises(RuntimeError, match="flatten: start_dim 1 cannot come after end_dim 0"):
        x.flatten(1, 0)
    with pytest.raises(RuntimeError, match="chunk: expected chunks to be a positive int, got 0"):
        x.chunk(0)
    with pytest.raises(ValueError, match="split: split_size must be positive"):
        x.split(0)
    with pytest.raises(RuntimeError, match="permute: 2 dims"):
        x.permute(0, 1)
    with pytest.raises(RuntimeError, match="permute: repeated dim"):
        x.permute(0, 0, 1)
    with pytest.raises(RuntimeError, match="expand: cannot expand"):
        x.expand(-1, 2, 1, 3)
    with pytest.raises(RuntimeError, match="cat: zero-dimensional"):
        tg.cat([tg.tensor(1.0), tg.tensor(2.0)])


# ---------------------------------------------------------------- indexing
def test_int_and_array_index_follow_torch_not_numpy():
    x = tg.Tensor(np.arange(24.).reshape(2, 3, 4))
    y = x[0, :, [0, 1]]
    assert y.shape == (3, 2)                                    # NumPy: (2, 3)
    np.testing.assert_array_equal(y.numpy(), np.arange(24.).reshape(2, 3, 4)[0][:, [0, 1]])
    assert x[tg.tensor(1), :, [0, 1]].shape == (3, 2)           # a 0-d index tensor is an int
    assert x[[0, 1], :, 0].shape == (2, 3)
    assert x[:, 0, [0, 1, 1]].shape == (2, 3)
    assert x[[[0], [1]], :, [0, 2]].shape == (2, 2, 3)          # separated arrays go first
    assert x[None, 1, ..., None].shape == (1, 3, 4, 1)
    assert x[x > 20].shape == (3,)
    assert x[0, x[0] > 5].shape == (6,)
    assert x[True].shape == (1, 2, 3, 4) and x[False].shape == (0, 2, 3, 4)


def test_mixed_index_backward_and_setitem():
    a = np.arange(24.).reshape(2, 3, 4)
    x = t64(a, requires_grad=True)
    x[1, :, [0, 0, 3]].sum().backward()
    g = np.zeros_like(a)
    g[1, :, 0] = 2
    g[1, :, 3] = 1
    np.testing.assert_array_equal(x.grad.numpy(), g)
    y = t64(a)
    y[0, :, [0, 1]] = t64(np.ones((3, 2)) * -1)
    expect = a.copy()
    expect[0][:, [0, 1]] = -1
    np.testing.assert_array_equal(y.numpy(), expect)


def test_bad_indices_raise_naming_the_op():
    x = tg.zeros(2, 3)
    with pytest.raises(IndexError, match="__getitem__: index 2 is out of range for dim 0"):
        x[2]
    with pytest.raises(IndexError, match="__getitem__: too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="__getitem__: .*single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(IndexError, match="GetItem"):
        x[:, [0, 3]]
    with pytest.raises(IndexError, match="__getitem__: tensors used as indices must be integer or bool"):
        x[tg.tensor([0.0])]
    with pytest.raises(ValueError, match="__getitem__: slice step must be greater than zero"):
        x[::-1]
    with pytest.raises(IndexError, match="__setitem__: index 5"):
        x[5] = 1.0


# ---------------------------------------------------------------- views write through, versions are shared
def test_writes_through_single_element_views():
    x = tg.Tensor(np.arange(3.))
    x[1].fill_(9)
    assert x.tolist() == [0, 9, 2]
    y = tg.Tensor(np.arange(6.).reshape(2, 3))
    y[1, 2].mul_(-1)
    y[0].add_(10)
    y.reshape(6)[0].zero_()
    y.transpose(0, 1)[2, 0].fill_(7)
    assert y.tolist() == [[0, 11, 7], [3, 4, -5]]
    assert y._version == 4


@pytest.mark.parametrize("change", [
    lambda a: a[0].mul_(2), lambda a: a.reshape(6).fill_(0), lambda a: a.detach().zero_(),
    lambda a: a.T.add_(1), lambda a: a.unbind(0)[1].fill_(3), lambda a: a.split(1, 1)[0].zero_(),
    lambda a: a[:, 1:].sub_(1), lambda a: a.unsqueeze(0)[0, 1, 2].div_(2), lambda a: a.__setitem__(0, 1.0),
])
def test_inplace_change_through_a_view_is_caught(change):
    w = t64(np.ones(3), requires_grad=True)
    a = t64(np.arange(6.).reshape(2, 3) + 1)
    y = (w * a).sum()          # Mul saved a
    change(a)
    with pytest.raises(AutogradError, match="Mul: an input saved for backward was modified in place"):
        y.backward()


def test_inplace_change_of_a_saved_output_is_caught():
    x = t64([0., 1.], requires_grad=True)
    y = x.exp()
    z = y.sum()
    y.detach().zero_()
    with pytest.raises(AutogradError, match="Exp: an input saved for backward was modified"):
        z.backward()


def test_operand_saved_only_when_the_other_needs_a_gradient():
    w = t64([1., 2., 3.], requires_grad=True)
    y = (w * 2).sum()
    z = (w / 4).sum()
    with tg.no_grad():
        w.mul_(3)            # torch: fine, Mul and Div did not save w
    y.backward()
    z.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.25] * 3)


def test_copies_do_not_share_versions():
    w = t64(np.ones(3), requires_grad=True)
    a = t64(np.arange(6.).reshape(2, 3))
    y = (w * a).sum()
    a[[0, 1]].mul_(2)                              # advanced indexing copies
    a.transpose(0, 1).reshape(6).fill_(1.0)        # a non-contiguous reshape copies
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3., 5., 7.])


def test_inplace_on_expanded_view_raises():
    with pytest.raises(RuntimeError, match="mul_: in-place change of an expanded tensor"):
        tg.zeros(1, 3).expand(2, 3).mul_(2)


# ---------------------------------------------------------------- index tensors saved for backward
def test_changed_index_tensors_are_caught():
    emb = tg.nn.Embedding(10, 3)
    idx = tg.tensor([1, 2])
    out = emb(idx)
    idx[0] = 5
    with pytest.raises(AutogradError, match="EmbeddingFn: an input saved for backward was modified"):
        out.sum().backward()
    w = t64(np.ones((4, 3)), requires_grad=True)
    idx = tg.tensor([0, 1])
    out = w[:, idx]
    idx.add_(1)
    with pytest.raises(AutogradError, match="GetItem"):
        out.sum().backward()
    cond = tg.tensor([True, False, True])
    out = tg.where(cond, w[0], 0.0)
    cond[1:].fill_(True)
    with pytest.raises(AutogradError, match="Where"):
        out.sum().backward()


# ---------------------------------------------------------------- values at 0, ±inf, NaN
def test_std_gradient_is_zero_at_zero_variance():
    x = t64([2., 2., 2.], requires_grad=True)
    x.std().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0., 0., 0.])
    y = t64([[1., 1.], [1., 3.]], requires_grad=True)
    y.std(dim=1).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [[0, 0], [-0.70710678, 0.70710678]])


def test_relu_at_inf_nan_and_negative_zero():
    x = t64([-1., -np.inf, np.nan, -0.0, 2.], requires_grad=True)
    y = x.relu()
    out = y.numpy()
    assert out[0] == 0 and not np.signbit(out[0])          # +0.0, not -0.0
    assert out[1] == 0 and np.isnan(out[2]) and np.signbit(out[3]) and out[4] == 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 1, 0, 1])   # NaN passes its gradient, as torch


def test_maximum_minimum_gradients_at_ties_and_nan():
    a = t64([1., np.nan, 2., 0.], requires_grad=True)
    b = t64([1., 1., np.nan, 3.], requires_grad=True)
    a.maximum(b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1, 1, 0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1, 1, 1])
    a.grad = b.grad = None
    a.minimum(b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1, 1, 1])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # 0 ** -0.5 and friends: inf / NaN on purpose
def test_abs_and_pow_gradients_at_edges():
    x = t64([0., np.nan, -2.], requires_grad=True)
    abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, -1])
    x = t64([0., 0., -1., 2.], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 0])   # not 0 * 0^-1 = NaN
    e = t64([0., 2., 2., 1.], requires_grad=True)
    with np.errstate(all="ignore"):
        (x.detach() ** e).sum().backward()
    g = e.grad.numpy()
    assert g[0] == 0 and g[1] == 0 and np.isnan(g[2]) and g[3] == 2 * np.log(2)


# ---------------------------------------------------------------- dtypes
def test_type_promotion_follows_torch():
    f32, i64 = tg.ones(3), tg.tensor([1, 2, 3])
    assert (f32 + i64).dtype == tg.float32          # NumPy: float64
    assert (i64 * 2.5).dtype == tg.float32
    assert (i64 / 2).dtype == tg.float32
    assert (i64 + 2).dtype == tg.int64
    assert i64.exp().dtype == tg.float32
    assert (f32 * t64(2.0)).dtype == tg.float32     # a 0-d tensor does not widen a dimensioned one
    assert (tg.tensor([True]) + True).dtype == tg.bool_
    assert tg.full((2,), 3).dtype == tg.int64 and tg.full((2,), 3.0).dtype == tg.float32


def test_where_wants_a_bool_condition():
    with pytest.raises(TypeError, match="where: expected a bool condition"):
        tg.where(tg.ones(2), tg.ones(2), 0.0)


def test_float_only_reductions_refuse_integers_and_logsumexp_casts():
    i = tg.tensor([1, 2, 3])
    for name in ("mean", "var", "std", "softmax", "log_softmax"):
        with pytest.raises(TypeError, match=f"{name}: expected a floating point tensor, got dtype int64"):
            getattr(i, name)()
    assert i.logsumexp(dim=0).dtype == tg.float32
    assert i.sum().dtype == tg.int64 and tg.tensor([True, True]).sum().item() == 2


def test_embedding_takes_int64_and_int32_indices_only():
    w = tg.zeros(4, 2)
    assert tg.nn.functional.embedding(tg.tensor([1, 2], dtype=tg.int32), w).shape == (2, 2)
    with pytest.raises(TypeError, match="embedding: expected an int64 or int32 index tensor, got dtype uint8"):
        tg.nn.functional.embedding(tg.tensor([1], dtype=np.uint8), w)


def test_bool_subtraction_is_refused():
    with pytest.raises(TypeError, match="sub: subtraction with a bool"):
        tg.tensor([True]) - tg.tensor([False])
    with pytest.raises(TypeError, match="sub: subtraction with a bool"):
        tg.ones(2) - True


def test_a_0d_index_tensor_is_read_at_forward_only():
    w = t64(np.arange(6.).reshape(3, 2), requires_grad=True)
    i = tg.tensor(1)
    out = w[i, [0, 1]]            # i selects like an int: backward does not read it
    i.fill_(2)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [1, 1], [0, 0]])
