"""Tensor: a backend array, the node that made it, and PyTorch-shaped methods.

Every differentiable method is a thin call into `ops` (one `Function` per op).
"""
import collections
import weakref

import numpy as np

from . import backend
from .autograd import AutogradError, const as _const, new_counter, run_backward
from . import autograd

float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int32, int64, bool_ = np.dtype("int32"), np.dtype("int64"), np.dtype("bool")
_DEFAULT_FLOAT = float32   # the dtype of Python floats and float factories: set_default_dtype


def get_default_dtype():
    """torch.get_default_dtype: the dtype Python floats and the float factories (zeros, randn,
    arange with a float, ...) give; float32 unless set_default_dtype changed it."""
    return _DEFAULT_FLOAT


def set_default_dtype(d):
    """torch.set_default_dtype: float32 or float64 (tg.float32 / tg.float64, or NumPy's
    np.float32 / np.float64). torch also takes float16 and bfloat16; here the random
    generators draw float32 and float64 only, so other dtypes raise a TypeError."""
    global _DEFAULT_FLOAT
    ok = isinstance(d, np.dtype) or isinstance(d, type) and issubclass(d, np.generic)
    if not ok or np.dtype(d) not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported as the default "
                        f"dtype, got {d!r}")
    _DEFAULT_FLOAT = np.dtype(d)


_LEGACY_NAMES = {np.dtype(k): v for k, v in [
    ("float32", "FloatTensor"), ("float64", "DoubleTensor"), ("float16", "HalfTensor"),
    ("int64", "LongTensor"), ("int32", "IntTensor"), ("int16", "ShortTensor"),
    ("int8", "CharTensor"), ("uint8", "ByteTensor"), ("bool", "BoolTensor")]}


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

    Tensor(data, requires_grad=False, dtype=None, device=None). Python floats become the
    default dtype (float32 unless set_default_dtype changed it), ints int64; a NumPy or CuPy
    array keeps its dtype and is shared, not copied (tg.tensor copies). `t.array` is that
    backend array; `t.data` is torch's data: a Tensor over it, outside the graph.
    """
    __slots__ = ("array", "grad", "requires_grad", "device", "_ctx", "_out", "_vc", "_hooks", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        dtype = _as_dtype(dtype)
        if isinstance(data, Tensor):
            data = data.array
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
        self.array = arr
        self.device = device
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._vc = None
        self._out = 0      # which output of _ctx this is (Functions may have several)

    @staticmethod
    def _wrap(arr, device):
        """A tensor around an existing backend array, without checks (internal fast path)."""
        t = Tensor.__new__(Tensor)
        t.array, t.device, t.grad, t.requires_grad, t._ctx, t._out, t._vc = arr, device, None, False, None, 0, None
        return t

    # ------------------------------------------------------------ data
    # `array` is the backend array itself (numpy.ndarray or cupy.ndarray), shared, outside the
    # graph: the accessor for code that works on raw arrays. `data` is torch's: a Tensor over the
    # same memory that autograd does not see (no graph, its own version counter), so
    # `p.data.add_(p.grad, alpha=-lr)` updates p without a version bump or a recorded op.
    @property
    def data(self):
        return Tensor._wrap(self.array, self.device)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data: must be set to a Tensor, got {type(value).__name__}")
        if self.requires_grad and value.dtype.kind != "f":
            raise RuntimeError(f"data: a tensor that requires grad must hold floating point data, "
                               f"got dtype {value.dtype}")
        self.array, self.device = value.array, value.device

    # ------------------------------------------------------------ version counter
    # One counter per storage, shared by the views of it (basic indexing, reshape, permute,
    # detach, split pieces): a one-element list, made on first need. Every in-place op bumps
    # it; backward compares it with the value seen when forward saved the array.
    def _counter(self):
        if self._vc is None:
            self._vc = new_counter()
        return self._vc

    @property
    def _version(self):
        return int(self._vc[0]) if self._vc is not None else 0

    @_version.setter
    def _version(self, value):
        self._counter()[0] = value

    # ------------------------------------------------------------ attributes
    shape = property(lambda self: tuple(self.array.shape))
    ndim = property(lambda self: self.array.ndim)
    dtype = property(lambda self: self.array.dtype)
    is_leaf = property(lambda self: self._ctx is None)
    grad_fn = property(lambda self: self._ctx)
    T = property(lambda self: self.permute(*reversed(range(self.ndim))))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[_dim(dim, self.ndim, "size")]

    def numel(self):
        return int(self.array.size)

    def ndimension(self):
        return self.ndim

    def dim(self):
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

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
        if self.dtype not in (_DEFAULT_FLOAT, int64, bool_):
            extra += f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------ conversion
    def numpy(self):
        """A NumPy array (copied from the GPU if needed); works on tensors that require grad."""
        return backend.to_numpy(self.array)

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return backend.to_numpy(self.array.reshape(-1)[:1])[0].item()  # through backend: GPU copies are counted

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """An integer one-element tensor indexes like an int (`letters[topi]`), as in torch."""
        if self.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, "
                            f"got dtype {self.dtype} shape {self.shape}")
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
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

    def type(self, dtype=None):
        """As torch: with no argument the legacy type name ('torch.FloatTensor'); given a dtype,
        a legacy class (tg.LongTensor) or its name ('torch.LongTensor'), a cast to it."""
        if dtype is None:
            return "torch." + _LEGACY_NAMES.get(self.dtype, str(self.dtype))
        if callable(dtype) and not isinstance(dtype, type) and hasattr(dtype, "dtype"):
            dtype = dtype.dtype     # a legacy constructor carries its dtype
        elif isinstance(dtype, str) and dtype.startswith("torch."):
            by_name = {v: k for k, v in _LEGACY_NAMES.items()}
            if dtype[6:] not in by_name:
                raise TypeError(f"type: unknown tensor type {dtype!r}; known: "
                                + ", ".join("torch." + n for n in by_name))
            dtype = by_name[dtype[6:]]
        return self.to(dtype=dtype)

    def equal(self, other):
        from .functions import equal   # functions builds on this module
        return equal(self, other)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        from .functions import allclose
        return allclose(self, other, rtol, atol, equal_nan)

    # ------------------------------------------------------------ autograd
    def detach(self):
        """The same data, cut from the graph (this is how truncated BPTT stops); a view, as in torch:
        an in-place change of it is an in-place change of self."""
        t = Tensor._wrap(self.array, self.device)
        t._vc = self._counter()
        return t

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

    def register_post_accumulate_grad_hook(self, hook):
        """Call hook(self) after each backward has accumulated this leaf's whole gradient
        into .grad. Returns a handle whose remove() unregisters it."""
        return autograd.register_post_accumulate_grad_hook(self, hook)

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
        d = self.array
        if d.size > 1 and any(st == 0 and n > 1 for st, n in zip(d.strides, d.shape)):
            raise RuntimeError(f"{name}: in-place change of an expanded tensor of shape {self.shape}: "
                               "more than one element refers to a single memory location")
        self._counter()[0] += 1

    def _raw(self, v):
        """A Tensor or array operand as an array on this tensor's device (CuPy refuses NumPy
        operands, and `cupy_array[...] = numpy_array` raises); numbers pass through."""
        v = v.array if isinstance(v, Tensor) else v
        return backend.to_device(v, self.device) if backend.is_array(v) else v

    def _assign(self, basic, adv, value, name, idx=Ellipsis):
        """self[basic][adv] = value in place (adv None: self[basic] = value). When value needs a
        gradient (grad mode on), the write is recorded as a SetItem node and self joins the
        graph, as torch does for `outputs[t] = step` into a zeros buffer; repeated writes chain
        their nodes."""
        value_grad = isinstance(value, Tensor) and value.requires_grad
        if not (autograd._GRAD_ENABLED and (value_grad or self.requires_grad)):
            self._inplace(name)
            target = self.array[basic]
            try:
                if adv is None:
                    target[...] = self._raw(value)
                else:
                    target[adv] = self._raw(value)
            except (ValueError, IndexError, TypeError) as e:
                raise type(e)(f"{name}: cannot assign {_describe(value)} to index {idx!r} of a tensor "
                              f"of shape {self.shape}: {e}") from None
            return self
        if self.requires_grad and (self._ctx is None or self._ctx.fn is not ops.SetItem):
            self._inplace(name)   # a leaf, or an op's output it may have saved: refused
        if value_grad and self.array.base is not None:   # the graph would attach to this view, not its base
            raise AutogradError(f"{name}: writing a tensor that requires grad into a view (shape {self.shape}) "
                                "would lose its gradient; index the base tensor in one step, e.g. buf[i, j] = v")
        if value_grad and value.device != self.device:
            raise RuntimeError(f"{name}: the value is on {value.device}, the tensor on {self.device}")
        # writes into self.array; the node's parents are self's old node and the value's
        out = ops.SetItem.apply(self, value if value_grad else self._raw(value), basic, adv)
        self._version += 1   # ops that saved the old values must not run backward on the new ones
        self._ctx, self.requires_grad = out._ctx, True
        return self

    def __setitem__(self, idx, value):
        """x[idx] = value, with torch's indexing rules (see __getitem__); writes through views."""
        basic, adv, _ = _parse_index(idx, self, "__setitem__")
        return self._assign(basic, adv, value, "__setitem__", idx)

    def zero_(self):
        self._inplace("zero_")
        self.array[...] = 0
        return self

    def fill_(self, value):
        if isinstance(value, Tensor) and value.numel() != 1:
            raise ValueError(f"fill_: the value must be a number or a one-element tensor, got shape {value.shape}")
        return self._assign((Ellipsis,), None, value.reshape(()) if isinstance(value, Tensor) else value, "fill_")

    def copy_(self, src):
        return self._assign((Ellipsis,), None, src, "copy_")

    def _no_grad_operand(self, other, name):
        """In-place arithmetic is not recorded in the graph: refuse an operand that needs a
        gradient rather than drop it silently."""
        if autograd._GRAD_ENABLED and isinstance(other, Tensor) and other.requires_grad:
            raise AutogradError(f"{name}: the operand requires grad, but in-place arithmetic does not record "
                                f"gradients; use the out-of-place form (x = x + y) or no_grad()")

    def add_(self, other, alpha=1):
        self._no_grad_operand(other, "add_")
        self._inplace("add_")
        self.array += alpha * self._raw(other) if alpha != 1 else self._raw(other)
        return self

    def sub_(self, other, alpha=1):
        return self.add_(other, -alpha)

    def mul_(self, other):
        self._no_grad_operand(other, "mul_")
        self._inplace("mul_")
        self.array *= self._raw(other)
        return self

    def div_(self, other):
        self._no_grad_operand(other, "div_")
        self._inplace("div_")
        self.array /= self._raw(other)
        return self

    # ------------------------------------------------------------ arithmetic
    # (const=True: a Python number may become a cached 0-d array, see autograd.const)
    def __add__(self, o): return ops.Add.apply(*_pair(self, o, const=True))
    def __radd__(self, o): return ops.Add.apply(*_pair(o, self, const=True))
    def __sub__(self, o): return ops.Sub.apply(*_pair(self, o, sub=True, const=True))
    def __rsub__(self, o): return ops.Sub.apply(*_pair(o, self, sub=True, const=True))
    def __mul__(self, o): return ops.Mul.apply(*_pair(self, o, const=True))
    def __rmul__(self, o): return ops.Mul.apply(*_pair(o, self, const=True))
    def __truediv__(self, o): return ops.Div.apply(*_pair(self, o, true_div=True, const=True))
    def __rtruediv__(self, o): return ops.Div.apply(*_pair(o, self, true_div=True, const=True))
    def __neg__(self): return ops.Neg.apply(self)
    def __pos__(self): return self
    def __pow__(self, o): return ops.Pow.apply(*_pair(self, o))
    def __rpow__(self, o): return ops.Pow.apply(*_pair(o, self))
    def __matmul__(self, o): return ops.MatMul.apply(self, o)
    def __rmatmul__(self, o): return ops.MatMul.apply(o, self)
    def __abs__(self): return ops.Abs.apply(self)

    add, sub, mul, div, pow, matmul = __add__, __sub__, __mul__, __truediv__, __pow__, __matmul__
    neg, abs = __neg__, __abs__

    # comparisons: boolean tensors, no gradient
    def _cmp(self, o, op):
        return Tensor._wrap(op(self.array, self._raw(_scalar(o))), self.device)

    def __eq__(self, o): return self._cmp(o, lambda a, b: a == b)
    def __ne__(self, o): return self._cmp(o, lambda a, b: a != b)
    def __lt__(self, o): return self._cmp(o, lambda a, b: a < b)
    def __le__(self, o): return self._cmp(o, lambda a, b: a <= b)
    def __gt__(self, o): return self._cmp(o, lambda a, b: a > b)
    def __ge__(self, o): return self._cmp(o, lambda a, b: a >= b)
    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # bitwise ops on bool and integer tensors, no gradient (as torch)
    def __and__(self, o): return self._cmp(o, lambda a, b: a & b)
    def __or__(self, o): return self._cmp(o, lambda a, b: a | b)
    def __xor__(self, o): return self._cmp(o, lambda a, b: a ^ b)
    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        if self.dtype.kind not in "biu":
            raise TypeError(f"~: bitwise not is only for bool and integer tensors, got dtype {self.dtype}")
        return Tensor._wrap(~self.array, self.device)

    # logical ops: any dtype, nonzero is True; boolean results, no gradient
    def logical_and(self, o): return self._cmp(o, lambda a, b: (a != 0) & (b != 0))
    def logical_or(self, o): return self._cmp(o, lambda a, b: (a != 0) | (b != 0))
    def logical_xor(self, o): return self._cmp(o, lambda a, b: (a != 0) ^ (b != 0))
    def logical_not(self): return Tensor._wrap(self.array == 0, self.device)

    # ------------------------------------------------------------ elementwise
    # these give floats: an integer or bool input is first cast to float32, as torch does
    def exp(self): return ops.Exp.apply(self if self.array.dtype.kind == "f" else _floating(self))
    def log(self): return ops.Log.apply(self if self.array.dtype.kind == "f" else _floating(self))
    def sqrt(self): return ops.Sqrt.apply(self if self.array.dtype.kind == "f" else _floating(self))
    def tanh(self): return ops.Tanh.apply(self if self.array.dtype.kind == "f" else _floating(self))
    def sigmoid(self): return ops.Sigmoid.apply(self if self.array.dtype.kind == "f" else _floating(self))
    def relu(self): return ops.ReLU.apply(self)
    def leaky_relu(self, negative_slope=0.01): return ops.LeakyReLU.apply(self, negative_slope)
    def maximum(self, o): return ops.Maximum.apply(*_pair(self, o))
    def minimum(self, o): return ops.Minimum.apply(*_pair(self, o))

    def clip(self, min=None, max=None):
        return ops.Clip.apply(self, min, max)

    clamp = clip

    def where(self, condition, other):
        """torch.where(condition, self, other)."""
        return where(condition, self, other)

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.Sum.apply(self, _axis(axis, dim, self.ndim, "sum"), _kd(keepdims, keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.Mean.apply(_float_only(self, "mean"), _axis(axis, dim, self.ndim, "mean"), _kd(keepdims, keepdim))

    def var(self, axis=None, keepdims=False, *, dim=None, keepdim=None, correction=1, unbiased=None):
        """Variance; like torch, unbiased (correction=1) by default."""
        if unbiased is not None:
            correction = 1 if unbiased else 0
        return ops.Var.apply(_float_only(self, "var"), _axis(axis, dim, self.ndim, "var"), _kd(keepdims, keepdim), correction)

    def std(self, axis=None, keepdims=False, *, dim=None, keepdim=None, correction=1, unbiased=None):
        """sqrt(var); its gradient is 0 where the std is 0, as in torch."""
        if unbiased is not None:
            correction = 1 if unbiased else 0
        return ops.Std.apply(_float_only(self, "std"), _axis(axis, dim, self.ndim, "std"), _kd(keepdims, keepdim), correction)

    def amax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Maximum values (not indices; max(dim) gives both). Gradient: split evenly between
        tied maxima, like torch.amax."""
        return ops.Max.apply(self, _axis(axis, dim, self.ndim, "amax"), _kd(keepdims, keepdim))

    def amin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Minimum values; ties share the gradient evenly, as in amax."""
        return ops.Min.apply(self, _axis(axis, dim, self.ndim, "amin"), _kd(keepdims, keepdim))

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _argx(self, "argmax", _axis(axis, dim, self.ndim, "argmax"), _kd(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _argx(self, "argmin", _axis(axis, dim, self.ndim, "argmin"), _kd(keepdims, keepdim))

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return ops.LogSumExp.apply(_floating(self), _axis(axis, dim, self.ndim, "logsumexp"), _kd(keepdims, keepdim))

    def softmax(self, axis=-1, *, dim=None):
        return ops.Softmax.apply(_float_only(self, "softmax"), _axis(axis, dim, self.ndim, "softmax"))

    def log_softmax(self, axis=-1, *, dim=None):
        return ops.LogSoftmax.apply(_float_only(self, "log_softmax"), _axis(axis, dim, self.ndim, "log_softmax"))

    # ------------------------------------------------------------ shapes
    def reshape(self, *shape):
        shape = _shape_args(shape)
        if shape == self.array.shape:
            return self
        return ops.Reshape.apply(self, shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        n = self.ndim
        s, e = _dim(start_dim, n, "flatten"), _dim(end_dim, n, "flatten")
        if s > e:
            raise RuntimeError(f"flatten: start_dim {start_dim} cannot come after end_dim {end_dim} "
                               f"(shape {self.shape})")
        if n == 0:
            return self.reshape(1)
        return self.reshape(self.shape[:s] + (_prod(self.shape[s:e + 1]),) + self.shape[e + 1:])

    def permute(self, *dims):
        dims = _shape_args(dims)
        if len(dims) != self.ndim:
            raise RuntimeError(f"permute: {len(dims)} dims {dims} given for a tensor of shape {self.shape}; "
                               f"expected a permutation of its {self.ndim} dims")
        dims = tuple(_dim(d, self.ndim, "permute") for d in dims) if self.ndim else ()
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"permute: repeated dim in {dims} (shape {self.shape})")
        return ops.Permute.apply(self, dims)

    def transpose(self, dim0=-2, dim1=-1):
        """Swap two dims (torch.transpose)."""
        d0, d1 = _dim(dim0, self.ndim, "transpose"), _dim(dim1, self.ndim, "transpose")
        if self.ndim == 0:
            return self
        dims = list(range(self.ndim))
        dims[d0], dims[d1] = dims[d1], dims[d0]
        return ops.Permute.apply(self, tuple(dims))

    def swapaxes(self, dim0, dim1):
        return self.transpose(dim0, dim1)

    def expand(self, *shape):
        """Broadcast to `shape` (-1 keeps a dim) without copying."""
        shape = _shape_args(shape)
        lead = len(shape) - self.ndim
        if lead < 0 or any(n == -1 for n in shape[:lead]) or any(n < -1 for n in shape):
            raise RuntimeError(f"expand: cannot expand a tensor of shape {self.shape} to {shape}: it needs "
                               "at least as many dims, sizes >= 0, and -1 only for existing dims")
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
        return ops.Expand.apply(self, shape)

    def broadcast_to(self, shape):
        return self.expand(*shape)

    def squeeze(self, dim=None):
        if dim is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            dims = [_dim(d, self.ndim, "squeeze") for d in ((dim,) if _is_int(dim) else dim)]
            if len(set(dims)) != len(dims):
                raise RuntimeError(f"squeeze: dim {dim} names a dim more than once")
            shape = tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim):
        dim = _dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def __getitem__(self, idx):
        """Indexing with torch's rules: ints, slices, None and Ellipsis give a view (0-d too);
        integer / boolean arrays, lists and tensors index "advanced", as in NumPy, but AFTER the
        ints: x[0, :, [0, 1]] on (2, 3, 4) is x[0][:, [0, 1]], shape (3, 2), as in torch."""
        basic, adv, tensors = _parse_index(idx, self, "__getitem__")
        out = ops.GetItem.apply(self, basic, adv)
        autograd.add_saved_versions(out._ctx, tensors)  # backward reads the index tensors' values
        return out

    def split(self, split_size_or_sections, dim=0):
        """torch.split: pieces of size split_size (the last may be smaller) or of the listed sizes.
        The pieces are views and share one graph node (see Split)."""
        if self.ndim == 0:
            raise RuntimeError("split: expected at least a 1-dimensional tensor, got a 0-d one")
        dim = _dim(dim, self.ndim, "split")
        n = self.shape[dim]
        if _is_int(split_size_or_sections):
            size = int(split_size_or_sections)
            if size < 0 or (size == 0 and n > 0):
                raise ValueError(f"split: split_size must be positive (0 only for an empty dim), got {size} "
                                   f"for dim {dim} of shape {self.shape}")
            sizes = _piece_sizes(n, size) if n else [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise ValueError(f"split: sizes {sizes} do not add up to {n} (dim {dim} of shape {self.shape})")
        return Split.apply(self, sizes, dim, False)

    def unbind(self, dim=0):
        """torch.unbind: the slices along `dim`, each without that dim; for a sequence (T, B, I),
        x.unbind(0) gives x_1 .. x_T. One graph node for all of them (see Split)."""
        if self.ndim == 0:
            raise IndexError("unbind: Dimension specified as 0 but tensor has no dimensions")
        dim = _dim(dim, self.ndim, "unbind")
        if self.shape[dim] == 0:
            return ()
        return Split.apply(self, [1] * self.shape[dim], dim, True)

    def chunk(self, chunks, dim=0):
        """torch.chunk: at most `chunks` pieces of equal size (the last may be smaller)."""
        if not _is_int(chunks) or chunks <= 0:
            raise RuntimeError(f"chunk: expected chunks to be a positive int, got {chunks!r}")
        if self.ndim == 0:
            raise RuntimeError("chunk: expected at least a 1-dimensional tensor, got a 0-d one")
        dim = _dim(dim, self.ndim, "chunk")
        n = self.array.shape[dim]
        if n == 0:   # torch: `chunks` empty pieces
            return Split.apply(self, [0] * int(chunks), dim, False)
        # as split(size, dim), without checking again
        return Split.apply(self, _piece_sizes(n, -(-n // chunks)), dim, False)

    # ------------------------------------------------------------ everyday PyTorch API
    # new_* factories: same dtype and device as self unless told otherwise
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(lambda xp, s, dt: xp.zeros(s, dtype=dt), size, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(lambda xp, s, dt: xp.ones(s, dtype=dt), size, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return self._new(lambda xp, s, dt: xp.full(s, fill_value, dtype=dt), (size,), dtype, device,
                         requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A new tensor holding a copy of data (torch copies too), by default of self's dtype and device."""
        data = data.array if isinstance(data, Tensor) else data
        data = data.copy() if backend.is_array(data) else _from_python(data)
        return Tensor(data, requires_grad=requires_grad, dtype=self.dtype if dtype is None else dtype,
                      device=self.device if device is None else device)

    def _new(self, fill, size, dtype, device, requires_grad):
        device = self.device if device is None else backend.normalize_device(device)
        arr = fill(backend.xp(device), _shape_args(size), self.dtype if dtype is None else np.dtype(dtype))
        return Tensor(arr, requires_grad=requires_grad, device=device)

    # views and shape helpers
    def narrow(self, dim, start, length):
        dim = _dim(dim, self.ndim, "narrow")
        n = self.shape[dim]
        start = start + n if start < 0 else start
        if not (0 <= start and length >= 0 and start + length <= n):
            raise IndexError(f"narrow: start {start} and length {length} are out of range for dim {dim} "
                             f"of size {n} (shape {self.shape})")
        return self[(slice(None),) * dim + (slice(start, start + length),)]

    def view_as(self, other): return self.reshape(other.shape)
    def reshape_as(self, other): return self.reshape(other.shape)
    def expand_as(self, other): return self.expand(*other.shape)
    def type_as(self, other): return self.to(dtype=other.dtype)

    def t(self):
        """Transpose of a matrix (a vector or a scalar is returned as is), as torch.t."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with <= 2 dims, got shape {self.shape}; use transpose")
        return self.transpose(0, 1) if self.ndim == 2 else self

    mT = property(lambda self: self.transpose(-2, -1))

    def contiguous(self):
        return self if self.is_contiguous() else ops.Clone.apply(self)

    def clone(self):
        return ops.Clone.apply(self)

    def is_contiguous(self):
        return bool(self.array.flags.c_contiguous)

    def stride(self, dim=None):
        """Strides in elements (torch counts elements, NumPy bytes)."""
        s = tuple(b // self.array.itemsize for b in self.array.strides)
        return s if dim is None else s[dim]

    def element_size(self): return self.array.itemsize
    nbytes = property(lambda self: self.array.nbytes)
    itemsize = property(lambda self: self.array.itemsize)
    is_cuda = property(lambda self: self.device != "cpu")

    def repeat(self, *sizes):
        """Tile the tensor sizes[i] times along dim i (torch.Tensor.repeat, numpy.tile)."""
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor with {self.ndim} dims "
                             f"(shape {self.shape}); give at least one per dim")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        x = self.reshape(shape)
        inter = tuple(v for n in shape for v in (1, n))     # (1, s0, 1, s1, ...)
        big = tuple(v for r, n in zip(sizes, shape) for v in (r, n))
        return x.reshape(inter).expand(*big).reshape(tuple(r * n for r, n in zip(sizes, shape)))

    def unfold(self, dimension, size, step):
        """Every window of `size` along `dimension`, `step` apart, as a new last dim."""
        dim = _dim(dimension, self.ndim, "unfold")
        n = self.shape[dim] if self.ndim else 1
        if size < 0 or size > n or step <= 0:
            raise ValueError(f"unfold: size {size} and step {step} do not fit dim {dim} of size {n} "
                             f"(shape {self.shape}); need 0 <= size <= {n} and step > 0")
        xp = backend.xp(self.device)
        starts = xp.arange(0, n - size + 1, step)
        idx = starts[:, None] + xp.arange(size)[None, :]     # (windows, size)
        out = self[(slice(None),) * dim + (idx,)]             # (..., windows, size, ...)
        return out.permute(*range(dim + 1), *range(dim + 2, out.ndim), dim + 1)

    def squeeze_(self, dim=None): return self._reshape_(self.squeeze(dim).shape, "squeeze_")
    def unsqueeze_(self, dim): return self._reshape_(self.unsqueeze(dim).shape, "unsqueeze_")

    def transpose_(self, dim0, dim1):
        self._inplace("transpose_")
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        self.array = self.array.transpose(dims)
        return self

    def t_(self):
        """In-place t(): a matrix becomes its transpose (a vector or a scalar stays as it is)."""
        if self.ndim > 2:
            raise ValueError(f"t_: expects a tensor with <= 2 dims, got shape {self.shape}; use transpose_")
        self._inplace("t_")
        if self.ndim == 2:
            self.array = self.array.T
        return self

    def _reshape_(self, shape, name):
        self._inplace(name)
        self.array = self.array.reshape(shape)
        return self

    # casts
    def int(self): return self.to(dtype=int32)
    def bool(self): return self.to(dtype=bool_)
    def half(self): return self.to(dtype=float16)
    def short(self): return self.to(dtype=np.dtype("int16"))
    def byte(self): return self.to(dtype=np.dtype("uint8"))

    # elementwise
    def sin(self): return ops.Sin.apply(self)
    def cos(self): return ops.Cos.apply(self)
    def rsqrt(self): return ops.Rsqrt.apply(self)
    def log1p(self): return ops.Log1p.apply(self)
    def expm1(self): return ops.Expm1.apply(self)
    def square(self): return self * self
    def sign(self): return ops.Step.apply(self, lambda xp, a: xp.sign(a))
    def floor(self): return ops.Step.apply(self, lambda xp, a: xp.floor(a))
    def ceil(self): return ops.Step.apply(self, lambda xp, a: xp.ceil(a))
    def trunc(self): return ops.Step.apply(self, lambda xp, a: xp.trunc(a))

    def round(self, decimals=0):
        """Half to even, as torch.round (and numpy.round)."""
        return ops.Step.apply(self, lambda xp, a: xp.round(a, decimals))

    def __mod__(self, o): return ops.Remainder.apply(self, _scalar(o))
    def __rmod__(self, o): return ops.Remainder.apply(_scalar(o), self)
    def __floordiv__(self, o):   # floor(a / b): no gradient, as torch
        b = self._raw(_scalar(o))
        return ops.Step.apply(self, lambda xp, a: xp.floor_divide(a, b))
    remainder = __mod__

    def lerp(self, end, weight):
        return self + weight * (end - self)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        if self.dtype.kind != "f":
            return self.clone()
        info = np.finfo(self.dtype)
        return ops.NanToNum.apply(self, nan, info.max if posinf is None else posinf,
                                  info.min if neginf is None else neginf)

    def isnan(self): return Tensor._wrap(backend.xp(self.device).isnan(self.array), self.device)
    def isinf(self): return Tensor._wrap(backend.xp(self.device).isinf(self.array), self.device)
    def isfinite(self): return Tensor._wrap(backend.xp(self.device).isfinite(self.array), self.device)

    def masked_fill(self, mask, value):
        """self with `value` where the boolean `mask` (broadcast to self's shape) is true."""
        mask = self._mask(mask, "masked_fill")
        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
            return where(mask, value.to(dtype=self.dtype), self)
        return ops.MaskedFill.apply(self, mask, value)

    def masked_select(self, mask):
        """The entries where `mask` is true, as a 1-D tensor (mask and self broadcast together)."""
        if not isinstance(mask, Tensor) or mask.dtype != bool_:
            raise TypeError(f"masked_select: mask must be a bool tensor, got {type(mask).__name__}"
                            + (f" of dtype {mask.dtype}" if isinstance(mask, Tensor) else ""))
        shape = _broadcast(self.shape, mask.shape, "masked_select")
        m = backend.xp(self.device).broadcast_to(mask.array, shape)
        return self.expand(*shape)[m]

    def _mask(self, mask, name):
        mask = _operand(self, mask, bool_, "mask", "a bool", name)
        if _broadcast(self.shape, mask.shape, name) != self.shape:
            raise ValueError(f"{name}: mask of shape {mask.shape} does not broadcast to the tensor's shape "
                             f"{self.shape}")
        return mask.array

    # indexing along a dim
    def index_select(self, dim, index):
        dim = _dim(dim, self.ndim, "index_select")
        index = _long_index(self, index, "index_select")
        if index.ndim > 1:
            raise ValueError(f"index_select: index must be 0-d or 1-D, got shape {index.shape}")
        _check_range(index, self.shape[dim] if self.ndim else 1, "index_select", dim, self.shape)
        return self[(slice(None),) * dim + (index.array.reshape(-1),)]

    def gather(self, dim, index):
        """out[i][j] = self[i][index[i][j]] for dim=1 (and likewise for every dim)."""
        dim, index = _check_scatter(self, dim, index, "gather")
        return ops.Gather.apply(self, dim, index.array)

    def scatter(self, dim, index, src=None, *, value=None):
        """A copy of self with self[i][index[i][j]] = src[i][j] (dim=1); `src` a tensor or a number."""
        dim, index = _check_scatter(self, dim, index, "scatter")
        src = value if src is None else src
        if isinstance(src, Tensor):
            return ops.Scatter.apply(self, dim, index.array, _src_part(src, index, self, "scatter"))
        return ops.Scatter.apply(self, dim, index.array, src)

    def scatter_add(self, dim, index, src):
        dim, index = _check_scatter(self, dim, index, "scatter_add")
        if not isinstance(src, Tensor):
            raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
        return ops.ScatterAdd.apply(self, dim, index.array, _src_part(src, index, self, "scatter_add"))

    def select(self, dim, index):
        """The slice at `index` along `dim`, that dim removed (x.select(0, i) is x[i])."""
        dim = _dim(dim, self.ndim, "select")
        n = self.shape[dim]
        if not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise IndexError(f"select: index {index!r} is out of range for dim {dim} of size {n} "
                             f"(shape {self.shape})")
        return self[(slice(None),) * dim + (int(index),)]

    def repeat_interleave(self, repeats, dim=None):
        """Each element repeated `repeats` times (an int, or one count per element) along dim;
        dim=None works on the flattened tensor. The gradient sums over the copies."""
        x, dim = (self.reshape(-1), 0) if dim is None else (self, _dim(dim, self.ndim, "repeat_interleave"))
        n = x.shape[dim]
        counts = repeats.numpy() if isinstance(repeats, Tensor) else np.asarray(repeats)
        if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts.ndim == 1 and counts.shape[0] not in (1, n)):
            raise ValueError(f"repeat_interleave: repeats must be an int or {n} integer counts along dim {dim}, "
                             f"got {counts.dtype} shape {counts.shape}")
        if (counts < 0).any():
            raise ValueError("repeat_interleave: repeats must be non-negative")
        index = np.repeat(np.arange(n), np.broadcast_to(counts.reshape(-1), (n,)))
        return x.index_select(dim, Tensor(index, device=self.device))

    def nonzero(self, *, as_tuple=False):
        """Indices of the nonzero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim."""
        xp = backend.xp(self.device)
        found = tuple(i.astype(int64) for i in xp.nonzero(self.array.reshape(-1) if self.ndim == 0 else self.array))
        if as_tuple:
            return tuple(Tensor._wrap(i, self.device) for i in found)
        if self.ndim == 0:   # a scalar has no dims to index: (1, 0) when nonzero, else (0, 0)
            return Tensor._wrap(xp.zeros((found[0].shape[0], 0), int64), self.device)
        return Tensor._wrap(xp.stack(found, axis=1), self.device)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values, sorted (no gradient); optionally where each element went and counts."""
        if dim is not None:
            raise NotImplementedError("unique: only dim=None (over all elements) is supported")
        xp = backend.xp(self.device)
        values, inverse, counts = xp.unique(self.array, return_inverse=True, return_counts=True)
        out = [Tensor._wrap(values, self.device)]
        if return_inverse:
            out.append(Tensor._wrap(inverse.reshape(self.shape).astype(int64), self.device))
        if return_counts:
            out.append(Tensor._wrap(counts.astype(int64), self.device))
        return out[0] if len(out) == 1 else tuple(out)

    # in-place forms of the indexed writes: computed out of place without a graph, then
    # written into self (an operand that needs a gradient is refused, see _no_grad_operand)
    def _write_from(self, name, operand, compute):
        self._no_grad_operand(operand, name)
        with autograd.no_grad():
            result = compute()
        self._inplace(name)
        self.array[...] = result.array
        return self

    def scatter_(self, dim, index, src=None, *, value=None):
        return self._write_from("scatter_", src, lambda: self.scatter(dim, index, src, value=value))

    def scatter_add_(self, dim, index, src):
        return self._write_from("scatter_add_", src, lambda: self.scatter_add(dim, index, src))

    def index_fill_(self, dim, index, value):
        def compute():
            d = _dim(dim, self.ndim, "index_fill_")
            i = _long_index(self, index, "index_fill_")
            _check_range(i, self.shape[d] if self.ndim else 1, "index_fill_", d, self.shape)
            out = self.clone()
            out.array[(slice(None),) * d + (i.array.reshape(-1),)] = self._raw(value)
            return out
        return self._write_from("index_fill_", value, compute)

    def index_add_(self, dim, index, source, *, alpha=1):
        """self[..., index[j], ...] += alpha * source[..., j, ...] along dim (repeats add up)."""
        def compute():
            d = _dim(dim, self.ndim, "index_add_")
            i = _long_index(self, index, "index_add_")
            src = source if isinstance(source, Tensor) else Tensor(source, device=self.device)
            want = self.shape[:d] + (i.numel(),) + self.shape[d + 1:]
            if i.ndim > 1 or src.shape != want:
                raise ValueError(f"index_add_: source must have shape {want} for a 1-D index of "
                                 f"{i.numel()} along dim {d} of {self.shape}, got {src.shape}")
            _check_range(i, self.shape[d], "index_add_", d, self.shape)
            out = self.clone()
            part = src.array if alpha == 1 else src.array * alpha
            backend.scatter_add(backend.xp(self.device), out.array, (slice(None),) * d + (i.array.reshape(-1),),
                                part.astype(self.dtype, copy=False))
            return out
        return self._write_from("index_add_", source, compute)

    def detach_(self):
        """Cut this tensor from the graph in place: it becomes a leaf that does not require grad."""
        self._ctx, self.requires_grad = None, False
        return self

    # reductions and scans
    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """torch.max: x.max() the largest value (a 0-d tensor); x.max(dim) a (values, indices)
        namedtuple; x.max(other) the elementwise maximum. amax gives values only."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        dim = axis if dim is None else dim
        keepdim = bool(keepdims) if keepdims is not None else keepdim
        if dim is None:
            return self.amax()
        return _max_with_indices(self, dim, keepdim, "max")

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """torch.min: like max."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        dim = axis if dim is None else dim
        keepdim = bool(keepdims) if keepdims is not None else keepdim
        if dim is None:
            return self.amin()
        return _max_with_indices(self, dim, keepdim, "min")

    def median(self, dim=None, keepdim=False):
        """torch.median: x.median() is the lower median of all entries (NaN when one is NaN),
        its gradient shared evenly by the entries equal to it, as torch; x.median(dim) is a
        (values, indices) namedtuple, the lower median along dim (the first NaN where the
        slice holds one) and where it is, the gradient going to that entry."""
        if self.dtype == bool_:
            raise TypeError("median: not implemented for bool tensors (as torch)")
        if dim is None:
            if self.array.size == 0 and self.dtype.kind != "f":   # torch returns garbage there
                raise ValueError(f"median: an empty {self.dtype} tensor has no median (a float one gives NaN)")
            return ops.Median.apply(self)
        dim = _dim(dim, self.ndim, "median")
        if self.ndim and self.shape[dim] == 0:
            raise IndexError(f"median: Expected reduction dim {dim} to have non-zero size "
                             f"(shape {self.shape})")
        return values_indices["median"](*ops.MedianDim.apply(self, dim, bool(keepdim)))

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        x = self if dtype is None else self.to(dtype=dtype)
        if dim is not None and not isinstance(dim, (int, np.integer)):
            raise TypeError(f"prod: dim must be an int, got {dim!r}")
        return ops.Prod.apply(x, None if dim is None else _dim(dim, x.ndim, "prod"), bool(keepdim))

    def cumsum(self, dim, *, dtype=None):
        x = self if dtype is None else self.to(dtype=dtype)
        if x.dtype == bool_ or (dtype is None and x.dtype.kind in "iu"):
            x = x.to(dtype=int64)     # torch sums bools and small ints as int64
        if x.ndim == 0:
            return x.clone()
        return ops.CumSum.apply(x, _dim(dim, x.ndim, "cumsum"))

    def cumprod(self, dim, *, dtype=None):
        x = self if dtype is None else self.to(dtype=dtype)
        if x.dtype == bool_ or (dtype is None and x.dtype.kind in "iu"):
            x = x.to(dtype=int64)
        if x.ndim == 0:
            return x.clone()
        return ops.CumProd.apply(x, _dim(dim, x.ndim, "cumprod"))

    def all(self, dim=None, keepdim=False):
        return _logical(self, "all", dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return _logical(self, "any", dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim=False, *, dtype=None):
        """The p-norm over `dim` (all entries when None): p a number > 0, 'fro' (= 2) or inf."""
        x = self if dtype is None else self.to(dtype=dtype)
        if x.dtype.kind != "f":
            raise TypeError(f"norm: expected a floating point tensor, got dtype {x.dtype}")
        if p == "fro" or p is None:
            p = 2
        if isinstance(p, str) or not p > 0:
            raise ValueError(f"norm: p must be a positive number, 'fro' or inf, got {p!r}")
        axis = _axis(None, dim, x.ndim, "norm")
        if p == float("inf"):
            return x.abs().amax(axis, keepdim)
        return ops.Norm.apply(x, float(p), axis, bool(keepdim))

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The k largest (or smallest) entries along dim and their indices, largest first."""
        dim = _dim(dim, self.ndim, "topk")
        n = self.shape[dim] if self.ndim else 1
        if not 0 <= k <= n:
            raise ValueError(f"topk: k={k} is out of range for dim {dim} of size {n} (shape {self.shape})")
        return values_indices["topk"](*ops.Sort.apply(self, dim, k, largest))

    def sort(self, dim=-1, descending=False, *, stable=False):
        dim = _dim(dim, self.ndim, "sort")
        return values_indices["sort"](*ops.Sort.apply(self, dim, None, descending))

    def argsort(self, dim=-1, descending=False, *, stable=False):
        dim = _dim(dim, self.ndim, "argsort")
        return Tensor._wrap(ops.argsort(backend.xp(self.device), self.array, dim, descending), self.device)

    def flip(self, *dims):
        dims = _shape_args(dims)
        return ops.Flip.apply(self, tuple(_dim(d, self.ndim, "flip") for d in dims))

    def roll(self, shifts, dims=None):
        if dims is None:   # torch: roll the flattened tensor, then restore the shape
            return ops.Roll.apply(self.reshape(-1), shifts, None).reshape(self.shape)
        if isinstance(dims, (list, tuple)):
            dims = tuple(_dim(d, self.ndim, "roll") for d in dims)
            shifts = tuple(shifts)
        else:
            dims = _dim(dims, self.ndim, "roll")
        return ops.Roll.apply(self, shifts, dims)

    def tril(self, diagonal=0): return _triangle(self, True, diagonal, "tril")
    def triu(self, diagonal=0): return _triangle(self, False, diagonal, "triu")

    def diag(self, diagonal=0):
        if self.ndim not in (1, 2):
            raise ValueError(f"diag: expects a 1-D or 2-D tensor, got shape {self.shape}")
        return ops.Diag.apply(self, int(diagonal))

    # products
    def outer(self, other):
        if self.ndim != 1 or other.ndim != 1:
            raise ValueError(f"outer: expects two 1-D tensors, got shapes {self.shape} and {other.shape}")
        return self.reshape(-1, 1) * other.reshape(1, -1)

    def mm(self, other):
        _check_matmul("mm", 2, self, other)
        return self @ other

    def bmm(self, other):
        _check_matmul("bmm", 3, self, other)
        return self @ other

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """beta * self + alpha * (mat1 @ mat2), self broadcast to the product's shape."""
        _check_matmul("addmm", 2, mat1, mat2)
        return _scaled(self, beta) + _scaled(mat1 @ mat2, alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        _check_matmul("baddbmm", 3, batch1, batch2)
        return _scaled(self, beta) + _scaled(batch1 @ batch2, alpha)

    # in place (no gradient; see _inplace)
    def clamp_(self, min=None, max=None):
        self._inplace("clamp_")
        backend.xp(self.device).clip(self.array, min, max, out=self.array)
        return self

    clip_ = clamp_

    def masked_fill_(self, mask, value):
        m = self._mask(mask, "masked_fill_")
        self._inplace("masked_fill_")
        value = value.array if isinstance(value, Tensor) else value
        xp = backend.xp(self.device)
        self.array[...] = xp.where(m, xp.asarray(value, dtype=self.dtype), self.array)
        return self

    def abs_(self): return self._unary_("abs_", lambda xp, a: xp.abs(a))
    def exp_(self): return self._unary_("exp_", lambda xp, a: xp.exp(a))
    def tanh_(self): return self._unary_("tanh_", lambda xp, a: xp.tanh(a))
    def relu_(self): return self._unary_("relu_", lambda xp, a: xp.maximum(a, 0))
    def sigmoid_(self): return self._unary_("sigmoid_", lambda xp, a: ops.sigmoid(xp, a))
    def neg_(self): return self._unary_("neg_", lambda xp, a: -a)
    def sqrt_(self): return self._unary_("sqrt_", lambda xp, a: xp.sqrt(a))
    def log_(self): return self._unary_("log_", lambda xp, a: xp.log(a))

    def _unary_(self, name, fn):
        self._inplace(name)
        self.array[...] = fn(backend.xp(self.device), self.array)
        return self

    def normal_(self, mean=0.0, std=1.0):
        """Fill with normal samples from the generator manual_seed seeds."""
        self._inplace("normal_")
        self.array[...] = backend.randn(self.shape, _draw_dtype(self, "normal_"), self.device) * std + mean
        return self

    def uniform_(self, a=0.0, b=1.0):
        self._inplace("uniform_")
        self.array[...] = backend.uniform(a, b, self.shape, _draw_dtype(self, "uniform_"), self.device)
        return self

    def bernoulli_(self, p=0.5):
        self._inplace("bernoulli_")
        p = self._raw(p)
        self.array[...] = backend.rand(self.shape, _draw_dtype(self, "bernoulli_"), self.device) < p
        return self

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        from .factories import multinomial   # factories builds on this module
        return multinomial(self, num_samples, replacement, generator=generator)

    def bernoulli(self, p=None, *, generator=None):
        from .factories import bernoulli
        return bernoulli(self, p, generator=generator)

    # gradient hooks
    def register_hook(self, hook):
        """Call hook(grad) with this tensor's gradient during backward; a tensor it returns
        replaces the gradient. Returns a handle whose remove() takes the hook off."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        node = self._ctx
        if node is not None and node.n_out > 1:   # one output of several: hooks per output
            hooks = node.__dict__.setdefault("out_hooks", {}).setdefault(self._out, [])
        else:
            owner = node if node is not None else self
            hooks = getattr(owner, "_hooks", None)
            if hooks is None:
                hooks = owner._hooks = []
        hooks.append(hook)
        return _HookHandle(hooks, hook)

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
        # basic slicing (views), as xp.split does, without its overhead; the Ellipsis keeps
        # an unbound piece of a 1-D array a 0-d array (a view), not a NumPy scalar
        lead = (slice(None),) * axis
        pieces, start = [], 0
        for n in sizes:
            pieces.append(a[lead + ((start, ...) if squeeze else (slice(start, start + n),))])
            start += n
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):
        xp = ctx.xp
        g = xp.stack(grads, axis=ctx.axis) if ctx.squeeze else xp.concatenate(grads, axis=ctx.axis)
        return g, None, None, None

    @classmethod
    def apply(cls, x, sizes, axis, squeeze):
        if not sizes:   # no pieces (an empty list of sections)
            return ()
        pieces = super().apply(x, sizes, axis, squeeze)
        counter = x._counter()
        for t in pieces:   # views of x: one version counter
            t._vc = counter
        return pieces


# ---------------------------------------------------------------- helpers
def _piece_sizes(n, size):
    """split / chunk: pieces of `size` along a dim of n > 0 elements, the last one what is left."""
    full, rest = divmod(n, size)
    return [size] * full + [rest] if rest else [size] * full


def _scalar(o):
    """NumPy scalars act like Python numbers (they do not promote float32 to float64)."""
    if isinstance(o, np.generic):
        return o.item()
    return o


# ---------------------------------------------------------------- type promotion, as torch
def _promote(a, b):
    """torch.promote_types for the dtypes here: an int or bool meeting a float gives that float
    (int64 + float32 is float32, where NumPy says float64); otherwise NumPy's rule."""
    if a == b:
        return a
    if a.kind == "f" and b.kind != "f":
        return a
    if b.kind == "f" and a.kind != "f":
        return b
    return np.promote_types(a, b)


def _combine(higher, lower):
    """A lower-priority operand (a 0-d tensor, a Python number) changes the result only if it is
    of a higher category (bool < int < float), as in torch."""
    if higher is None or lower is None:
        return lower if higher is None else higher
    if higher.kind == "f":
        return higher
    if higher == bool_ or lower.kind == "f":
        return _promote(higher, lower)
    return higher


def _result_dtype(x, y):
    """torch.result_type(x, y): dimensioned tensors first, then 0-d ones, then Python numbers
    (bool, int64, float32). None when an operand is something else (a raw array)."""
    groups = [None, None, None]
    for v in (x, y):
        if isinstance(v, Tensor):
            k, dt = (0 if v.array.ndim else 1), v.array.dtype
        elif isinstance(v, bool):
            k, dt = 2, bool_
        elif isinstance(v, int):
            k, dt = 2, int64
        elif isinstance(v, float):
            k, dt = 2, _DEFAULT_FLOAT
        else:
            return None
        groups[k] = dt if groups[k] is None else _promote(groups[k], dt)
    return _combine(groups[0], _combine(groups[1], groups[2]))


def _pair(x, y, true_div=False, sub=False, const=False):
    """Both operands of a binary op in torch's result dtype (tensors are cast; Python numbers
    follow the array's dtype in NumPy). True division of integers gives float32; subtraction
    refuses bools, as torch. const=True (+ - * /): a Python number beside a NumPy float
    tensor comes back as a cached 0-d array of its dtype (see autograd.const)."""
    cx, cy = x.__class__, y.__class__   # the common cases first, kept fast: a float tensor with a
    if cx is Tensor and x.array.dtype.kind == "f":   # Python number or a tensor of its dtype
        if cy is Tensor and y.array.dtype == x.array.dtype:
            return x, y
        if cy is float or cy is int:
            return x, (_const(y, x.array) if const else y)
    elif cy is Tensor and (cx is float or cx is int) and y.array.dtype.kind == "f":
        return (_const(x, y.array) if const else x), y
    x, y = _scalar(x), _scalar(y)
    if sub and any(v.__class__ is bool or v.__class__ is Tensor and v.array.dtype == bool_ for v in (x, y)):
        raise TypeError("sub: subtraction with a bool tensor or number is not supported (as in torch); "
                        "to invert a mask use ~ or logical_not()")
    dt = _result_dtype(x, y)
    if dt is None:
        return x, y
    if true_div and dt.kind != "f":
        dt = _DEFAULT_FLOAT
    return (x.to(dtype=dt) if isinstance(x, Tensor) else x), (y.to(dtype=dt) if isinstance(y, Tensor) else y)


def _floating(t):
    return t if t.array.dtype.kind == "f" else t.to(dtype=_DEFAULT_FLOAT)


def _float_only(t, op):
    if t.array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got dtype {t.dtype} (as torch); "
                        "cast it first, e.g. x.float()")
    return t


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _dim(d, ndim, op):
    """`d` checked against a tensor of `ndim` dims and made non-negative, as torch does: it must
    lie in [-ndim, ndim - 1], and a 0-d tensor takes 0 and -1 (so this returns 0 for it)."""
    if not _is_int(d):
        raise TypeError(f"{op}: dim must be an int, got {d!r}")
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {d})")
    return int(d) % n


def _axis(axis, dim, ndim, op):
    """The dims a reduction runs over, for NumPy: None for all (also for every dim of a 0-d
    tensor, and for an empty list, as torch), an int, or a sorted tuple; each checked."""
    a = dim if dim is not None else axis
    if a is None:
        return None
    if isinstance(a, (list, tuple)):
        dims = [_dim(x, ndim, op) for x in a]
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}: dim {a} names a dim more than once")
        return tuple(sorted(dims)) if dims and ndim else None
    a = _dim(a, ndim, op)
    return a if ndim else None


def _kd(keepdims, keepdim):
    return bool(keepdim) if keepdim is not None else bool(keepdims)


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _describe(v):
    return f"a tensor of shape {v.shape} {v.dtype}" if isinstance(v, Tensor) else repr(v)[:40]


def _parse_index(idx, t, op):
    """Split an index into torch's two stages: `basic` (ints, slices, None; ends in Ellipsis so
    that NumPy returns a view, even a 0-d one) and `adv`, the integer arrays (a boolean mask
    becomes its nonzero() arrays) applied to that view, with slice(None) for the other dims;
    adv is None when there are none. An int selects in the basic stage, so it never counts as
    an advanced index (NumPy's rule differs when ints and arrays mix). Also returns the Tensors
    used in the index, whose values backward reads."""
    items = idx if isinstance(idx, tuple) else (idx,)
    xp = backend.xp(t.device)
    tensors, conv = [], []
    for i in items:
        source = i
        if isinstance(i, Tensor):
            i = i.array
        elif isinstance(i, (list, tuple)) or isinstance(i, np.ndarray) and t.device != "cpu":
            a = np.asarray(i)
            if a.size == 0 and a.dtype.kind == "f":   # [] : an empty integer index, as torch
                a = a.astype(int64)
            i = backend.to_device(a, t.device)
        if backend.is_array(i):
            if i.dtype.kind not in "iub":
                raise IndexError(f"{op}: tensors used as indices must be integer or bool, got {i.dtype}")
            if i.ndim == 0 and i.dtype.kind in "iu":   # a 0-d integer index is an int, as in torch
                i = int(i)
            elif isinstance(source, Tensor):   # backward will read its values
                tensors.append(source)
        elif _is_int(i):
            i = int(i)
        elif not (i is None or i is Ellipsis or isinstance(i, (slice, bool, np.bool_))):
            raise TypeError(f"{op}: an index must be an int, slice, None, Ellipsis, bool, list or "
                            f"integer / bool tensor, got {type(i).__name__}")
        conv.append(i)
    used = sum(i.ndim if backend.is_array(i) and i.dtype.kind == "b" else
               0 if (i is None or i is Ellipsis or isinstance(i, (bool, np.bool_))) else 1 for i in conv)
    n_ell = sum(1 for i in conv if i is Ellipsis)
    if n_ell > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    if used > t.ndim:
        raise IndexError(f"{op}: too many indices for a tensor of dimension {t.ndim} "
                         f"(shape {t.shape}, index {idx!r})")
    basic, adv, has_adv = [], [], False
    for k, i in enumerate(conv):
        if i is Ellipsis:
            basic += [slice(None)] * (t.ndim - used)
            adv += [slice(None)] * (t.ndim - used)
        elif isinstance(i, int) and not isinstance(i, bool):
            d = len([b for b in basic if b is not None])   # the dim it selects from
            if not -t.shape[d] <= i < t.shape[d]:
                raise IndexError(f"{op}: index {i} is out of range for dim {d} of size {t.shape[d]} "
                                 f"(shape {t.shape})")
            basic.append(i)
        elif i is None or isinstance(i, slice):
            if isinstance(i, slice) and i.step is not None and i.step <= 0:
                raise ValueError(f"{op}: slice step must be greater than zero, got {i.step} (as torch)")
            basic.append(i)
            adv.append(slice(None))
        elif isinstance(i, (bool, np.bool_)) or i.ndim == 0:   # x[True]: a new dim of size 1; False: 0
            basic.append(None)
            adv.append(xp.zeros(int(bool(i)), dtype=int64))
            has_adv = True
        elif i.dtype.kind == "b":
            d = len([b for b in basic if b is not None])
            if i.shape != t.shape[d:d + i.ndim]:
                raise IndexError(f"{op}: the boolean mask of shape {i.shape} does not match the shape "
                                 f"{t.shape[d:d + i.ndim]} of the dims it indexes (tensor shape {t.shape})")
            basic += [slice(None)] * i.ndim
            adv += list(i.nonzero())
            has_adv = True
        else:
            basic.append(slice(None))
            adv.append(i)
            has_adv = True
    return tuple(basic) + (Ellipsis,), (tuple(adv) if has_adv else None), tensors


def _argx(t, name, axis, keepdims):
    xp = backend.xp(t.device)
    out = getattr(xp, name)(t.array, axis=axis, keepdims=keepdims)
    return Tensor._wrap(xp.asarray(out, dtype=int64), t.device)


def where(condition, x, y):
    """Elementwise `x if condition else y`; the condition gets no gradient. A condition that
    is not a Tensor (bool, list, array) is put on the device of x / y: CuPy's where wants a
    CuPy array there, and a Tensor condition decides the device when x and y are numbers."""
    if not isinstance(condition, Tensor):
        device = next((t.device for t in (x, y) if isinstance(t, Tensor)), None)
        condition = Tensor(condition, device=device)
    if condition.dtype != bool_:
        raise TypeError(f"where: expected a bool condition, got dtype {condition.dtype}")
    return ops.Where.apply(condition, *_pair(x, y))


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



# ---------------------------------------------------------------- helpers of the everyday PyTorch API
values_indices = {name: collections.namedtuple(name, ["values", "indices"])
                  for name in ("max", "min", "topk", "sort", "median")}   # torch.return_types.*


def _broadcast(a, b, name):
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise ValueError(f"{name}: shapes {a} and {b} do not broadcast") from None


def _operand(t, x, dtype, what, kind, name):
    """x (a Tensor, array or list) as a Tensor of `dtype` on t's device, or the error naming the
    op: the checks a mask or an index argument shares."""
    if not isinstance(x, Tensor):
        x = Tensor(x, device=t.device)
    if x.dtype != dtype:
        raise TypeError(f"{name}: {what} must be {kind} tensor, got dtype {x.dtype}")
    if x.device != t.device:
        raise RuntimeError(f"{name}: {what} is on {x.device} but the tensor is on {t.device}")
    return x


def _long_index(t, index, name):
    return _operand(t, index, int64, "index", "an int64 (long)", name)


def _check_range(index, n, name, dim, shape):
    """Index values in [0, n) (on the GPU a deferred check: no wait for the device)."""
    if index.numel():
        xp, i = backend.xp(index.device), index.array
        lo, hi = i.min(), i.max()
        backend.check(xp, (lo < 0) | (hi >= n),
                      name + ": index {} is out of range for dim " + f"{dim} of size {n} (shape {shape})",
                      lambda: (xp.where(lo < 0, lo, hi),), error=IndexError)


def _check_scatter(t, dim, index, name):
    """gather / scatter rules: an int64 index with as many dims as the tensor, no bigger
    than it on the other dims, values in range along dim."""
    dim = _dim(dim, t.ndim, name)
    index = _long_index(t, index, name)
    if index.ndim != t.ndim:
        raise ValueError(f"{name}: index has {index.ndim} dims but the tensor has {t.ndim} "
                         f"(shapes {index.shape} and {t.shape})")
    if any(i > n for d, (i, n) in enumerate(zip(index.shape, t.shape)) if d != dim):
        raise ValueError(f"{name}: index of shape {index.shape} is larger than the tensor's shape {t.shape} "
                         f"outside dim {dim}")
    _check_range(index, t.shape[dim] if t.ndim else 1, name, dim, t.shape)
    return dim, index


def _src_part(src, index, t, name):
    """The part of `src` that scatter reads: its leading index.shape block."""
    if src.ndim != index.ndim or any(i > n for i, n in zip(index.shape, src.shape)):
        raise ValueError(f"{name}: src of shape {src.shape} is smaller than index {index.shape}")
    if src.dtype != t.dtype:
        raise TypeError(f"{name}: src has dtype {src.dtype} but the tensor has {t.dtype}")
    if src.shape == index.shape:
        return src
    return src[tuple(slice(0, n) for n in index.shape)]


def _max_with_indices(t, dim, keepdim, name):
    """(values, indices) of the largest / smallest entries along dim, one op with two outputs.
    The gradient goes to the entry the index names, as torch's max(dim) does (amax splits it
    between ties)."""
    dim = _dim(dim, t.ndim, name)
    if t.ndim and t.shape[dim] == 0:
        raise ValueError(f"{name}: cannot reduce dim {dim} of size 0 (shape {t.shape})")
    return values_indices[name](*ops.MaxDim.apply(t, dim, bool(keepdim), name == "max"))


def _logical(t, name, dim, keepdim):
    xp = backend.xp(t.device)
    axis = None if dim is None else _dim(dim, t.ndim, name)
    out = getattr(xp, name)(t.array, axis=axis, keepdims=bool(keepdim) and axis is not None)
    return Tensor._wrap(xp.asarray(out), t.device)


def _triangle(t, lower, k, name):
    if t.ndim < 2:
        raise ValueError(f"{name}: expects a tensor with at least 2 dims, got shape {t.shape}")
    return ops.Triangle.apply(t, lower, int(k))


def _check_matmul(name, nd, a, b):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        raise TypeError(f"{name}: expects tensors, got {type(a).__name__} and {type(b).__name__}")
    if a.ndim != nd or b.ndim != nd:
        raise ValueError(f"{name}: expects two {nd}-D tensors, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2] or (nd == 3 and a.shape[0] != b.shape[0]):
        raise ValueError(f"{name}: shapes {a.shape} and {b.shape} cannot be multiplied")
    if a.dtype != b.dtype:
        raise TypeError(f"{name}: expected both operands of one dtype, got {a.dtype} and {b.dtype}")


def _draw_dtype(t, name):
    """The dtype to draw random floats in for t: its own, or float32 for float16 (which the
    generators do not make)."""
    if t.dtype.kind != "f" and name != "bernoulli_":
        raise TypeError(f"{name}: expected a floating point tensor, got dtype {t.dtype}")
    return t.dtype if t.dtype in (float32, float64) else float32


def _scaled(t, c):
    return t if c == 1 else t * c


class _HookHandle:
    """What register_hook returns: remove() takes the hook off again."""
    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


from . import ops  # noqa: E402  (ops subclass Function, which needs Tensor defined first)
