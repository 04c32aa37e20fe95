"""Module, Parameter and containers, with PyTorch's names, registration by
attribute assignment and dotted state_dict keys (`convs.0.weight`)."""
from collections import OrderedDict

import numpy as np

from .. import backend
from ..tensor import Tensor


def check_size(name, what, value, minimum=0):
    """A layer's size argument as an int >= minimum, or one ValueError naming the layer:
    check_size("Linear", "in_features", -1) -> ValueError("Linear: in_features must be ...")."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        need = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name}: {what} must be {need}, got {value!r}")
    return int(value)


class Parameter(Tensor):
    """A tensor that a Module registers as learnable (requires_grad=True by default)."""
    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer. Assigning a Parameter, Module or buffer to an
    attribute registers it; `forward` defines the computation."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        for d in (self._parameters, self._modules, self._buffers):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):  # only called when normal lookup fails
        for d in ("_parameters", "_modules", "_buffers"):
            store = self.__dict__.get(d)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._modules, self._buffers):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register `param` (or None: a declared-but-absent parameter, like bias=False)."""
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name, tensor):
        """State saved in state_dict but not learned (e.g. running statistics)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def add_module(self, name, module):
        setattr(self, name, module)

    # ------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ traversal
    def named_modules(self, prefix=""):
        stack = [(prefix, self)]
        seen = set()
        while stack:   # iterative, in PyTorch's pre-order
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{n}" if name else n, c) for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        return (m for _, m in self.named_children())

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for n, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{n}" if mname else n), p

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self):
        for mname, m in self.named_modules():
            for n, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{n}" if mname else n), b

    def buffers(self):
        return (b for _, b in self.named_buffers())

    # ------------------------------------------------------------ modes
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, flag=True):
        for p in self.parameters():
            p.requires_grad = bool(flag)
        return self

    # ------------------------------------------------------------ device / dtype
    def to(self, device=None, dtype=None):
        """Move / cast every parameter and buffer in place (the Parameter objects are kept,
        so an optimizer built earlier still holds them). Returns the module."""
        if device is not None:
            device = backend.normalize_device(device)
        dtype = np.dtype(dtype) if dtype is not None else None
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is None:
                        continue
                    arr = t.data
                    if dtype is not None and arr.dtype.kind == "f":
                        arr = arr.astype(dtype)
                    if device is not None:
                        arr = backend.to_device(arr, device)
                        t.device = device
                    t.data = arr
                    if t.grad is not None:
                        t.grad = Tensor(t.grad.data, dtype=arr.dtype, device=t.device)
        return self

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    # ------------------------------------------------------------ state
    def state_dict(self):
        """name -> Tensor for every parameter and buffer, with PyTorch's dotted names."""
        sd = OrderedDict(self.named_parameters())
        sd.update(self.named_buffers())
        return sd

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (Tensors or NumPy / CuPy arrays) into the parameters, keeping each
        parameter's own dtype and device. Raises naming missing, unexpected and mis-shaped keys."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mis = []
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                if not (isinstance(v, (Tensor, np.generic)) or backend.is_array(v)):
                    raise TypeError(f"load_state_dict into {type(self).__name__}: '{k}' holds a "
                                    f"{type(v).__name__}, expected a Tensor or a NumPy / CuPy array")
                shape = tuple(v.shape)
                if shape != t.shape:
                    mis.append(f"{k}: checkpoint {shape} vs model {t.shape}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mis:
            problems.append("shape mismatch: " + "; ".join(mis))
        if problems:
            raise KeyError(f"load_state_dict into {type(self).__name__}: " + " | ".join(problems))
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                arr = v.data if isinstance(v, Tensor) else v
                arr = backend.to_device(backend.to_numpy(arr) if t.device == "cpu" else arr, t.device)
                t.data = arr.astype(t.data.dtype, copy=True)
        return missing, unexpected

    # ------------------------------------------------------------ repr
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order; registered as `0`, `1`, ... (or by OrderedDict names)."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for n, m in modules[0].items():
                self.add_module(n, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return Sequential(*mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, m):
        self.add_module(str(len(self)), m)
        return self


class ModuleList(Module):
    """A list of modules, registered as `0`, `1`, ..."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, m):
        self.add_module(str(len(self._modules)), m)
        return self

    def extend(self, ms):
        for m in ms:
            self.append(m)
        return self

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return ModuleList(mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
