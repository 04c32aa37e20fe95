"""Weight initialisers, in place, drawing from the generator `manual_seed` seeds (torch's
`generator=` argument is not taken), with torch.nn.init's names, fans and gains."""
import math
import warnings

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..tensor import get_default_dtype
from .module import Parameter


def parameter(*shape):
    """A new Parameter of `shape` in the default dtype (float32 unless set_default_dtype
    changed it), on the CPU and not yet initialised: every layer makes its parameters here,
    then fills them with one of the functions below (and .to() moves them)."""
    return Parameter(np.empty(shape, dtype=get_default_dtype()))


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


@no_grad()
def constant_(t, val):
    """Fill t with the value val, in place."""
    return t.fill_(val)


def calculate_gain(nonlinearity, param=None):
    """torch.nn.init.calculate_gain: the factor that keeps activations' variance through the
    nonlinearity (1 for linear / conv / sigmoid, 5/3 tanh, sqrt(2) relu, sqrt(2 / (1 + a^2))
    leaky_relu with slope param (0.01 by default), 3/4 selu)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4   # found empirically by torch (pytorch/pytorch#50664)
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(t):
    """(fan_in, fan_out) of a weight (out, in, *kernel): in and out times the kernel's size."""
    if t.ndim < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than 2 dims, "
                         f"got shape {t.shape}")
    receptive = 1
    for n in t.shape[2:]:
        receptive *= n
    return t.shape[1] * receptive, t.shape[0] * receptive


def _calculate_correct_fan(t, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


def _kaiming_std(t, a, mode, nonlinearity):
    """gain / sqrt(fan), or None for a tensor with no entries (torch warns and does nothing)."""
    if 0 in t.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(t, mode))


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He uniform: U(-b, b), b = sqrt(3) gain / sqrt(fan); with a=sqrt(5) this is nn.Linear /
    nn.Conv's default weight."""
    std = _kaiming_std(t, a, mode, nonlinearity)
    if std is None:
        return t
    bound = math.sqrt(3.0) * std
    return uniform_(t, -bound, bound)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He normal: N(0, std^2), std = gain / sqrt(fan), fan_in (or fan_out with mode='fan_out')
    and the gain of `nonlinearity` (a: leaky_relu's negative slope)."""
    std = _kaiming_std(t, a, mode, nonlinearity)
    if std is None:
        return t
    return normal_(t, 0.0, std)


def xavier_uniform_(t, gain=1.0):
    """Glorot uniform: U(-b, b), b = gain sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    if t.numel() == 0:
        return t
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def xavier_normal_(t, gain=1.0):
    """Glorot normal: N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    if t.numel() == 0:
        return t
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


@no_grad()
def orthogonal_(t, gain=1.0):
    """A (semi-)orthogonal matrix, times gain, reshaped to t (rows = dim 0, the rest flattened):
    the Q of the QR of a standard normal matrix, its columns' signs fixed by R's diagonal, so
    that Q is uniform over orthogonal matrices (Mezzadri 2007), as torch. With fewer rows than
    columns the transpose is factored, so the rows come out orthonormal."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dims are supported, got shape {t.shape}")
    if t.numel() == 0:
        return t
    rows = t.shape[0]
    cols = t.numel() // rows
    xp = backend.xp(t.device)
    dtype = t.dtype if t.dtype in (np.float32, np.float64) else np.dtype(np.float32)   # QR's dtypes
    flat = backend.randn((rows, cols), dtype, t.device)
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    t.array = (q * gain).reshape(t.shape).astype(t.dtype, copy=False)
    t._version += 1
    return t


def fan_in_uniform_(t, fan_in):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for biases and recurrent weights."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform_(t, -bound, bound)
