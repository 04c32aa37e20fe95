"""Second derivatives: Newton's method with exact Hessian-vector products, and curvature.

autograd.grad(..., create_graph=True) records the backward pass, so the gradient can be
differentiated again. One more backward of g·v gives the Hessian-vector product H v
exactly, for the cost of about two gradients, without ever forming H:

    g  = grad(L, w, create_graph=True)
    Hv = grad((g * v).sum(), w)

Part 1: logistic regression on features of very different scales (an ill-conditioned
problem). Gradient descent with the largest step that is safe (1/λ_max, with λ_max found
by power iteration on Hessian-vector products) crawls along the flat directions; Newton's
method solves H d = -g by conjugate gradients, using only Hessian-vector products, and
converges in a few steps.

Part 2: the curvature of a trained network's loss along its gradient direction,
κ = gᵀHg / gᵀg, and what it predicts: the loss after a step of size t along -g is
L - t|g|² + ½t²κ|g|² to second order, and steps longer than 2/λ_max make it rise.

    python -m demos newton [--quick] [--iters 60]
"""
import numpy as np
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import autograd, nn
from demos.common import make_console, parser, setup, sparkline
from demos.mlp import spirals

DESCRIPTION = "second derivatives: Newton-CG with exact Hessian-vector products vs gradient descent"


def hvp(loss_fn, w, v):
    """(gradient, Hessian-vector product H v) of loss_fn at w: two backward passes."""
    g, = autograd.grad(loss_fn(w), w, create_graph=True)
    hv, = autograd.grad((g * v).sum(), w)
    return g.detach(), hv


def power_iteration(loss_fn, w, iters, rng):
    """The largest eigenvalue of the Hessian at w, from Hessian-vector products alone."""
    v = tg.Tensor(rng.standard_normal(w.shape))
    lam = 0.0
    for _ in range(iters):
        v = v / float(np.linalg.norm(v.numpy()))
        _, hv = hvp(loss_fn, w, v)
        lam = float((hv * v).sum().item())
        v = hv
    return lam


def conjugate_gradient(hv_fn, b, iters, rtol=1e-10):
    """Solve H x = b with Hessian-vector products only; returns x and how many were used."""
    x = tg.zeros_like(b)
    r = b
    p = r
    rr = float((r * r).sum().item())
    stop = rtol * rtol * rr
    used = 0
    for _ in range(iters):
        if rr <= stop:
            break
        hp = hv_fn(p)
        used += 1
        alpha = rr / float((p * hp).sum().item())
        x = x + alpha * p
        r = r - alpha * hp
        rr_new = float((r * r).sum().item())
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, used


def logistic_problem(n, d, rng):
    """Features scaled from 0.03 to 30 (condition number ~1e6) and a noisy linear labelling."""
    scales = np.logspace(-1.5, 1.5, d)
    X = rng.standard_normal((n, d)) * scales
    w_true = rng.standard_normal(d) / scales
    y = (X @ w_true + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    X, y = tg.Tensor(X), tg.Tensor(y)
    lam = 1e-3

    def loss(w):
        return F.binary_cross_entropy_with_logits(X @ w, y) + 0.5 * lam * (w * w).sum()
    return loss


def part_newton(console, args, rng):
    d = 8
    loss_fn = logistic_problem(200 if args.quick else 1000, d, rng)
    w0 = np.zeros(d)
    lam_max = power_iteration(loss_fn, tg.Tensor(w0, requires_grad=True), 30, rng)
    lr = 1.0 / lam_max

    def value_and_grad(w):
        w = tg.Tensor(w, requires_grad=True)
        L = loss_fn(w)
        g, = autograd.grad(L, w)
        return L.item(), g.numpy()

    gd_w, gd_loss, gd_gnorm = w0.copy(), [], []
    for _ in range(args.iters):
        L, g = value_and_grad(gd_w)
        gd_loss.append(L)
        gd_gnorm.append(np.linalg.norm(g))
        gd_w = gd_w - lr * g

    nt_w, nt_loss, nt_gnorm, hvps = w0.copy(), [], [], 0
    for _ in range(args.iters):
        w = tg.Tensor(nt_w, requires_grad=True)
        L, g = value_and_grad(nt_w)
        nt_loss.append(L)
        nt_gnorm.append(np.linalg.norm(g))
        if nt_gnorm[-1] < 1e-10:
            continue
        step, used = conjugate_gradient(lambda v: hvp(loss_fn, w, v)[1], tg.Tensor(-g), 2 * d)
        hvps += used
        t, s = 1.0, step.numpy()
        while value_and_grad(nt_w + t * s)[0] > L + 1e-4 * t * float(g @ s) and t > 1e-8:
            t /= 2                                           # backtracking (Armijo)
        nt_w = nt_w + t * s

    console.print(f"logistic regression, {d} features scaled 0.03 .. 30; λ_max of the Hessian at "
                  f"w=0 by power iteration (30 Hessian-vector products): {lam_max:.3g}, so gradient "
                  f"descent uses lr = 1/λ_max = {lr:.3g}")
    table = Table(title="logistic regression, float64")
    for col in ("method", "iters", "final loss", "final |g|", "loss curve", "H·v products"):
        table.add_column(col)
    table.add_row("gradient descent", str(args.iters), f"{gd_loss[-1]:.6f}", f"{gd_gnorm[-1]:.1e}",
                  sparkline(gd_loss, 20), "0")
    first = next((i for i, gn in enumerate(nt_gnorm) if gn < 1e-8), None)
    table.add_row("Newton-CG", str(args.iters), f"{nt_loss[-1]:.6f}", f"{nt_gnorm[-1]:.1e}",
                  sparkline(nt_loss, 20), str(hvps))
    console.print(table)
    reached = f"after {first} iterations" if first is not None else f"not within {args.iters} iterations"
    console.print(f"Newton-CG reaches |g| < 1e-8 {reached}; gradient descent is at |g| = "
                  f"{gd_gnorm[-1]:.1e} after {args.iters}.")
    return dict(gd_loss=gd_loss, nt_loss=nt_loss, nt_gnorm=nt_gnorm, gd_gnorm=gd_gnorm, newton_iters=first,
                lam_max=lam_max)


def part_curvature(console, args, rng):
    x, y = spirals(100 if args.quick else 300, 0.05, rng)
    x, y = tg.Tensor(x.astype(np.float64)), tg.tensor(y)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2)).double()
    params = list(model.parameters())
    lr = 0.5
    opt = tg.optim.SGD(params, lr=lr)
    for _ in range(30 if args.quick else 100):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    def loss_at(shift=None, t=0.0):
        with tg.no_grad():
            saved = [p.array.copy() for p in params]
            if shift is not None:
                for p, s in zip(params, shift):
                    p.array -= t * s
            L = F.cross_entropy(model(x), y).item()
            for p, s in zip(params, saved):
                p.array[...] = s
        return L

    L = F.cross_entropy(model(x), y)
    gs = autograd.grad(L, params, create_graph=True)
    Hg = autograd.grad(0.5 * sum((g * g).sum() for g in gs), params)   # d(½|g|²)/dw = H g
    g_np = [g.detach().numpy() for g in gs]
    g2 = sum(float((g * g).sum()) for g in g_np)
    gHg = sum(float((g * h.numpy()).sum()) for g, h in zip(g_np, Hg))
    kappa = gHg / g2
    flat = lambda ts: np.concatenate([t.reshape(-1) for t in ts])   # noqa: E731

    def net_loss(w):   # the loss as a function of all parameters in one vector
        ps, i = [], 0
        for p in params:
            ps.append(w[i:i + p.numel()].reshape(p.shape))
            i += p.numel()
        h = (x @ ps[0].T + ps[1]).tanh()
        return F.cross_entropy(h @ ps[2].T + ps[3], y)
    lam_max = power_iteration(net_loss, tg.Tensor(flat([p.array for p in params]), requires_grad=True), 30, rng)
    L0 = L.item()
    console.print(f"a 2-32-2 tanh net after SGD (lr {lr}): curvature along the gradient κ = gᵀHg/gᵀg = "
                  f"{kappa:.4g}; largest Hessian eigenvalue λ_max = {lam_max:.4g}, so SGD is stable for "
                  f"lr < 2/λ_max = {2 / lam_max:.3g}")
    table = Table(title="the loss along -g: second-order prediction and measurement")
    for col in ("step t", "predicted change", "measured change", "note"):
        table.add_column(col, justify="right")
    rows = []
    for t, note in ((lr, "the SGD step"), (0.5 / kappa, ""), (1 / kappa, "quadratic's minimum"),
                    (2 / kappa, "back to the start")):
        pred = -t * g2 + 0.5 * t * t * gHg
        meas = loss_at(g_np, t) - L0
        table.add_row(f"{t:.3g}", f"{pred:+.3e}", f"{meas:+.3e}", note)
        rows.append((t, pred, meas))
    console.print(table)
    return dict(kappa=kappa, lam_max=lam_max, lr=lr, rows=rows)


def main(argv=None):
    p = parser("newton", __doc__)
    p.add_argument("--iters", type=int, default=None, help="iterations of each method (default 60, 25 quick)")
    args = p.parse_args(argv)
    if args.iters is None:
        args.iters = 25 if args.quick else 60
    setup(args)
    rng = np.random.default_rng(args.seed)
    console = make_console()
    console.rule("Newton's method with Hessian-vector products")
    newton = part_newton(console, args, rng)
    console.rule("Curvature of a trained network along its gradient")
    curv = part_curvature(console, args, rng)
    return dict(newton=newton, curvature=curv)


if __name__ == "__main__":
    main()
