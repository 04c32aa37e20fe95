"""Dropout: inverted dropout (kept units scaled by 1/(1-p) while training, identity in eval).

The mask is drawn from the backend generator, so `tg.manual_seed` reproduces it.
"""
import warnings

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .module import Module


class DropoutFn(Function):
    @staticmethod
    def forward(ctx, x, p):
        if p >= 1:   # everything dropped (torch returns zeros, and zero gradient)
            scale = ctx.xp.zeros(x.shape, dtype=x.dtype)
        else:
            draw = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
            keep = backend.rand(x.shape, draw, backend.device_of(x)) >= p
            scale = keep * x.dtype.type(1.0 / (1.0 - p))   # 0 or 1/(1-p), in x's dtype
        ctx.scale = scale
        return x * scale

    @staticmethod
    def backward(ctx, g):
        return g * ctx.scale, None


def dropout(input, p=0.5, training=True, inplace=False):
    """torch.nn.functional.dropout: zero each element with probability p and scale the rest by
    1/(1-p) when training; the input itself otherwise (`inplace` is accepted, computed out of place)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout: expected a Tensor, got {type(input).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if input.dtype.kind != "f":
        raise TypeError(f"dropout: expected a floating point input, got {input.dtype}")
    return DropoutFn.apply(input, float(p))


class Dropout(Module):
    """Dropout(p=0.5, inplace=False): active in train(), the identity in eval()."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


def dropout2d(input, p=0.5, training=True, inplace=False):
    """torch.nn.functional.dropout2d: zero whole channels of x (N, C, H, W) with probability p,
    scaling the kept ones by 1/(1-p), when training. A 3-D input is taken as (N, C, L) (channel-wise
    1-D dropout), as torch does, with torch's warning."""
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout2d: expected a Tensor, got {type(input).__name__}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected input (N, C, H, W) or (C, H, W), got shape {input.shape}")
    if not training or p == 0.0:
        return input
    if input.dtype.kind != "f":
        raise TypeError(f"dropout2d: expected a floating point input, got {input.dtype}")
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L)", stacklevel=2)
    # one draw per channel: dropout of a ones tensor shaped (N, C, 1, ...) is the per-channel scale
    shape = input.shape[:2] + (1,) * (input.ndim - 2)
    ones = Tensor(backend.xp(input.device).ones(shape, dtype=input.dtype), device=input.device)
    return input * DropoutFn.apply(ones, float(p))


class Dropout2d(Module):
    """Dropout2d(p=0.5, inplace=False): drops whole channels in train(), the identity in eval()."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout2d: probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return dropout2d(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
