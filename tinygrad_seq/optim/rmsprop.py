"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """torch.optim.RMSprop (Hinton's lecture 6e; centered: Graves 2013):

        g = grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g^2
        a = alpha * a + (1 - alpha) * g         (centered only)
        d = sqrt(v - a^2) + eps  if centered  else  sqrt(v) + eps
        buf = momentum * buf + g / d;  p = p - lr * buf     (momentum > 0)
        p = p - lr * g / d                                   (otherwise)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        for k, v in dict(alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum).items():
            if v < 0:
                raise ValueError(f"RMSprop: invalid {k} {v} (must be >= 0)")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _update(self, xp, p, g, state, group):
        lr, alpha, eps, wd, momentum = (float(group[k]) for k in ("lr", "alpha", "eps", "weight_decay", "momentum"))
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p)
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + wd * p                          # out of place: never write into a .grad array
        state["step"] += 1
        v = state["square_avg"]
        v += (1 - alpha) * (g * g - v)              # v = alpha * v + (1 - alpha) * g^2
        if group["centered"]:
            a = state["grad_avg"]
            a += (1 - alpha) * (g - a)              # a = alpha * a + (1 - alpha) * g
            d = xp.sqrt(v - a * a) + eps
        else:
            d = xp.sqrt(v) + eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / d                            # buf = momentum * buf + g / d
            p -= lr * buf
        else:
            p -= lr * g / d
