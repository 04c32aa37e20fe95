"""LayerNorm as one fused op: statistics, normalisation and affine in a single node."""
import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from . import init
from .module import Module


class LayerNormFn(Function):
    """Normalise x over its last `nd` dims (biased variance, as torch), then * weight + bias."""

    @staticmethod
    def forward(ctx, x, weight, bias, nd, eps):
        xp = ctx.xp
        axes = tuple(range(x.ndim - nd, x.ndim))
        mu = x.mean(axis=axes, keepdims=True)
        d = x - mu
        rstd = 1.0 / xp.sqrt((d * d).mean(axis=axes, keepdims=True) + eps)
        xhat = d * rstd
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.axes = axes
        y = xhat
        if weight is not None:
            y = y * weight
        if bias is not None:
            y = y + bias
        return y

    @staticmethod
    def backward(ctx, g):
        xhat, rstd, weight = ctx.saved_tensors
        axes = ctx.axes
        lead = tuple(range(g.ndim - len(axes)))
        nx, nw, nb = ctx.needs_input_grad[:3]
        gw = (g * xhat).sum(axis=lead) if nw else None
        gb = g.sum(axis=lead) if nb else None
        gx = None
        if nx:
            gh = g * weight if weight is not None else g
            # d xhat / d x: remove the mean of gh and its projection on xhat, scale by 1/std
            gx = rstd * (gh - gh.mean(axis=axes, keepdims=True)
                         - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
        return gx, gw, gb, None, None


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, _name="layer_norm"):
    """torch.nn.functional.layer_norm over the trailing dims `normalized_shape`."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if not isinstance(input, Tensor):
        raise TypeError(f"{_name}: expected a Tensor input, got {type(input).__name__}")
    nd = len(shape)
    if nd == 0 or input.ndim < nd or tuple(input.shape[-nd:]) != shape:
        raise ValueError(f"{_name}: expected input with trailing dims {shape} (normalized_shape), "
                         f"got shape {input.shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise ValueError(f"{_name}: {name} of shape {p.shape} does not match normalized_shape {shape}")
    return LayerNormFn.apply(input, weight, bias, nd, float(eps))


class LayerNorm(Module):
    """LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True): weight ones,
    bias zeros, both shaped like normalized_shape."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = init.ones_(init.parameter(*self.normalized_shape))
            if bias:
                self.bias = init.zeros_(init.parameter(*self.normalized_shape))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps, _name="LayerNorm")

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
