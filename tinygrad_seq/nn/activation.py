"""Activation layers (and Flatten / Identity): thin Modules over the Tensor ops.

`inplace=True` writes the result into the input and returns it, as torch, when the input
is outside the graph (no gradient, or under no_grad). A tensor in the graph gets the result
out of place, with the same values and gradients: in-place ops on tensors that require grad
are refused in this library, and a leaf that requires grad raises, as in torch.
"""
import math
import warnings

import numpy as np

from .. import autograd
from ..autograd import Function
from ..tensor import Tensor, _dim
from .module import Module


def _check(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    return x


def _apply(input, fn, inplace, name):
    """fn(input), written into input when inplace (see the module docstring)."""
    if not inplace:
        return fn(input)
    if autograd.is_grad_enabled() and input.requires_grad:
        if input.is_leaf:
            raise RuntimeError(f"{name}: inplace=True on a leaf tensor that requires grad (as torch); "
                               "use inplace=False")
        return fn(input)
    out = fn(input)
    return input.copy_(out)


def relu(input, inplace=False):
    return _apply(_check(input, "relu"), Tensor.relu, inplace, "relu")


def tanh(input):
    return _check(input, "tanh").tanh()


def sigmoid(input):
    return _check(input, "sigmoid").sigmoid()


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _apply(_check(input, "leaky_relu"), lambda x: x.leaky_relu(negative_slope), inplace, "leaky_relu")


def _softmax_dim(name, ndim):
    """torch's legacy choice when dim is not given (with its deprecation warning)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None):
    _check(input, "softmax")
    dim = _softmax_dim("softmax", input.ndim) if dim is None else _dim(dim, input.ndim, "softmax")
    return input.softmax(dim=dim)


def log_softmax(input, dim=None):
    _check(input, "log_softmax")
    dim = _softmax_dim("log_softmax", input.ndim) if dim is None else _dim(dim, input.ndim, "log_softmax")
    return input.log_softmax(dim=dim)


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return relu(x, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return leaky_relu(x, self.negative_slope, self.inplace)

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


# ---------------------------------------------------------------- GELU, ELU, SiLU, Softplus, GLU
def _erf(xp, a):
    """The error function on the array's own device: CuPy's on the GPU, SciPy's on the CPU when
    it is installed, else Python's math.erf element by element (exact, slower)."""
    if xp is not np:
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(a)
    try:
        from scipy.special import erf
    except ImportError:
        return np.frompyfunc(math.erf, 1, 1)(a).astype(a.dtype)
    return erf(a).astype(a.dtype, copy=False)


class NormalCDF(Function):
    """Φ(x) = (1 + erf(x / √2)) / 2; d/dx = φ(x) = e^(-x²/2) / √(2π), written with ctx.xp on the
    saved input, so the backward is itself differentiable (gelu's second derivative)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (1.0 + _erf(ctx.xp, x * (1.0 / math.sqrt(2.0))))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * ctx.xp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))


class GELUFn(Function):
    """gelu(x) = x Φ(x), Φ the standard normal CDF; d/dx = Φ(x) + x φ(x)."""

    @staticmethod
    def forward(ctx, x):
        cdf = 0.5 * (1.0 + _erf(ctx.xp, x * (1.0 / math.sqrt(2.0))))
        ctx.x, ctx.cdf = x, cdf
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        pdf = ctx.xp.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
        return g * (ctx.cdf + x * pdf)

    @staticmethod
    def composed(x):
        """The same from differentiable ops, for create_graph=True (ctx.cdf is a constant there)."""
        return x * NormalCDF.apply(x)


def gelu(input, approximate="none"):
    """torch.nn.functional.gelu: x Φ(x) exactly ('none'), or with Φ(x) ~ (1 + tanh(√(2/π)(x + 0.044715 x³)))/2
    ('tanh')."""
    _check(input, "gelu")
    if approximate == "none":
        return GELUFn.apply(input)
    if approximate == "tanh":
        return 0.5 * input * (1.0 + (math.sqrt(2.0 / math.pi) * (input + 0.044715 * input ** 3)).tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def elu(input, alpha=1.0, inplace=False):
    """torch.nn.functional.elu: x for x > 0, alpha (e^x - 1) otherwise."""
    def fn(x):
        neg = alpha * (x.minimum(0.0).exp() - 1.0)   # exp of min(x, 0): never overflows
        return x.where(x > 0, neg)
    return _apply(_check(input, "elu"), fn, inplace, "elu")


def silu(input, inplace=False):
    """torch.nn.functional.silu (swish): x σ(x)."""
    return _apply(_check(input, "silu"), lambda x: x * x.sigmoid(), inplace, "silu")


def softplus(input, beta=1.0, threshold=20.0):
    """torch.nn.functional.softplus: log(1 + e^(βx)) / β, and x itself where βx > threshold."""
    _check(input, "softplus")
    bx = input * beta
    # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): no overflow for large z
    soft = (bx.relu() + ((-abs(bx)).exp() + 1.0).log()) / beta
    return input.where(bx > threshold, soft)


def glu(input, dim=-1):
    """torch.nn.functional.glu: a σ(b), where a and b are the two halves of input along dim."""
    _check(input, "glu")
    if input.ndim == 0:
        raise RuntimeError("glu: does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {dim % input.ndim} "
                           f"is size {n} (input shape {input.shape})")
    a, b = input.split(n // 2, dim)
    return a * b.sigmoid()


class GELU(Module):
    """GELU(approximate='none')."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class ELU(Module):
    """ELU(alpha=1.0, inplace=False)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x):
        return elu(x, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class SiLU(Module):
    """SiLU(inplace=False): x σ(x)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return silu(x, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    """Softplus(beta=1.0, threshold=20.0)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class GLU(Module):
    """GLU(dim=-1)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return glu(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Unflatten(Module):
    """Unflatten(dim, unflattened_size): dim of the input becomes the dims unflattened_size
    (one entry may be -1), the inverse of Flatten."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(s, (int, np.integer)) for s in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, tuple(int(s) for s in unflattened_size)

    def forward(self, x):
        _check(x, "Unflatten")
        n = max(x.ndim, 1)
        if not -n <= self.dim < n:
            raise IndexError(f"Unflatten: dim {self.dim} is out of range for input of shape {x.shape}")
        d = self.dim % n
        size, known = x.shape[d], math.prod(s for s in self.unflattened_size if s != -1)
        free = sum(s == -1 for s in self.unflattened_size)
        if free > 1 or (free == 0 and known != size) or (free == 1 and (known == 0 or size % known)):
            raise RuntimeError(f"Unflatten: unflattened_size {self.unflattened_size} does not match "
                               f"dim {self.dim} of size {size} (input shape {x.shape})")
        return x.reshape(x.shape[:d] + self.unflattened_size + x.shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


# ---------------------------------------------------------------- Hardtanh, ReLU6, LogSigmoid, SELU
class HardtanhFn(Function):
    """clamp(x, lo, hi); the gradient passes strictly inside (lo, hi) and is 0 at the
    bounds, as torch's hardtanh (clamp's gradient passes at the bounds too), and at NaN
    (torch's vectorised kernel; its scalar one passes it)."""
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.inside = (x > lo) & (x < hi)
        return ctx.xp.clip(x, lo, hi).astype(x.dtype, copy=False)   # integers stay integers

    @staticmethod
    def backward(ctx, g): return g * ctx.inside, None, None


def _hardtanh(input, min_val, max_val, inplace, name):
    _check(input, name)
    if min_val > max_val:
        raise ValueError(f"{name}: min_val cannot be greater than max_val, got {min_val} > {max_val}")
    if input.dtype == np.bool_:
        raise TypeError(f"{name}: bool inputs are not supported (as torch)")
    return _apply(input, lambda x: HardtanhFn.apply(x, min_val, max_val), inplace, name)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """torch.nn.functional.hardtanh: x clamped to [min_val, max_val]."""
    return _hardtanh(input, min_val, max_val, inplace, "hardtanh")


def relu6(input, inplace=False):
    """torch.nn.functional.relu6: min(max(0, x), 6), hardtanh(x, 0, 6)."""
    return _hardtanh(input, 0.0, 6.0, inplace, "relu6")


def _floating(x, name):
    if _check(x, name).dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor, got dtype {x.dtype} (as torch)")
    return x


class LogSigmoidFn(Function):
    """log σ(x) = min(x, 0) - log(1 + e^-|x|), which neither overflows nor loses the small
    values for large |x|; d/dx = σ(-x)."""
    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        ctx.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        xp = ctx.xp
        z = xp.exp(-xp.abs(x))   # σ(-x) from e^-|x|: neither overflows nor rounds e^-50 to 0
        return g * xp.where(x > 0, z / (1 + z), 1 / (1 + z))


def logsigmoid(input):
    """torch.nn.functional.logsigmoid: log(1 / (1 + e^-x)), numerically stable."""
    return LogSigmoidFn.apply(_floating(input, "logsigmoid"))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class SELUFn(Function):
    """scale * (x if x > 0 else alpha (e^x - 1)); d/dx = scale, or scale alpha e^x for x <= 0
    (torch's side at 0; NaN at NaN). expm1 keeps -0.0 and small x exact."""
    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        ctx.save_for_backward(x)
        neg = (SELU_SCALE * SELU_ALPHA) * xp.expm1(xp.where(x > 0, 0, x))   # no overflow; keeps -0.0
        return xp.where(x > 0, SELU_SCALE * x, neg).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        xp = ctx.xp
        slope = xp.where(x > 0, SELU_SCALE, (SELU_SCALE * SELU_ALPHA) * xp.exp(xp.minimum(x, 0)))
        return g * slope


def selu(input, inplace=False):
    """torch.nn.functional.selu: scale * elu(x, alpha) with the self-normalising constants."""
    return _apply(_floating(input, "selu"), SELUFn.apply, inplace, "selu")


class Hardtanh(Module):
    """Hardtanh(min_val=-1.0, max_val=1.0, inplace=False)."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x):
        return hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """ReLU6(inplace=False): Hardtanh(0, 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LogSigmoid(Module):
    def forward(self, x):
        return logsigmoid(x)


class SELU(Module):
    """SELU(inplace=False)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return selu(x, self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""
