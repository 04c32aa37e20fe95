"""The gradient exercises: solutions and the library's own ops pass the checker, the
shipped stubs are 'not attempted', and wrong backward passes fail with the input and
element named."""
import pytest

from demos import common
from demos.exercises import EXERCISES, check, check_all, checker, solutions

ALL = list(EXERCISES)


def test_all_nine_exercises_are_there():
    assert ALL == ["sigmoid", "tanh", "softmax_ce", "matmul", "conv1d", "maxpool1d", "lstm_step", "gru_step",
                   "softplus"]


@pytest.mark.parametrize("name", ALL)
def test_solution_passes(name):
    res = check(name, getattr(solutions, EXERCISES[name].cls).apply)
    assert res.status == "pass", res.message
    # every tensor argument was checked, under its forward name
    first = [r.name for r in res.inputs if not r.name.endswith("(2nd)")]
    assert first == [n for n in EXERCISES[name].args if n not in ("target", "kernel_size",
                                                                                       "stride")]
    assert all(r.abs_err < 1e-6 for r in res.inputs)


def test_library_ops_pass_the_same_checker():
    # tg.Tensor.sigmoid/tanh, F.cross_entropy, @, F.conv1d, F.max_pool1d, nn.LSTMCell, nn.GRUCell
    results = check_all(source="library")
    assert {n: r.status for n, r in results.items()} == {n: "pass" for n in ALL}


def test_shipped_stubs_are_not_attempted():
    results = check_all(source="exercises")
    assert {n: r.status for n, r in results.items()} == {n: "not attempted" for n in ALL}
    assert "write Sigmoid.backward" in results["sigmoid"].message


class SigmoidMissingFactor(solutions.Sigmoid):
    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y          # forgot (1 - y)


def test_sigmoid_missing_factor_fails_naming_input_and_element():
    res = check("sigmoid", SigmoidMissingFactor.apply)
    assert res.status == "FAIL"
    bad, = res.failing
    assert bad.name == "x" and isinstance(bad.index, tuple) and len(bad.index) == 2
    assert bad.abs_err > 1e-3
    assert f"x{list(bad.index)}" in res.message and "σ(x)(1-σ(x))" in res.hint


class LSTMForgetGateDropped(solutions.LSTMStep):
    """The solution's backward with dz_f set to zero: the forget gate learns nothing."""
    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        x, h, c, w_ih, w_hh, i, f, g, o, tc = ctx.saved_tensors
        dh_new, dc_new = grad[0], grad[1]
        do = dh_new * tc
        dc_tot = dc_new + dh_new * o * (1 - tc * tc)
        dc, di, dg = dc_tot * f, dc_tot * g, dc_tot * i
        dz = xp.concatenate([di * i * (1 - i), xp.zeros_like(f), dg * (1 - g * g), do * o * (1 - o)], axis=1)
        db = dz.sum(axis=0)
        return dz @ w_ih, dz @ w_hh, dc, dz.T @ x, dz.T @ h, db, db.copy()


def test_lstm_without_forget_gate_gradient_fails_on_forget_rows():
    res = check("lstm_step", LSTMForgetGateDropped.apply)
    assert res.status == "FAIL"
    failing = {r.name: r for r in res.failing}
    # c's gradient (dc'·f) does not go through dz_f, so c still passes; the rest fail
    assert set(failing) == {"x", "h", "w_ih", "w_hh", "b_ih", "b_hh"}
    H = 3
    for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
        assert H <= failing[name].index[0] < 2 * H, (name, failing[name].index)   # forget-gate rows
        assert failing[name].analytic == 0.0 and abs(failing[name].numeric) > 1e-4
    assert "forget gate" in res.hint


class MaxPoolAssigns(solutions.MaxPool1d):
    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        N, C, T = grad.shape
        gx = xp.zeros((N, C, ctx.length), dtype=grad.dtype)
        gx[xp.arange(N)[:, None, None], xp.arange(C)[None, :, None], ctx.winner] = grad   # overwrites
        return gx, None, None


def test_maxpool_overwriting_overlapping_windows_fails():
    res = check("maxpool1d", MaxPoolAssigns.apply)
    assert res.status == "FAIL"
    bad, = res.failing
    assert bad.name == "x" and "overlapping windows" in res.hint


class MatMulWrongOrder(solutions.MatMul):
    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad @ b.T, grad.T @ a     # dB transposed: (M, K) instead of (K, M)


def test_wrong_shape_is_an_error_with_the_message():
    res = check("matmul", MatMulWrongOrder.apply)
    assert res.status == "error" and "MatMul" in res.message and "(5, 4)" in res.message


def test_changed_forward_is_reported():
    class Doubled(solutions.Tanh):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(ctx.xp.tanh(x))
            return 2 * ctx.xp.tanh(x)
    res = check("tanh", Doubled.apply)
    assert res.status == "error" and "forward differs" in res.message


def test_softplus_is_also_checked_to_second_order():
    res = check("softplus", solutions.Softplus.apply)
    assert [r.name for r in res.inputs] == ["x", "x (2nd)"] and res.status == "pass"


class SoftplusSavedSigma(solutions.Softplus):
    """Right first derivative from σ computed in forward: a constant under create_graph."""
    @staticmethod
    def forward(ctx, x):
        y = solutions.Softplus.forward(ctx, x)
        ctx.sigma = 1 / (1 + ctx.xp.exp(-x))
        return y

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.sigma


def test_softplus_with_a_constant_sigma_fails_at_second_order_naming_the_element():
    res = check("softplus", SoftplusSavedSigma.apply)
    assert res.status == "FAIL"
    bad, = res.failing
    assert bad.name == "x (2nd)" and isinstance(bad.index, tuple) and bad.analytic == 0.0
    assert abs(bad.numeric) > 1e-3 and "x (2nd)[" in res.message and "ctx.xp.exp" in res.hint
    assert all(r.ok for r in res.inputs if r.name == "x")        # the first derivative was right


class SoftplusRawArrays(solutions.Softplus):
    @staticmethod
    def backward(ctx, grad):
        import numpy as np
        x, = ctx.saved_tensors
        return grad * (1 / (1 + np.exp(-np.asarray(x))))         # leaves the graph


class SoftplusWrongFirst(solutions.Softplus):
    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad / (1 + ctx.xp.exp(x))                        # σ(-x)


def test_softplus_raw_arrays_and_a_wrong_first_derivative_fail():
    res = check("softplus", SoftplusRawArrays.apply)
    assert res.status == "FAIL" and [r.name for r in res.failing] == ["x (2nd)"]   # a constant: 0
    res = check("softplus", SoftplusWrongFirst.apply)
    assert res.status == "FAIL" and [r.name for r in res.failing] == ["x"] and "σ(x)" in res.hint


SOLVED_SIGMOID = '''
import tinygrad_seq as tg
from demos.exercises.sigmoid import Sigmoid as Given


class Sigmoid(Given):
    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y * (1 - y)
'''


def test_command_checks_a_file_and_prints_the_table(tmp_path):
    path = tmp_path / "my_sigmoid.py"
    path.write_text(SOLVED_SIGMOID)
    con = common.make_console(record=True)
    out = checker.main(["--file", str(path)], console=con)      # the exercise is found by class name
    assert out["status"] == {"sigmoid": "pass"}
    text = con.export_text()
    assert "sigmoid" in text and "pass" in text and "1/1 pass" in text


def test_command_reports_failures_with_hint(tmp_path):
    path = tmp_path / "sigmoid.py"
    path.write_text(SOLVED_SIGMOID.replace("grad * y * (1 - y)", "grad * (1 - y)"))
    con = common.make_console(record=True)
    out = checker.main(["sigmoid", "--file", str(path)], console=con)
    assert out["status"] == {"sigmoid": "FAIL"} and out["passed"] == 0
    text = con.export_text()
    assert "FAIL" in text and "hint:" in text and "analytic" in text


def test_command_all_solutions_and_stubs():
    con = common.make_console(record=True)
    assert checker.main(["--solutions"], console=con)["passed"] == 9
    out = checker.main([], console=con)
    assert out["passed"] == 0 and set(out["status"].values()) == {"not attempted"}
    assert "9 not attempted" in con.export_text()


@pytest.mark.gpu
@pytest.mark.parametrize("name", ALL)
def test_solutions_on_cuda_match_cpu(name):
    import numpy as np
    ex = EXERCISES[name]
    fn = getattr(solutions, ex.cls).apply
    assert check(ex, fn, device="cuda").status == "pass"
    grads = {}
    for device in ("cpu", "cuda"):
        inputs = ex.make_inputs(np.random.default_rng(0), device)
        out = fn(*inputs)
        (out * out).sum().backward()
        grads[device] = [a.grad.numpy() for a in inputs if getattr(a, "requires_grad", False)]
    for g_cpu, g_gpu in zip(grads["cpu"], grads["cuda"]):
        np.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-9, atol=1e-12)
