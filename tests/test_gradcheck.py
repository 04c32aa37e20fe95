"""gradcheck itself: it passes right backwards and catches wrong ones, saying where."""
import pytest

import tinygrad_seq as tg
from tinygrad_seq import Function
from tinygrad_seq.gradcheck import GradcheckError, gradcheck_report
from tests.conftest import rand64


class WrongSquare(Function):
    """x², with a backward that is wrong in element 2 only."""
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        grad = 2 * x * g
        grad.reshape(-1)[2] += 1.0
        return grad


def test_wrong_backward_is_caught_and_located():
    x = rand64(2, 3)
    with pytest.raises(GradcheckError) as err:
        tg.gradcheck(WrongSquare, [x])
    msg = str(err.value)
    assert "input 0" in msg and "(0, 2)" in msg and "MISMATCH" in msg
    for col in ("analytic", "numeric", "abs err", "rel err"):
        assert col in msg
    assert tg.gradcheck(WrongSquare, [x], raise_exception=False) is False


def test_worst_element_and_errors_reported_exactly():
    x = rand64(4)
    (r,) = gradcheck_report(WrongSquare.apply, [x])
    assert r.index == (2,) and not r.ok
    assert r.abs_err > 1e-3


def test_non_scalar_outputs_and_tuples():
    a, b = rand64(3, 2), rand64(2, 4)
    assert tg.gradcheck(lambda a, b: (a @ b, (a.tanh(), b.sum(0))), [a, b])


def test_large_inputs_checked_along_random_directions():
    x = rand64(30, 30)  # 900 elements: beyond the elementwise limit
    (r,) = gradcheck_report(lambda x: (x * x).sum(1), [x])
    assert r.ok and str(r.index).startswith("direction")

    class WrongEverywhere(WrongSquare):
        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 2.1 * x * g

    assert tg.gradcheck(WrongEverywhere, [x], raise_exception=False) is False


def test_params_are_checked_without_being_passed():
    w = rand64(3, 3)
    x = rand64(2, 3, requires_grad=False)
    assert tg.gradcheck(lambda x: (x @ w).tanh(), [x], params=[w])
    assert w.grad is None  # gradcheck restores .grad


def test_float32_input_is_refused_clearly():
    with pytest.raises(TypeError, match="float32.*float64"):
        tg.gradcheck(lambda x: x * 2, [tg.randn(3, requires_grad=True)])


def test_nothing_to_check():
    with pytest.raises(ValueError, match="no input requires grad"):
        tg.gradcheck(lambda x: x * 2, [rand64(3, requires_grad=False)])
