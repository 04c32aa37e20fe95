"""`.data` as in torch: a Tensor over the parameter's memory, outside the graph; `.array` is
the raw backend array."""
import numpy as np
import pytest

import tinygrad_seq as tg



def _torch():
    return pytest.importorskip("torch")


def test_data_is_a_tensor_sharing_memory_outside_the_graph():
    p = tg.nn.Parameter(tg.ones(3))
    d = p.data
    assert isinstance(d, tg.Tensor) and not isinstance(d, tg.nn.Parameter)
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert d.array is p.array and np.shares_memory(d.numpy(), p.numpy())
    d.add_(1)
    np.testing.assert_array_equal(p.numpy(), [2, 2, 2])
    assert p._version == 0 and d._version == 1        # its own counter: autograd does not see it
    assert p.requires_grad and p.grad is None


def test_data_of_a_non_leaf_is_a_leaf():
    x = tg.ones(2, requires_grad=True)
    y = x * 2
    assert y.data.is_leaf and y.data.grad_fn is None and not y.data.requires_grad
    assert y.data.array is y.array


def test_array_is_the_raw_backend_array():
    t = tg.tensor([1.0, 2.0])
    assert isinstance(t.array, np.ndarray)
    t.array[0] = 5
    assert t.tolist() == [5.0, 2.0]


def test_data_setter_replaces_the_storage():
    p = tg.nn.Parameter(tg.ones(3))
    new = tg.zeros(2, 2)
    p.data = new
    assert p.shape == (2, 2) and isinstance(p, tg.nn.Parameter) and p.requires_grad
    assert p.array is new.array
    p.data = tg.zeros(2, dtype=tg.float64)
    assert p.dtype == np.float64
    with pytest.raises(TypeError, match="data: must be set to a Tensor, got int"):
        p.data = 3
    with pytest.raises(RuntimeError, match="data: .*floating point.*int64"):
        p.data = tg.zeros(2, dtype=tg.int64)


def test_data_matches_torch_in_updates_and_saved_values():
    torch = _torch()
    rng = np.random.default_rng(0)
    for trial in range(5):
        shape = tuple(rng.integers(1, 5, size=rng.integers(1, 3)))
        a0, g0 = rng.standard_normal(shape), rng.standard_normal(shape)
        results = []
        for lib in (tg, torch):
            a = lib.tensor(a0, requires_grad=True)
            b = a * a                       # saves a: a change through .data is not seen by autograd
            a.data.mul_(3)
            b.backward(lib.tensor(g0))
            a.data.add_(a.grad, alpha=-0.1)  # the word-language model's manual SGD
            d = a.data
            d.clamp_(-1, 1)
            results.append((a.detach().numpy().copy(), a.grad.numpy().copy(), a._version, d.requires_grad))
        (ours, og, ov, orq), (theirs, tg_, tv, trq) = results
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        np.testing.assert_allclose(og, tg_, rtol=1e-12)
        assert (ov, orq) == (tv, trq)


def test_manual_sgd_through_data_trains_like_torch():
    torch = _torch()
    rng = np.random.default_rng(1)
    w0, x0, y0 = rng.standard_normal((3, 4)), rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    losses = []
    for lib in (tg, torch):
        lin = lib.nn.Linear(4, 3).double()
        lin.weight.data.copy_(lib.tensor(w0))
        lin.bias.data.zero_()
        out = []
        for _ in range(5):
            lin.zero_grad()
            loss = ((lin(lib.tensor(x0)) - lib.tensor(y0)) ** 2).mean()
            loss.backward()
            for p in lin.parameters():
                p.data.add_(p.grad, alpha=-0.1)
            out.append(loss.item())
        losses.append(out)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-12)


@pytest.mark.gpu
def test_data_on_cuda_shares_device_memory():
    from tinygrad_seq import backend
    if not backend.cuda_available():
        pytest.skip("no GPU")
    p = tg.nn.Parameter(tg.ones(3, device="cuda"))
    p.data.add_(1)
    assert p.data.device == "cuda" and p.data.array is p.array
    np.testing.assert_array_equal(p.numpy(), [2, 2, 2])


def test_tensor_copies_as_tensor_and_from_numpy_share_as_in_torch():
    torch = _torch()
    for lib in (tg, torch):
        a = np.zeros(3)
        copied, shared, from_np = lib.tensor(a), lib.as_tensor(a), lib.from_numpy(a)
        a[0] = 7
        assert copied.tolist() == [0, 0, 0], lib.__name__
        assert shared.tolist() == [7, 0, 0] and from_np.tolist() == [7, 0, 0], lib.__name__
        f = np.zeros(2, dtype=np.float32)
        legacy, converted = lib.FloatTensor(f), lib.LongTensor(f)   # the legacy class shares its own dtype
        f[0] = 3
        assert legacy.tolist() == [3, 0] and converted.tolist() == [0, 0], lib.__name__
    t = tg.ones(2)
    assert tg.tensor(t).array is not t.array and tg.tensor(t.array).array is not t.array

