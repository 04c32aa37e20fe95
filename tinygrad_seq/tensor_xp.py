"""The array namespace a backward sees under create_graph=True.

A backward is written once, on arrays, with NumPy's names through `ctx.xp`. To
differentiate it again, the engine runs the same backward with Tensors in place of
the arrays and `ctx.xp` set to a `TensorXP`: NumPy's names, made of Tensor ops, so
every step of the backward is itself recorded in the graph.
"""
import numpy as np

from . import backend


class TensorXP:
    """numpy / cupy function names on Tensors, for one device."""

    def __init__(self, device):
        self.device = device
        self._xp = self.raw = backend.xp(device)   # raw: numpy / cupy, for index arithmetic
        self.__name__ = "tinygrad_seq.tensor_xp"

    def _t(self, a):
        return a if isinstance(a, Tensor) else Tensor._wrap(self._xp.asarray(a), self.device)

    # elementwise: differentiable
    def exp(self, a): return self._t(a).exp()
    def log(self, a): return self._t(a).log()
    def sqrt(self, a): return self._t(a).sqrt()
    def tanh(self, a): return self._t(a).tanh()
    def sin(self, a): return self._t(a).sin()
    def cos(self, a): return self._t(a).cos()
    def cumsum(self, a, axis): return self._t(a).cumsum(axis)
    def cumprod(self, a, axis): return self._t(a).cumprod(axis)
    def einsum(self, equation, *operands): return einsum(equation, *[self._t(a) for a in operands])
    def abs(self, a): return self._t(a).abs()
    def maximum(self, a, b): return self._t(a).maximum(b)
    def minimum(self, a, b): return self._t(a).minimum(b)
    def matmul(self, a, b): return self._t(a) @ b
    def where(self, cond, a, b): return where(cond, a, b)

    def clip(self, a, lo, hi): return self._t(a).clip(lo, hi)

    # piecewise constant: no gradient, as in torch
    def sign(self, a): return Tensor._wrap(self._xp.sign(self._t(a).array), self.device)
    def isfinite(self, a): return Tensor._wrap(self._xp.isfinite(self._t(a).array), self.device)
    def floor(self, a): return Tensor._wrap(self._xp.floor(self._t(a).array), self.device)

    # shapes
    def broadcast_to(self, a, shape): return self._t(a).expand(*shape)
    def transpose(self, a, axes): return self._t(a).permute(*axes)
    def swapaxes(self, a, i, j): return self._t(a).transpose(i, j)
    def moveaxis(self, a, src, dst):
        a = self._t(a)
        dims = list(range(a.ndim))
        dims.insert(dst % a.ndim, dims.pop(src % a.ndim))
        return a.permute(*dims)

    def reshape(self, a, shape): return self._t(a).reshape(shape)
    def expand_dims(self, a, axis): return self._t(a).unsqueeze(axis)
    def stack(self, arrays, axis=0): return stack([self._t(a) for a in arrays], axis)
    def concatenate(self, arrays, axis=0): return cat([self._t(a) for a in arrays], axis)
    def flip(self, a, axes): return self._t(a).flip(axes)
    def roll(self, a, shifts, axes=None): return self._t(a).roll(shifts, axes)

    # constants
    def zeros(self, shape, dtype=None):
        return Tensor._wrap(self._xp.zeros(shape, dtype=dtype or np.float32), self.device)

    def ones(self, shape, dtype=None):
        return Tensor._wrap(self._xp.ones(shape, dtype=dtype or np.float32), self.device)

    def zeros_like(self, a, dtype=None):
        return self.zeros(a.shape, dtype or a.dtype)

    def ones_like(self, a, dtype=None):
        return self.ones(a.shape, dtype or a.dtype)

    def full(self, shape, value, dtype=None):
        return Tensor._wrap(self._xp.full(shape, value, dtype=dtype), self.device)

    def eye(self, n, dtype=None): return Tensor._wrap(self._xp.eye(n, dtype=dtype or np.float32), self.device)

    def errstate(self, **kw):
        return self._xp.errstate(**kw) if hasattr(self._xp, "errstate") else np.errstate(**kw)

    def asarray(self, a, dtype=None):
        t = self._t(a)
        return t if dtype is None or t.dtype == dtype else t.astype(dtype)


from .tensor import Tensor, where  # noqa: E402
from .factories import stack, cat  # noqa: E402
from .functions import einsum  # noqa: E402
