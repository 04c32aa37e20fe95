"""Adam and AdamW: per-coordinate steps from running averages of the gradient
and of its square, with bias correction for the zero-initialised averages."""
import concurrent.futures
import math
import os

import numpy as np

from .. import kernels
from .optimizer import Optimizer


class Adam(Optimizer):
    """torch.optim.Adam (Kingma & Ba). With t the step count:

        g = grad + weight_decay * p            (L2 penalty, coupled to the gradient)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        v_max = max(v_max, v)                  (amsgrad only; then v_max replaces v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)
    """
    decoupled = False  # AdamW sets this: decay the weights directly instead of the gradient

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False):
        name = type(self).__name__
        if not 0.0 <= eps:
            raise ValueError(f"{name}: invalid eps {eps} (must be >= 0)")
        _check_betas(name, betas)
        if weight_decay < 0:
            raise ValueError(f"{name}: invalid weight_decay {weight_decay} (must be >= 0)")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update(self, xp, p, g, state, group):
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        step_size, bias2_sqrt = lr / (1 - beta1 ** t), math.sqrt(1 - beta2 ** t)
        arrays = (p, g, m, v, state["max_exp_avg_sq"] if group["amsgrad"] else None)
        consts = (lr, beta1, beta2, eps, wd, step_size, bias2_sqrt, self.decoupled, bool(group["maximize"]))
        s = scratch_like(self, xp, p)
        if xp is np and p.size >= SPLIT_SIZE and _POOL_THREADS > 1 and \
                all(a is None or a.flags.c_contiguous for a in arrays):
            in_halves(adam_step, xp, arrays, s, consts)
        else:
            adam_step(xp, *arrays, lambda: s, *consts)


@kernels.fused("adam")
def adam_step(xp, p, g, m, v, v_max, scratch, lr, beta1, beta2, eps, wd, step_size, bias2_sqrt, decoupled,
              maximize):
    """One Adam step on p, m, v in place (the equations of Adam's docstring); v_max is the amsgrad
    state or None; step_size = lr / (1 - beta1^t), bias2_sqrt = sqrt(1 - beta2^t). scratch()
    gives one preallocated work array, so a step allocates nothing (fresh temporaries cost NumPy
    page faults, not just math). On CuPy, without amsgrad, one fused kernel (kernels.py)."""
    s = scratch()
    if maximize:
        g = -g
    if wd != 0 and decoupled:
        p *= 1 - lr * wd                        # AdamW: shrink the weights themselves
    elif wd != 0:
        g = g + wd * p                          # Adam: out of place, never write into a .grad array
    m *= beta1                                  # m = beta1 * m + (1 - beta1) * g
    xp.multiply(g, 1 - beta1, out=s)
    m += s
    v *= beta2                                  # v = beta2 * v + (1 - beta2) * g^2
    xp.multiply(g, g, out=s)
    s *= 1 - beta2
    v += s
    if v_max is not None:
        xp.maximum(v_max, v, out=v_max)         # v_max = max(v_max, v)
        v = v_max
    # p = p - lr/(1 - beta1^t) * m / (sqrt(v)/sqrt(1 - beta2^t) + eps); multiplying the
    # fraction through by sqrt(1 - beta2^t) saves a pass over the array
    xp.sqrt(v, out=s)
    s += eps * bias2_sqrt
    xp.divide(m, s, out=s)
    s *= step_size * bias2_sqrt
    p -= s


# A big parameter on the host is updated as two halves at once, one on a helper thread:
# NumPy's ufuncs let go of the GIL on large arrays, and an element's update reads only that
# element, so the result is the same to the bit. Below SPLIT_SIZE elements the thread
# hand-off costs more than it saves.
SPLIT_SIZE = 1 << 17
_POOL_THREADS = min(2, os.cpu_count() or 1)
_pool = None


def in_halves(step, xp, arrays, scratch, consts):
    """step(xp, *arrays, scratch, *consts) on the first and the second half of the flattened
    (C-contiguous) arrays, at the same time; None entries stay None."""
    global _pool
    if _pool is None:   # made on first use, never at import
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tinygrad_seq-optim")
    half = arrays[0].size // 2
    flat = [None if a is None else a.reshape(-1) for a in arrays]
    s = scratch.reshape(-1)
    first = [None if a is None else a[:half] for a in flat]
    second = [None if a is None else a[half:] for a in flat]
    job = _pool.submit(step, xp, *second, lambda: s[half:], *consts)
    step(xp, *first, lambda: s[:half], *consts)
    job.result()


def decayed_grad(p, g, group, lr, wd):
    """The gradient NAdam / RAdam step with: negated under maximize, and with weight decay either
    decoupled (p itself shrinks, in place, as AdamW) or L2 (wd * p added to the gradient)."""
    if group["maximize"]:
        g = -g
    if wd != 0 and group["decoupled_weight_decay"]:
        p *= 1 - lr * wd
    elif wd != 0:
        g = g + wd * p
    return g


def _check_betas(name, betas):
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"{name}: invalid betas {betas} (each must be in [0, 1))")


def scratch_like(opt, xp, a):
    """A work array shaped like `a`: a view of one flat buffer per dtype that the optimizer
    keeps (outside its state, so state dicts never see it) and grows as needed."""
    work = opt.__dict__.setdefault("_work", {})
    buf = work.get(a.dtype)
    if buf is None or buf.size < a.size or not isinstance(buf, type(a)):
        buf = work[a.dtype] = xp.empty(max(a.size, 1), dtype=a.dtype)
    return buf[:a.size].reshape(a.shape)


class AdamW(Adam):
    """torch.optim.AdamW (Loshchilov & Hutter): Adam with decoupled weight decay,
    p = p * (1 - lr * weight_decay) before the Adam step (default weight_decay=1e-2)."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
