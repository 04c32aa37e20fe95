"""The newton demo: Newton-CG on Hessian-vector products beats gradient descent, and the
second-order model of the loss along -g matches what a step measures."""
from demos import newton


def test_newton_demo_quick():
    out = newton.main(["--quick"])
    nt, gd = out["newton"], out["curvature"]
    assert nt["newton_iters"] is not None and nt["newton_iters"] <= 10     # |g| < 1e-8: quadratic convergence
    assert nt["gd_gnorm"][-1] > 1e-3                                        # gradient descent still crawling
    assert nt["nt_loss"][-1] <= nt["gd_loss"][-1]
    t, pred, meas = gd["rows"][0]                                          # the SGD step: a small step
    assert abs(pred - meas) <= 0.02 * abs(meas)
    assert gd["kappa"] <= gd["lam_max"] * (1 + 1e-6)                        # a Rayleigh quotient <= λ_max
