"""Adamax: Adam with the infinity norm: the step is scaled by a decaying maximum of
|grad| instead of the root of a mean square."""
from .optimizer import Optimizer
from .adam import _check_betas


class Adamax(Optimizer):
    """torch.optim.Adamax (Kingma & Ba, section 7). With t the step count:

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g                     (exp_avg)
        u = max(beta2 * u, |g| + eps)                       (exp_inf)
        p = p - lr / (1 - beta1^t) * m / u
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False):
        if not 0.0 <= eps:
            raise ValueError(f"Adamax: invalid epsilon value {eps} (must be >= 0)")
        _check_betas("Adamax", betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Adamax: invalid weight_decay value {weight_decay} (must be >= 0)")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, xp, p, g, state, group):
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_inf"] = xp.zeros_like(p)
        state["step"] += 1
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + wd * p
        m, u = state["exp_avg"], state["exp_inf"]
        m += (1 - beta1) * (g - m)                  # m = beta1 * m + (1 - beta1) * g, as torch's lerp
        u *= beta2
        xp.maximum(u, xp.abs(g) + eps, out=u)
        p -= lr / (1 - beta1 ** state["step"]) * m / u
