"""Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).

Clipping replaces `p.grad` with a scaled copy instead of writing into it: the
autograd engine may share one gradient array between tensors.
"""
import math

from ... import backend
from ...tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def _norm(xp, g, norm_type):
    """The norm_type-norm of all entries of g, as a 0-d array in g's dtype."""
    if g.size == 0:
        return xp.zeros((), dtype=g.dtype)
    if norm_type == math.inf:
        n = xp.abs(g).max()
    elif norm_type == 2:
        n = xp.sqrt((g * g).sum())
    else:
        n = (xp.abs(g) ** norm_type).sum() ** (1.0 / norm_type)
    return xp.asarray(n)  # NumPy reductions give scalars, not 0-d arrays


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm (the norm of the vector of
    per-tensor norms) is at most max_norm: g <- g * min(1, max_norm / (total + 1e-6)).
    Returns the total norm before clipping, as a 0-d Tensor (like torch)."""
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    params = _grads(parameters)
    if not params:
        return Tensor(0.0)
    device = params[0].device
    xp = backend.xp(device)
    norms = [backend.to_device(_norm(backend.xp(p.device), p.grad.array, norm_type), device) for p in params]
    total = _norm(xp, xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"clip_grad_norm_: the total {norm_type}-norm of the gradients is {float(total)}; "
                           "pass error_if_nonfinite=False to clip anyway")
    # no `if coef < 1` test: on a GPU that would wait for the device; multiplying by 1 is exact
    coef = xp.asarray(xp.minimum(max_norm / (total + 1e-6), 1.0))
    for p in params:
        c = backend.to_device(coef, p.device).astype(p.grad.dtype)
        p.grad = Tensor._wrap(p.grad.array * c, p.device)
    return Tensor._wrap(total, device)


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient entry into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _grads(parameters):
        p.grad = Tensor._wrap(backend.xp(p.device).clip(p.grad.array, -clip_value, clip_value), p.device)
