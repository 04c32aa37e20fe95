"""Adagrad: per-coordinate step sizes shrinking with the sum of all past squared gradients."""
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """torch.optim.Adagrad (Duchi et al. 2011). With t the step count:

        g = grad + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s = s + g^2                              (s starts at initial_accumulator_value)
        p = p - lr_t * g / (sqrt(s) + eps)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False):
        for k, v in dict(lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps).items():
            if v < 0:
                raise ValueError(f"Adagrad: invalid {k} {v} (must be >= 0)")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _update(self, xp, p, g, state, group):
        lr, lr_decay, eps, wd = (float(group[k]) for k in ("lr", "lr_decay", "eps", "weight_decay"))
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(p, group["initial_accumulator_value"])
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + wd * p                          # out of place: never write into a .grad array
        state["step"] += 1
        lr_t = lr / (1 + (state["step"] - 1) * lr_decay)
        s = state["sum"]
        s += g * g                                  # s = s + g^2
        p -= lr_t * g / (xp.sqrt(s) + eps)
