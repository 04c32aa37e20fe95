"""Stochastic gradient descent, with optional momentum (heavy ball or Nesterov)."""
from .adam import scratch_like
from .optimizer import Optimizer


class SGD(Optimizer):
    """torch.optim.SGD:

        g = grad + weight_decay * p
        buf = momentum * buf + (1 - dampening) * g      (buf = g on the first step)
        g = g + momentum * buf  if nesterov  else  buf
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum {momentum} (must be >= 0)")
        if weight_decay < 0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay} (must be >= 0)")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires a momentum > 0 and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _update(self, xp, p, g, state, group):
        lr, momentum, dampening, wd = (float(group[k]) for k in ("lr", "momentum", "dampening", "weight_decay"))
        s = scratch_like(self, xp, p)           # preallocated work array: the step allocates nothing
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + wd * p                      # out of place: never write into a .grad array
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= momentum                 # buf = momentum * buf + (1 - dampening) * g
                if dampening != 0:
                    xp.multiply(g, 1 - dampening, out=s)
                    buf += s
                else:
                    buf += g
            if group["nesterov"]:
                xp.multiply(buf, momentum, out=s)   # g = g + momentum * buf
                s += g
                g = s
            else:
                g = buf
        xp.multiply(g, lr, out=s)               # p = p - lr * g
        p -= s
