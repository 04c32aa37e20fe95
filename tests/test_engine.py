"""The engine: iterative backward, accumulation, graph release, grad modes, errors."""
import gc
import weakref

import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq import Function, AutogradError
from tests.conftest import rand64


def test_million_op_chain_backward_has_no_recursion_limit():
    x = tg.Tensor(np.float32(1.0), requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y + 1e-7
    y.backward()
    assert x.grad.item() == 1.0


def test_gradients_accumulate_into_leaves_only():
    x = rand64(3)
    y = x * 2
    z = (y * y).sum()
    z.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.numpy())
    assert y.grad is None
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 16 * x.numpy())  # accumulated
    x.grad = None  # can be reset
    assert x.grad is None


def test_retain_grad_keeps_nonleaf_grad():
    x = rand64(3)
    y = (x * 3).retain_grad()
    (y ** 2).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.numpy())
    assert not y.is_leaf and x.is_leaf


def test_shared_subexpression_diamond():
    x = rand64(4)
    a = x.tanh()
    y = (a * a + a.exp()).sum()
    y.backward()
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), (2 * t + np.exp(t)) * (1 - t * t))


def test_same_tensor_twice_in_one_op():
    x = rand64(3)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    z = rand64(3)
    (z + z).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [2, 2, 2])


def test_graph_released_after_backward_and_second_backward_errors():
    x = rand64(50)
    y = x.exp()  # Exp saves its output
    ref = weakref.ref(y.grad_fn.saved[0])
    loss = (y * 2).sum()
    del y
    loss.backward()
    gc.collect()
    assert ref() is None, "saved array should be freed after backward"
    with pytest.raises(AutogradError, match="second time"):
        loss.backward()


def test_retain_graph_keeps_saved_arrays():
    x = rand64(5)
    loss = x.exp().sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.numpy()))


def test_no_grad_records_nothing_and_decorates():
    x = rand64(3)
    with tg.no_grad():
        y = x * 2
        with tg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @tg.no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad
    assert tg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = rand64(3)
    h = x * 2
    y = (h.detach() * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())  # no path through h


def test_backward_of_nonscalar_needs_grad():
    x = rand64(3)
    with pytest.raises(AutogradError, match=r"scalar outputs.*\(3,\)"):
        (x * 2).backward()
    (x * 2).backward(tg.ones(3, dtype=tg.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])
    with pytest.raises(AutogradError, match=r"shape \(2,\), expected \(3,\)"):
        (x * 2).backward(np.ones(2))


def test_backward_without_graph_errors():
    with pytest.raises(AutogradError, match="does not require grad"):
        tg.ones(3).sum().backward()


def test_shape_mismatch_names_op_and_shapes():
    a, b = tg.ones(2, 3), tg.ones(4, 3)
    with pytest.raises(ValueError, match=r"Add.*\(2, 3\).*\(4, 3\)"):
        a + b
    with pytest.raises(ValueError, match=r"MatMul.*\(2, 3\).*\(4, 3\)"):
        a @ b


def test_inplace_change_of_saved_input_is_caught():
    w = tg.ones(3, dtype=tg.float64)   # same dtype: a float32 w would be cast, and the copy saved
    x = rand64(3)
    y = (x * w).sum()  # Mul saved w
    w.mul_(2)
    with pytest.raises(AutogradError, match=r"Mul: an input saved for backward was modified in place"):
        y.backward()


def test_inplace_on_tensor_requiring_grad_is_refused():
    x = rand64(3)
    with pytest.raises(AutogradError, match="add_: in-place change of a tensor that requires grad"):
        x.add_(1)
    with tg.no_grad():
        x.add_(1)  # an optimizer's update
    y = tg.ones(3)
    y[0] = 5.0
    assert y.numpy()[0] == 5.0 and y._version == 1


def test_detect_anomaly_names_the_op():
    x = tg.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with tg.detect_anomaly():
        # NumPy warns as it makes the -inf / inf that detect_anomaly then names: expected here
        with pytest.raises(AutogradError, match="forward of Log"), \
                pytest.warns(RuntimeWarning, match="divide by zero"):
            x.log()
        y = x.sqrt().sum()  # finite forward, infinite gradient at 0
        with pytest.raises(AutogradError, match="backward of Sqrt"), \
                pytest.warns(RuntimeWarning, match="divide by zero"):
            y.backward()
    with np.errstate(divide="ignore"):
        assert np.isinf(x.log().numpy()[0])  # outside the context: no check


def test_custom_function_like_torch():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x * x * g  # bare array: one input

    x = rand64(4)
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)
    assert tg.gradcheck(Cube, [rand64(3, 2)])

    class ScaleBy(Function):  # non-tensor argument: backward returns None for it
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    assert tg.gradcheck(lambda x: ScaleBy.apply(x, 2.5), [rand64(3)])

    class OnlyBackward(Cube):  # apply is a classmethod: overriding backward alone works
        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 0 * x

    x = rand64(3)
    OnlyBackward.apply(x).sum().backward()
    assert (x.grad.numpy() == 0).all()


def test_custom_function_wrong_gradient_count_is_reported():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, g, g

    with pytest.raises(AutogradError, match="Bad.backward returned 3 gradients, expected 2"):
        Bad.apply(rand64(2), rand64(2)).sum().backward()


def test_float32_stays_float32_and_float64_stays_float64():
    for dt in (np.float32, np.float64):
        x = tg.Tensor(np.ones((2, 3), dtype=dt), requires_grad=True)
        y = ((x * 2.5 + np.float64(1.0)) @ tg.Tensor(np.ones((3, 2), dtype=dt))).tanh().mean()
        assert y.dtype == dt
        y.backward()
        assert x.grad.dtype == dt


def test_tensor_construction_rules():
    assert tg.tensor([1.0, 2.0]).dtype == np.float32
    assert tg.tensor([1, 2]).dtype == np.int64
    assert tg.tensor(np.arange(3)).dtype == np.int64
    assert tg.tensor(np.ones(2, dtype=np.float64)).dtype == np.float64
    assert tg.tensor(3.0).shape == ()
    x = tg.randn(2, 3, requires_grad=True)
    assert x.sum().shape == () and isinstance(x.shape, tuple)
    assert x.reshape(3, -1).shape == (3, 2) and x.reshape((6,)).shape == (6,)
    assert x.numpy().shape == (2, 3)  # works on a tensor that requires grad
    assert 2 * x is not None and (np.float32(2) * x).dtype == np.float32
    assert (np.ones((2, 3), dtype=np.float32) + x).requires_grad  # ndarray on the left
    with pytest.raises(TypeError, match="floating point"):
        tg.tensor([1, 2], requires_grad=True)
    assert "requires_grad=True" in repr(x) and "grad_fn" in repr(x * 2)


def test_manual_seed_repeats_random_draws():
    tg.manual_seed(123)
    a = tg.randn(5).numpy(), tg.rand(3).numpy()
    tg.manual_seed(123)
    b = tg.randn(5).numpy(), tg.rand(3).numpy()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert tg.randn(2, dtype=tg.float64).dtype == np.float64


def test_device_errors_are_clear():
    if tg.cuda_available():
        a, b = tg.ones(2), tg.ones(2, device="cuda")
        with pytest.raises(RuntimeError, match="same device, got cpu and cuda"):
            a + b
    else:
        with pytest.raises(RuntimeError, match=r"tinygrad-seq\[cuda12\]"):
            tg.ones(2, device="cuda")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tg.ones(2, device="tpu")


@pytest.mark.gpu
def test_cuda_round_trip_and_grad_through_to():
    x = rand64(3)
    y = x.to("cuda")
    assert y.device == "cuda" and y.array.__class__.__module__.startswith("cupy")
    (y * y).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    tg.manual_seed(1)
    a = tg.randn(4, device="cuda").numpy()
    tg.manual_seed(1)
    np.testing.assert_array_equal(a, tg.randn(4, device="cuda").numpy())


def test_autograd_imports_no_tensor_module():
    """autograd.py is the engine: tensor.py and tensor_xp.py build on it, so it imports neither
    (no import cycle); the package hands it the Tensor types once (autograd.use_tensor_types)."""
    import ast
    from pathlib import Path
    import tinygrad_seq.autograd as autograd
    tree = ast.parse(Path(autograd.__file__).read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert not imported & {"tensor", "tensor_xp", "ops", "factories"}, imported
    assert autograd.Tensor is tg.Tensor
