"""Top-level functions of torch's everyday API (torch.max, torch.einsum, torch.cdist, ...):
most are the Tensor methods of the same name, as functions."""
import numpy as np

from . import autograd, ops
from .tensor import Tensor
from .ops import _einsum_spec


def _t(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    return x


def max(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    """torch.max(x), torch.max(x, dim) -> (values, indices), torch.max(x, other) -> maximum."""
    return _t(input, "max").max(dim, keepdim)


def min(input, dim=None, keepdim=False, *, out=None):  # noqa: A001
    return _t(input, "min").min(dim, keepdim)


def abs(input): return _t(input, "abs").abs()  # noqa: A001
def isnan(input): return _t(input, "isnan").isnan()
def isinf(input): return _t(input, "isinf").isinf()
def isfinite(input): return _t(input, "isfinite").isfinite()
def numel(input): return _t(input, "numel").numel()
def topk(input, k, dim=-1, largest=True, sorted=True): return input.topk(k, dim, largest, sorted)
def sort(input, dim=-1, descending=False, *, stable=False): return input.sort(dim, descending, stable=stable)
def argsort(input, dim=-1, descending=False, *, stable=False): return input.argsort(dim, descending, stable=stable)
def tril(input, diagonal=0): return input.tril(diagonal)
def triu(input, diagonal=0): return input.triu(diagonal)
def diag(input, diagonal=0): return input.diag(diagonal)
def outer(input, vec2): return input.outer(vec2)
def cumsum(input, dim, *, dtype=None): return input.cumsum(dim, dtype=dtype)
def cumprod(input, dim, *, dtype=None): return input.cumprod(dim, dtype=dtype)
def prod(input, dim=None, keepdim=False, *, dtype=None): return input.prod(dim, keepdim, dtype=dtype)
def flip(input, dims): return input.flip(dims)
def roll(input, shifts, dims=None): return input.roll(shifts, dims)
def gather(input, dim, index): return input.gather(dim, index)
def scatter(input, dim, index, src=None, *, value=None): return input.scatter(dim, index, src, value=value)
def scatter_add(input, dim, index, src): return input.scatter_add(dim, index, src)
def index_select(input, dim, index): return input.index_select(dim, index)
def masked_fill(input, mask, value): return input.masked_fill(mask, value)
def masked_select(input, mask): return input.masked_select(mask)
def narrow(input, dim, start, length): return input.narrow(dim, start, length)
def norm(input, p="fro", dim=None, keepdim=False, *, dtype=None): return input.norm(p, dim, keepdim, dtype=dtype)
def mm(input, mat2): return input.mm(mat2)
def bmm(input, mat2): return input.bmm(mat2)
def addmm(input, mat1, mat2, *, beta=1, alpha=1): return input.addmm(mat1, mat2, beta=beta, alpha=alpha)
def baddbmm(input, b1, b2, *, beta=1, alpha=1): return input.baddbmm(b1, b2, beta=beta, alpha=alpha)
def lerp(input, end, weight): return input.lerp(end, weight)
def sin(input): return input.sin()
def cos(input): return input.cos()
def rsqrt(input): return input.rsqrt()
def log1p(input): return input.log1p()
def expm1(input): return input.expm1()
def square(input): return input.square()
def sign(input): return input.sign()
def floor(input): return input.floor()
def ceil(input): return input.ceil()
def round(input, *, decimals=0): return input.round(decimals)  # noqa: A001
def nan_to_num(input, nan=0.0, posinf=None, neginf=None): return input.nan_to_num(nan, posinf, neginf)
def clone(input): return input.clone()
def all(input, dim=None, keepdim=False): return input.all(dim, keepdim)  # noqa: A001
def any(input, dim=None, keepdim=False): return input.any(dim, keepdim)  # noqa: A001
def amax(input, dim=None, keepdim=False): return input.amax(dim=dim, keepdim=keepdim)
def amin(input, dim=None, keepdim=False): return input.amin(dim=dim, keepdim=keepdim)
def argmin(input, dim=None, keepdim=False): return input.argmin(dim=dim, keepdim=keepdim)


def add(input, other, *, alpha=1):
    """input + alpha * other."""
    return _t(input, "add") + (other if alpha == 1 else other * alpha)


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    return _t(input, "sub") - (other if alpha == 1 else other * alpha)


def mul(input, other): return _t(input, "mul") * other
def eq(input, other): return _t(input, "eq") == other
def ne(input, other): return _t(input, "ne") != other
def lt(input, other): return _t(input, "lt") < other
def le(input, other): return _t(input, "le") <= other
def gt(input, other): return _t(input, "gt") > other
def ge(input, other): return _t(input, "ge") >= other
def logical_and(input, other): return _t(input, "logical_and").logical_and(other)
def logical_or(input, other): return _t(input, "logical_or").logical_or(other)
def logical_xor(input, other): return _t(input, "logical_xor").logical_xor(other)
def logical_not(input): return _t(input, "logical_not").logical_not()
def t(input): return _t(input, "t").t()
def is_tensor(obj): return isinstance(obj, Tensor)
def select(input, dim, index): return _t(input, "select").select(dim, index)
def nonzero(input, *, as_tuple=False): return _t(input, "nonzero").nonzero(as_tuple=as_tuple)
def repeat_interleave(input, repeats, dim=None): return _t(input, "repeat_interleave").repeat_interleave(repeats, dim)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    return _t(input, "unique").unique(sorted, return_inverse, return_counts, dim)


def div(input, other, *, rounding_mode=None):
    """input / other (true division; rounding_mode 'floor' / 'trunc' are not supported)."""
    if rounding_mode is not None:
        raise NotImplementedError(f"div: rounding_mode={rounding_mode!r} is not supported, only None")
    return _t(input, "div") / other


def pow(input, exponent):  # noqa: A001
    """input ** exponent; input may be a number when exponent is a Tensor (torch.pow(2, x))."""
    if not isinstance(input, Tensor):
        return _t(exponent, "pow").__rpow__(input)
    return input ** exponent


def var(input, dim=None, keepdim=False, *, correction=1, unbiased=None):
    return _t(input, "var").var(dim=dim, keepdim=keepdim, correction=correction, unbiased=unbiased)


def std(input, dim=None, keepdim=False, *, correction=1, unbiased=None):
    return _t(input, "std").std(dim=dim, keepdim=keepdim, correction=correction, unbiased=unbiased)


def einsum(equation, *operands):
    """torch.einsum('bij,bjk->bik', a, b); operands may also come as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = tuple(_t(o, "einsum") for o in operands)
    spec = _einsum_spec(equation, [o.ndim for o in operands])
    dtypes = {o.dtype for o in operands}
    if len(dtypes) > 1:
        raise TypeError(f"einsum: operands must share one dtype, got {sorted(str(d) for d in dtypes)}")
    return ops.Einsum.apply(spec, *operands)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(input.numpy(), other.numpy(), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    """True when both tensors have the same shape and the same values."""
    return input.shape == other.shape and bool((input == other).all())


def cdist(x1, x2, p=2.0):
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and of x2 (..., R, M): (..., P, R)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: expects (..., P, M) and (..., R, M) tensors with the same M, "
                         f"got shapes {x1.shape} and {x2.shape}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)        # (..., P, R, M)
    return diff.norm(p, dim=-1)


class inference_mode(autograd.no_grad):
    """torch.inference_mode: here the same as no_grad (no graph is recorded inside)."""

    def __init__(self, mode=True):
        self.mode = not mode


__all__ = [n for n, v in list(globals().items())
           if not n.startswith("_") and getattr(v, "__module__", None) == __name__]
