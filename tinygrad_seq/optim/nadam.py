"""NAdam: Adam with Nesterov momentum - the step looks ahead with the next step's
momentum coefficient, which follows a warming-up schedule mu_t."""
from .optimizer import Optimizer
from .adam import _check_betas, decayed_grad


class NAdam(Optimizer):
    """torch.optim.NAdam (Dozat 2016). With t the step count:

        g = grad + weight_decay * p          (decoupled_weight_decay: p = p * (1 - lr * wd) instead)
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)),  P_t = mu_1 * ... * mu_t
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        denom = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr * (1 - mu_t) / (1 - P_t) * g / denom - lr * mu_{t+1} / (1 - P_t * mu_{t+1}) * m / denom
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False):
        if not 0.0 <= eps:
            raise ValueError(f"NAdam: invalid epsilon value {eps} (must be >= 0)")
        _check_betas("NAdam", betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"NAdam: invalid weight_decay value {weight_decay} (must be >= 0)")
        if not 0.0 <= momentum_decay:
            raise ValueError(f"NAdam: invalid momentum_decay value {momentum_decay} (must be >= 0)")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update(self, xp, p, g, state, group):
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        psi = float(group["momentum_decay"])
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        g = decayed_grad(p, g, group, lr, wd)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        denom = xp.sqrt(v / (1 - beta2 ** t)) + eps
        p -= lr * (1 - mu) / (1 - mu_product) * g / denom
        p -= lr * mu_next / (1 - mu_product * mu_next) * m / denom
