"""RAdam: Adam whose adaptive step is switched on only once the variance of the
adaptive learning rate is tractable, and then scaled by a rectification term."""
import math

from .optimizer import Optimizer
from .adam import _check_betas, decayed_grad


class RAdam(Optimizer):
    """torch.optim.RAdam (Liu et al. 2019). With t the step count:

        g = grad + weight_decay * p          (decoupled_weight_decay: p = p * (1 - lr * wd) instead)
        m = beta1 * m + (1 - beta1) * g,  v = beta2 * v + (1 - beta2) * g^2
        rho_inf = 2 / (1 - beta2) - 1,  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        rho_t > 5:  r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
                    p = p - lr * m / (1 - beta1^t) * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)
        otherwise:  p = p - lr * m / (1 - beta1^t)          (plain momentum SGD)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, maximize=False):
        if not 0.0 <= eps:
            raise ValueError(f"RAdam: invalid epsilon value {eps} (must be >= 0)")
        _check_betas("RAdam", betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"RAdam: invalid weight_decay value {weight_decay} (must be >= 0)")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update(self, xp, p, g, state, group):
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        g = decayed_grad(p, g, group, lr, wd)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        bias1, bias2 = 1 - beta1 ** t, 1 - beta2 ** t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2 ** t / bias2
        if rho_t > 5.0:   # the variance of the adaptive rate is finite: rectify it
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p -= (m / bias1) * lr * (math.sqrt(bias2) / (xp.sqrt(v) + eps)) * rect
        else:
            p -= (m / bias1) * lr
