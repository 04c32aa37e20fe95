"""Activation layers (and Flatten / Identity): thin Modules over the Tensor ops.

`inplace=True` is accepted for PyTorch compatibility; the result is computed out
of place (the values are the same, only the memory is not shared).
"""
import warnings

from ..tensor import Tensor
from .module import Module


def _check(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    return x


def relu(input, inplace=False):
    return _check(input, "relu").relu()


def tanh(input):
    return _check(input, "tanh").tanh()


def sigmoid(input):
    return _check(input, "sigmoid").sigmoid()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _check(input, "leaky_relu").leaky_relu(negative_slope)


def _softmax_dim(name, ndim):
    """torch's legacy choice when dim is not given (with its deprecation warning)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _dim(name, dim, ndim):
    """dim checked against the input's dims as torch does (a 0-d input has dims -1 and 0)."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{name}: dim {dim} is out of range for a {ndim}-d input "
                         f"(expected to be in range of [{-n}, {n - 1}])")
    return dim


def softmax(input, dim=None):
    _check(input, "softmax")
    dim = _softmax_dim("softmax", input.ndim) if dim is None else _dim("softmax", dim, input.ndim)
    return input.softmax(dim=dim)


def log_softmax(input, dim=None):
    _check(input, "log_softmax")
    dim = _softmax_dim("log_softmax", input.ndim) if dim is None else _dim("log_softmax", dim, input.ndim)
    return input.log_softmax(dim=dim)


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Tanh(Module):
    def forward(self, x):
        return tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return sigmoid(x)


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return log_softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Flatten(Module):
    """Flatten(start_dim=1, end_dim=-1): (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        _check(x, "Flatten")
        n = max(x.ndim, 1)
        for d in (self.start_dim, self.end_dim):
            if not -n <= d < n:
                raise IndexError(f"Flatten: dim {d} is out of range for input of shape {x.shape}")
        if self.start_dim % n > self.end_dim % n:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} "
                             f"for input of shape {x.shape}")
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (accepts and ignores any constructor arguments, as torch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
