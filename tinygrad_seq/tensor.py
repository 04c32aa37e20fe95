"""Tensor: a backend array, the node that made it, and PyTorch-shaped methods.

Every differentiable method is a thin call into `ops` (one `Function` per op).
"""
import weakref

import numpy as np

from . import backend
from .autograd import AutogradError, run_backward
from . import autograd

float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int32, int64, bool_ = np.dtype("int32"), np.dtype("int64"), np.dtype("bool")
_DEFAULT_FLOAT = float32


def _as_dtype(dtype):
    return None if dtype is None else np.dtype(dtype)


def _from_python(data):
    """Python numbers and (nested) lists: floats -> float32, ints -> int64, bools -> bool."""
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        arr = arr.astype(_DEFAULT_FLOAT)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(int64)
    elif arr.dtype.kind not in "fb":
        raise TypeError(f"tensor: cannot make a tensor from data of dtype {arr.dtype}")
    return arr


class Tensor:
    """An n-dimensional array with reverse-mode gradients.

    Tensor(data, requires_grad=False, dtype=None, device=None). Python data
    becomes float32 (ints int64); a NumPy or CuPy array keeps its dtype.
    """
    __slots__ = ("data", "grad", "requires_grad", "device", "_ctx", "_out", "_version", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        dtype = _as_dtype(dtype)
        if isinstance(data, Tensor):
            data = data.data
        if backend.is_array(data):
            arr = data
            if device is None:
                device = backend.device_of(arr)
        elif isinstance(data, np.generic):
            arr = np.asarray(data)
        else:
            arr = _from_python(data)
        device = backend.normalize_device(device)
        arr = backend.to_device(arr, device)
        if dtype is not None and arr.dtype != dtype:
            arr = arr.astype(dtype)
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(f"tensor: only floating point tensors can require grad, got dtype {arr.dtype}")
        self.data = arr
        self.device = device
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._out = 0      # which output of _ctx this is (Functions may have several)
        self._version = 0

    @staticmethod
    def _wrap(arr, device):
        """A tensor around an existing backend array, without checks (internal fast path)."""
        t = Tensor.__new__(Tensor)
        t.data, t.device, t.grad, t.requires_grad, t._ctx, t._out, t._version = arr, device, None, False, None, 0, 0
        return t

    # ------------------------------------------------------------ attributes
    shape = property(lambda self: tuple(self.data.shape))
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    is_leaf = property(lambda self: self._ctx is None)
    grad_fn = property(lambda self: self._ctx)
    T = property(lambda self: self.permute(*reversed(range(self.ndim))))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.data.size)

    def dim(self):
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        """The slices along dim 0, as unbind(0): one graph node for all of them."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", precision=4)
        extra = ""
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        if self.dtype not in (float32, int64, bool_):
            extra += f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------ conversion
    def numpy(self):
        """A NumPy array (copied from the GPU if needed); works on tensors that require grad."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return backend.to_numpy(self.data.reshape(-1)[:1])[0].item()  # through backend: GPU copies are counted

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def to(self, device=None, dtype=None):
        """Move to another device and/or cast; differentiable, and a no-op when nothing changes."""
        out = self
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = ops.Cast.apply(out, np.dtype(dtype))
        if device is not None:
            device = backend.normalize_device(device)
            if device != out.device:
                out = ops.ToDevice.apply(out, device)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(dtype=float32)

    def double(self):
        return self.to(dtype=float64)

    def long(self):
        return self.to(dtype=int64)

    def astype(self, dtype, copy=True):
        return self.to(dtype=dtype)

    type = astype

    # ------------------------------------------------------------ autograd
    def detach(self):
        """The same data, cut from the graph (this is how truncated BPTT stops)."""
        return Tensor._wrap(self.data, self.device)

    def requires_grad_(self, flag=True):
        if flag and self.dtype.kind != "f":
            raise TypeError(f"only floating point tensors can require grad, got dtype {self.dtype}")
        if not self.is_leaf:
            raise RuntimeError("requires_grad_ can only change leaf tensors; use detach() for others")
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self):
        """Keep .grad for this non-leaf tensor after backward (leaves always keep theirs)."""
        if self._ctx is not None:
            self._ctx.retained = (self._ctx.retained or []) + [(self._out, weakref.ref(self))]
        return self

    def backward(self, grad=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's .grad, in one reverse pass.
        create_graph=True records the backward itself, so .grad holds Tensors with a graph
        that can be differentiated again (retain_graph then defaults to True)."""
        if not self.requires_grad:
            raise AutogradError("backward: this tensor does not require grad and has no graph "
                                "(was it made under no_grad, or from inputs without requires_grad=True?)")
        if retain_graph is None:
            retain_graph = create_graph
        run_backward([self], [autograd._seed(self, grad, create_graph)], retain_graph, create_graph)

    def graph(self):
        """The autograd graph that produced this tensor (see tinygrad_seq.viz)."""
        from .viz import graph
        return graph(self)

    # ------------------------------------------------------------ in place (no gradient)
    def _inplace(self, name):
        if autograd._GRAD_ENABLED and self.requires_grad:
            raise AutogradError(f"{name}: in-place change of a tensor that requires grad; "
                                "wrap it in no_grad() or use the out-of-place op")
        self._version += 1

    def _raw(self, v):
        """A Tensor or array operand as an array on this tensor's device (CuPy refuses NumPy
        operands, and `cupy_array[...] = numpy_array` raises); numbers pass through."""
        v = v.data if isinstance(v, Tensor) else v
        return backend.to_device(v, self.device) if backend.is_array(v) else v

    def __setitem__(self, idx, value):
        self._inplace("__setitem__")
        self.data[_index(idx, self.device)] = self._raw(value)

    def zero_(self):
        self._inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value):
        self._inplace("fill_")
        self.data[...] = value
        return self

    def copy_(self, src):
        self._inplace("copy_")
        self.data[...] = self._raw(src)
        return self

    def add_(self, other, alpha=1):
        self._inplace("add_")
        self.data += alpha * self._raw(other) if alpha != 1 else self._raw(other)
        return self

    def sub_(self, other, alpha=1):
        return self.add_(other, -alpha)

    def mul_(self, other):
        self._inplace("mul_")
        self.data *= self._raw(other)
        return self

    def div_(self, other):
        self._inplace("div_")
        self.data /= self._raw(other)
        return self

    # ------------------------------------------------------------ arithmetic
    def __add__(self, o): return ops.Add.apply(self, _scalar(o))
    def __radd__(self, o): return ops.Add.apply(_scalar(o), self)
    def __sub__(self, o): return ops.Sub.apply(self, _scalar(o))
    def __rsub__(self, o): return ops.Sub.apply(_scalar(o), self)
    def __mul__(self, o): return ops.Mul.apply(self, _scalar(o))
    def __rmul__(self, o): return ops.Mul.apply(_scalar(o), self)
    def __truediv__(self, o): return ops.Div.apply(self, _scalar(o))
    def __rtruediv__(self, o): return ops.Div.apply(_scalar(o), self)
    def __neg__(self): return ops.Neg.apply(self)
    def __pos__(self): return self
    def __pow__(self, o): return ops.Pow.apply(self, _scalar(o))
    def __rpow__(self, o): return ops.Pow.apply(_scalar(o), self)
    def __matmul__(self, o): return ops.MatMul.apply(self, o)
    def __rmatmul__(self, o): return ops.MatMul.apply(o, self)
    def __abs__(self): return ops.Abs.apply(self)

    add, sub, mul, div, pow, matmul = __add__, __sub__, __mul__, __truediv__, __pow__, __matmul__
    neg, abs = __neg__, __abs__

    # comparisons: boolean tensors, no gradient
    def _cmp(self, o, op):
        return Tensor._wrap(op(self.data, self._raw(_scalar(o))), self.device)

    def __eq__(self, o): return self._cmp(o, lambda a, b: a == b)
    def __ne__(self, o): return self._cmp(o, lambda a, b: a != b)
    def __lt__(self, o): return self._cmp(o, lambda a, b: a < b)
    def __le__(self, o): return self._cmp(o, lambda a, b: a <= b)
    def __gt__(self, o): return self._cmp(o, lambda a, b: a > b)
    def __ge__(self, o): return self._cmp(o, lambda a, b: a >= b)
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # ------------------------------------------------------------ elementwise
    def exp(self): return ops.Exp.apply(self)
    def log(self): return ops.Log.apply(self)
    def sqrt(self): return ops.Sqrt.apply(self)
    def tanh(self): return ops.Tanh.apply(self)
    def sigmoid(self): return ops.Sigmoid.apply(self)
    def relu(self): return ops.ReLU.apply(self)
    def leaky_relu(self, negative_slope=0.01): return ops.LeakyReLU.apply(self, negative_slope)
    def maximum(self, o): return ops.Maximum.apply(self, _scalar(o))
    def minimum(self, o): return ops.Minimum.apply(self, _scalar(o))

    def clip(self, min=None, max=None):
        return ops.Clip.apply(self, min, max)

    clamp = clip

    def where(self, condition, other):
        """torch.where(condition, self, other)."""
        return where(condition, self, other)

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.Sum.apply(self, _axis(axis, dim, self.ndim), _kd(keepdims, keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.Mean.apply(self, _axis(axis, dim, self.ndim), _kd(keepdims, keepdim))

    def var(self, axis=None, keepdims=False, *, dim=None, keepdim=None, correction=1, unbiased=None):
        """Variance; like torch, unbiased (correction=1) by default."""
        if unbiased is not None:
            correction = 1 if unbiased else 0
        return ops.Var.apply(self, _axis(axis, dim, self.ndim), _kd(keepdims, keepdim), correction)

    def std(self, axis=None, keepdims=False, *, dim=None, keepdim=None, correction=1, unbiased=None):
        return self.var(axis, keepdims, dim=dim, keepdim=keepdim, correction=correction,
                        unbiased=unbiased).sqrt()

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Maximum values (not indices). Gradient: split evenly between tied maxima, like torch.amax."""
        return ops.Max.apply(self, _axis(axis, dim, self.ndim), _kd(keepdims, keepdim))

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Minimum values; ties share the gradient evenly, as in max."""
        return -ops.Max.apply(-self, _axis(axis, dim, self.ndim), _kd(keepdims, keepdim))

    amax, amin = max, min

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _argx(self, "argmax", _axis(axis, dim, self.ndim), _kd(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _argx(self, "argmin", _axis(axis, dim, self.ndim), _kd(keepdims, keepdim))

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.LogSumExp.apply(self, _axis(axis, dim, self.ndim), _kd(keepdims, keepdim))

    def softmax(self, axis=-1, *, dim=None):
        return ops.Softmax.apply(self, _axis(axis, dim, self.ndim))

    def log_softmax(self, axis=-1, *, dim=None):
        return ops.LogSoftmax.apply(self, _axis(axis, dim, self.ndim))

    # ------------------------------------------------------------ shapes
    def reshape(self, *shape):
        shape = _shape_args(shape)
        if shape == self.data.shape:
            return self
        return ops.Reshape.apply(self, shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        n = self.ndim
        if n == 0:
            return self.reshape(1)
        s, e = start_dim % n, end_dim % n
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *dims):
        dims = tuple(d % self.ndim for d in _shape_args(dims)) if self.ndim else ()
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of the {self.ndim} dims of shape {self.shape}")
        return ops.Permute.apply(self, dims)

    def transpose(self, dim0=-2, dim1=-1):
        """Swap two dims (torch.transpose)."""
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return ops.Permute.apply(self, tuple(dims))

    def swapaxes(self, dim0, dim1):
        return self.transpose(dim0, dim1)

    def expand(self, *shape):
        """Broadcast to `shape` (-1 keeps a dim) without copying."""
        shape = _shape_args(shape)
        lead = len(shape) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        return ops.Expand.apply(self, shape)

    def broadcast_to(self, shape):
        return self.expand(*shape)

    def squeeze(self, dim=None):
        if dim is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            dims = {d % self.ndim for d in ((dim,) if isinstance(dim, int) else dim)}
            shape = tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim):
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def __getitem__(self, idx):
        return ops.GetItem.apply(self, _index(idx, self.device))

    def split(self, split_size_or_sections, dim=0):
        """torch.split: pieces of size split_size (the last may be smaller) or of the listed sizes.
        The pieces are views and share one graph node (see Split)."""
        n = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections < 1:
                raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
            sizes = [min(split_size_or_sections, n - i) for i in range(0, n, split_size_or_sections)]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise ValueError(f"split: sizes {sizes} do not add up to {n} (dim {dim} of shape {self.shape})")
        return Split.apply(self, sizes, dim % self.ndim, False)

    def unbind(self, dim=0):
        """torch.unbind: the slices along `dim`, each without that dim; for a sequence (T, B, I),
        x.unbind(0) gives x_1 .. x_T. One graph node for all of them (see Split)."""
        if self.ndim == 0:
            raise ValueError("unbind: a 0-d tensor has no dim to unbind")
        dim = dim % self.ndim
        return Split.apply(self, [1] * self.shape[dim], dim, True)

    def chunk(self, chunks, dim=0):
        n = self.shape[dim]
        return self.split(-(-n // chunks), dim)

    def pad(self, pad, value=0.0):
        return pad_(self, pad, value)


# ---------------------------------------------------------------- split / unbind: one node, many outputs
class Split(autograd.Function):
    """x cut along `axis` into pieces of the given sizes (views, no copy; with squeeze, pieces
    of size 1 without that axis: unbind). One node with one output per piece: backward gets
    every piece's gradient (zeros for pieces that got none) and concatenates them ONCE.

    Why not x[t] for every t: each GetItem's backward fills a zero array the size of x to
    place its slice, and the engine adds the T arrays up, so a sequence of T steps costs
    O(T^2) memory traffic. Here it is O(T)."""

    @staticmethod
    def forward(ctx, a, sizes, axis, squeeze):
        ctx.axis, ctx.squeeze = axis, squeeze
        bounds, start = [], 0
        for n in sizes[:-1]:
            start += n
            bounds.append(start)
        pieces = ctx.xp.split(a, bounds, axis=axis)
        return tuple(p.squeeze(axis) for p in pieces) if squeeze else tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):
        xp = ctx.xp
        g = xp.stack(grads, axis=ctx.axis) if ctx.squeeze else xp.concatenate(grads, axis=ctx.axis)
        return g, None, None, None


# ---------------------------------------------------------------- helpers
def _scalar(o):
    """NumPy scalars act like Python numbers (they do not promote float32 to float64)."""
    if isinstance(o, np.generic):
        return o.item()
    return o


def _axis(axis, dim, ndim):
    a = dim if dim is not None else axis
    if a is None:
        return None
    if isinstance(a, (list, tuple)):
        return tuple(sorted(int(x) % ndim for x in a)) if ndim else ()
    return int(a) % ndim if ndim else 0


def _kd(keepdims, keepdim):
    return bool(keepdim) if keepdim is not None else bool(keepdims)


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _index(idx, device):
    """Tensors inside an index become backend arrays; lists become integer arrays."""
    def conv(i):
        if isinstance(i, Tensor):
            return i.data
        if isinstance(i, list):
            return backend.xp(device).asarray(i)
        return i
    return tuple(conv(i) for i in idx) if isinstance(idx, tuple) else conv(idx)


def _argx(t, name, axis, keepdims):
    xp = backend.xp(t.device)
    out = getattr(xp, name)(t.data, axis=axis, keepdims=keepdims)
    return Tensor._wrap(xp.asarray(out, dtype=int64), t.device)


def where(condition, x, y):
    """Elementwise `x if condition else y`; the condition gets no gradient. A condition that
    is not a Tensor (bool, list, array) is put on the device of x / y: CuPy's where wants a
    CuPy array there, and a Tensor condition decides the device when x and y are numbers."""
    if not isinstance(condition, Tensor):
        device = next((t.device for t in (x, y) if isinstance(t, Tensor)), None)
        condition = Tensor(condition, device=device)
    return ops.Where.apply(condition, _scalar(x), _scalar(y))


def pad_(x, pad, value=0.0):
    """torch.nn.functional.pad, constant mode: `pad` lists (before, after) pairs from the LAST dim backwards."""
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {pad} must hold (before, after) pairs for at most {x.ndim} dims")
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    if any(a < 0 or b < 0 for a, b in widths):
        raise ValueError(f"pad: negative padding {pad} is not supported")
    return ops.Pad.apply(x, tuple(widths), value)


from . import ops  # noqa: E402  (ops subclass Function, which needs Tensor defined first)
