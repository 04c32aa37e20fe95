"""Weight initialisers, in place, drawing from the generator `manual_seed` seeds."""
import math

import numpy as np

from .. import backend
from ..autograd import no_grad
from .module import Parameter


def parameter(*shape):
    """A new float32 Parameter of `shape`, on the CPU and not yet initialised: every layer makes
    its parameters here, then fills them with one of the functions below (and .to() moves them)."""
    return Parameter(np.empty(shape, dtype=np.float32))


@no_grad()
def uniform_(t, a=0.0, b=1.0):
    t.array = backend.uniform(a, b, t.shape, t.dtype, t.device)
    t._version += 1
    return t


@no_grad()
def normal_(t, mean=0.0, std=1.0):
    t.array = (backend.randn(t.shape, t.dtype, t.device) * std + mean).astype(t.dtype, copy=False)
    t._version += 1
    return t


@no_grad()
def zeros_(t):
    t.array = backend.xp(t.device).zeros(t.shape, dtype=t.dtype)
    return t


@no_grad()
def ones_(t):
    t.array = backend.xp(t.device).ones(t.shape, dtype=t.dtype)
    return t


def _fan_in_out(t):
    if t.ndim < 2:
        raise ValueError(f"fan in/out needs a tensor of at least 2 dims, got shape {t.shape}")
    receptive = 1
    for n in t.shape[2:]:
        receptive *= n
    return t.shape[1] * receptive, t.shape[0] * receptive


def kaiming_uniform_(t, a=0.0, nonlinearity="leaky_relu"):
    """He uniform with PyTorch's default gain; with a=sqrt(5) this is nn.Linear / nn.Conv's default."""
    fan_in, _ = _fan_in_out(t)
    if t.numel() == 0:   # Linear(0, n) and the like: nothing to draw (torch: a no-op too)
        return t
    gain = math.sqrt(2.0 / (1 + a * a)) if nonlinearity == "leaky_relu" else math.sqrt(2.0)
    bound = gain * math.sqrt(3.0 / fan_in)
    return uniform_(t, -bound, bound)


def xavier_uniform_(t, gain=1.0):
    fan_in, fan_out = _fan_in_out(t)
    if t.numel() == 0:
        return t
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def fan_in_uniform_(t, fan_in):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for biases and recurrent weights."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform_(t, -bound, bound)
