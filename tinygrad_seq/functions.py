"""Top-level functions of torch's everyday API (torch.max, torch.einsum, torch.cdist, ...):
most are the Tensor methods of the same name, as functions."""
import builtins
import warnings

import numpy as np

from . import autograd, ops
from .tensor import Tensor, _dim, _prod
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


def median(input, dim=None, keepdim=False):
    """torch.median(x): the lower median of all entries; torch.median(x, dim) -> (values, indices)."""
    return _t(input, "median").median(dim, keepdim)


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


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-D or 1-D tensors: output k holds tensor k's values along its own
    dim, expanded (a view, no copy) over the others. indexing='ij' puts tensor k on dim k;
    'xy' swaps the first two dims (Cartesian: x varies along columns). Without indexing: 'ij'
    with torch's warning that it will be required."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f'meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise ValueError("meshgrid: expects a non-empty list of tensors")
    for t in tensors:
        if _t(t, "meshgrid").ndim > 1:
            raise ValueError(f"meshgrid: expects 0-D or 1-D tensors, got shape {t.shape}")
    if len({t.dtype for t in tensors}) > 1 or len({t.device for t in tensors}) > 1:
        raise TypeError("meshgrid: expects all tensors to have the same dtype and device, got "
                        + ", ".join(f"{t.dtype} on {t.device}" for t in tensors))
    dims = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        dims[0], dims[1] = 1, 0
    shape = [0] * len(tensors)
    for t, d in zip(tensors, dims):
        shape[d] = t.numel()
    return tuple(t.reshape([-1 if i == d else 1 for i in range(len(shape))]).expand(*shape)
                 for t, d in zip(tensors, dims))


def tensordot(a, b, dims=2):
    """Sum of products over the dims `dims` pairs up: an int n (the last n of a with the first
    n of b) or two lists ([dims of a], [dims of b]). The result has a's other dims, then b's.
    Made of permute, reshape and matmul, so the gradient comes from theirs. As torch, a
    contracted dim of size 1 meets one of any size (the other side is summed over it)."""
    _t(a, "tensordot"), _t(b, "tensordot")
    if isinstance(dims, Tensor):
        dims = int(dims.item()) if dims.numel() == 1 else dims.tolist()
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        if dims < 0:
            raise ValueError(f"tensordot: expects dims >= 0, but got dims={dims}")
        if dims > builtins.min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: dims={dims} is more than the dims of a {a.shape} or b {b.shape}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    elif isinstance(dims, (list, tuple)) and len(dims) == 2 and builtins.all(isinstance(d, (list, tuple)) for d in dims):
        dims_a, dims_b = dims
    else:
        raise TypeError(f"tensordot: expects dims to be an int or two lists of dims, got dims={dims!r}")
    if len(dims_a) != len(dims_b):
        raise ValueError(f"tensordot: both dim lists should have the same length, got {dims_a} and {dims_b}")
    dims_a = [_dim(d, a.ndim, "tensordot") for d in dims_a]
    dims_b = [_dim(d, b.ndim, "tensordot") for d in dims_b]
    for ds, x in ((dims_a, a), (dims_b, b)):
        if len(set(ds)) != len(ds):
            raise ValueError(f"tensordot: a dim appears more than once in {ds} (shape {x.shape})")
    if a.dtype != b.dtype:
        raise TypeError(f"tensordot: both inputs should have the same dtype, got {a.dtype} and {b.dtype}")
    for da, db in zip(dims_a, dims_b):
        na, nb = a.shape[da], b.shape[db]
        if na != nb:
            if na == 1:
                b = b.sum(dim=db, keepdim=True)
            elif nb == 1:
                a = a.sum(dim=da, keepdim=True)
            else:
                raise ValueError(f"tensordot: contracted dimensions need to match, but a has size {na} "
                                 f"in dim {da} and b has size {nb} in dim {db} (shapes {a.shape} and {b.shape})")
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    k = _prod(a.shape[d] for d in dims_a)
    left = a.permute(*free_a, *dims_a).reshape(_prod(a.shape[d] for d in free_a), k)
    right = b.permute(*dims_b, *free_b).reshape(k, _prod(b.shape[d] for d in free_b))
    return (left @ right).reshape(*[a.shape[d] for d in free_a], *[b.shape[d] for d in free_b])


class inference_mode(autograd.no_grad):
    """torch.inference_mode: here the same as no_grad (no graph is recorded inside)."""

    def __init__(self, mode=True):
        self.mode = not mode


__all__ = [n for n, v in list(globals().items())
           if not n.startswith("_") and getattr(v, "__module__", None) == __name__]
