"""Adadelta: per-coordinate steps whose size comes from running averages of squared
gradients and of squared updates, so the units of the update match the parameter's."""
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """torch.optim.Adadelta (Zeiler 2012):

        g = grad + weight_decay * p
        v = rho * v + (1 - rho) * g^2                       (square_avg)
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta^2                   (acc_delta)
        p = p - lr * delta
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho value {rho} (must be in [0, 1])")
        if not 0.0 <= eps:
            raise ValueError(f"Adadelta: invalid epsilon value {eps} (must be >= 0)")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Adadelta: invalid weight_decay value {weight_decay} (must be >= 0)")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, xp, p, g, state, group):
        lr, rho, eps, wd = (float(group[k]) for k in ("lr", "rho", "eps", "weight_decay"))
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p)
            state["acc_delta"] = xp.zeros_like(p)
        state["step"] += 1
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + wd * p                          # out of place: never write into a .grad array
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * g * g
        delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        p -= lr * delta
