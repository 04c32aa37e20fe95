"""Module, Parameter and containers, with PyTorch's names, registration by
attribute assignment and dotted state_dict keys (`convs.0.weight`)."""
import itertools
import warnings
from collections import OrderedDict

import numpy as np

from .. import autograd, backend
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
            data = data.array
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_HOOK_STORES = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks", "_hook_options")


class Module:
    """Base class of every layer. Assigning a Parameter, Module or buffer to an
    attribute registers it; `forward` defines the computation."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)
        # hooks: id -> fn, in call order (see register_forward_hook and friends)
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_hook_options", {})   # id -> (with_kwargs, always_call)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        # a name changes kind by leaving the other stores; re-assigning the same kind keeps its
        # place, so state_dict's order survives `decoder.weight = encoder.weight` as in PyTorch
        kind = (self._parameters if isinstance(value, Parameter) else
                self._modules if isinstance(value, Module) else None)
        for d in (self._parameters, self._modules, self._buffers):
            if d is not kind:
                d.pop(name, None)
        if kind is not None:
            kind[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):  # only called when normal lookup fails
        if name in _HOOK_STORES and "_parameters" in self.__dict__:   # a module saved before hooks existed
            object.__setattr__(self, name, {} if name == "_hook_options" else OrderedDict())
            return self.__dict__[name]
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

    def register_buffer(self, name, tensor, persistent=True):
        """State saved in state_dict but not learned (e.g. running statistics); with
        persistent=False it moves with the module (to, double) but stays out of state_dict."""
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        transient = self.__dict__.setdefault("_non_persistent_buffers", set())
        (transient.discard if persistent else transient.add)(name)

    def add_module(self, name, module):
        setattr(self, name, module)

    # ------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        """torch's order: forward pre-hooks (may replace the input), the backward-hook wrap of
        the tensor inputs, forward, forward hooks (may replace the output), the backward-hook
        wrap of the tensor outputs."""
        options = self._hook_options
        for hid, hook in list(self._forward_pre_hooks.items()):
            if options.get(hid, (False,))[0]:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"{type(self).__name__}: a forward pre-hook with kwargs must return None "
                                           f"or a tuple (new_args, new_kwargs), got {result!r:.80}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward = None
        if self._backward_hooks or self._backward_pre_hooks:
            backward = _BackwardHook(self)
            args = backward.wrap_inputs(args)
        try:
            output = self.forward(*args, **kwargs)
        except Exception:
            for hid, hook in list(self._forward_hooks.items()):
                with_kwargs, always_call = options.get(hid, (False, False))
                if always_call:   # torch runs these even when forward raised, then re-raises
                    try:
                        hook(self, args, kwargs, None) if with_kwargs else hook(self, args, None)
                    except Exception as e:   # the forward's error is the one to raise
                        warnings.warn(f"{type(self).__name__}: a forward hook with always_call=True raised "
                                      f"{type(e).__name__}: {e} while forward was failing", stacklevel=2)
            raise
        for hid, hook in list(self._forward_hooks.items()):
            with_kwargs = options.get(hid, (False, False))[0]
            result = hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
            if result is not None:
                output = result
        if backward is not None:
            output = backward.wrap_outputs(output)
        return output

    # ------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """hook(module, args) runs before forward; it may return new args (a tuple, or one
        value that becomes a 1-tuple). with_kwargs: hook(module, args, kwargs) returning None
        or (args, kwargs). Returns a handle whose .remove() unregisters the hook."""
        return _add_hook(self, self._forward_pre_hooks, hook, prepend, (bool(with_kwargs), False))

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """hook(module, args, output) runs after forward; a non-None return replaces the
        output. with_kwargs: hook(module, args, kwargs, output). always_call: run it (with
        output None) even when forward raises."""
        return _add_hook(self, self._forward_hooks, hook, prepend, (bool(with_kwargs), bool(always_call)))

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """hook(module, grad_output) runs when the gradients of the module's outputs are known;
        a non-None return (a tuple like grad_output) replaces them."""
        return _add_hook(self, self._backward_pre_hooks, hook, prepend, (False, False))

    def register_full_backward_hook(self, hook, prepend=False):
        """hook(module, grad_input, grad_output) runs when the gradients of the module's tensor
        inputs are known: one entry per positional tensor argument (None where it needs no
        gradient) and per tensor output. A non-None return (a tuple as long as grad_input)
        replaces the input gradients that flow on."""
        return _add_hook(self, self._backward_hooks, hook, prepend, (False, False))

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

    def apply(self, fn):
        """Call fn(m) on every submodule and then on self (children first, as in PyTorch),
        e.g. model.apply(init_weights). Returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

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
        """Forget the parameters' gradients (set_to_none=False: zero them instead, as a fresh
        zero array: the autograd engine may share gradient arrays, so never in place)."""
        for p in self.parameters():
            if p.grad is None or set_to_none:
                p.grad = None
            else:
                p.grad = Tensor._wrap(backend.xp(p.device).zeros_like(p.grad.array), p.device)

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
                    arr = t.array
                    if dtype is not None and arr.dtype.kind == "f":
                        arr = arr.astype(dtype)
                    if device is not None:
                        arr = backend.to_device(arr, device)
                        t.device = device
                    t.array = arr
                    if t.grad is not None:
                        t.grad = Tensor(t.grad.array, dtype=arr.dtype, device=t.device)
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
        """name -> Tensor for every parameter and buffer, with PyTorch's dotted names, in
        PyTorch's order (each module's parameters, then its buffers, then its children). Unlike
        named_parameters, a shared tensor is listed under every name (tied encoder/decoder
        weights save and load as in PyTorch)."""
        sd = OrderedDict()
        stack = [("", self)]
        while stack:
            name, m = stack.pop()
            transient = m.__dict__.get("_non_persistent_buffers", ())
            for store in (m._parameters, m._buffers):
                for n, t in store.items():
                    if t is not None and not (store is m._buffers and n in transient):
                        sd[f"{name}.{n}" if name else n] = t
            children = [(f"{name}.{n}" if name else n, c) for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))
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
                arr = v.array if isinstance(v, Tensor) else v
                arr = backend.to_device(backend.to_numpy(arr) if t.device == "cpu" else arr, t.device)
                t.array = arr.astype(t.array.dtype, copy=True)
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


# ------------------------------------------------------------------ hook machinery
_hook_ids = itertools.count()


class RemovableHandle:
    """What register_*_hook returns: .remove() unregisters the hook (also as a context
    manager: `with m.register_forward_hook(f): ...`)."""

    def __init__(self, hooks, options):
        self.id = next(_hook_ids)
        self._hooks, self._options = hooks, options

    def remove(self):
        self._hooks.pop(self.id, None)
        self._options.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add_hook(module, hooks, hook, prepend, options):
    if not callable(hook):
        raise TypeError(f"{type(module).__name__}: a hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks, module._hook_options)
    hooks[handle.id] = hook
    module._hook_options[handle.id] = options
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


class _HookGather(autograd.Function):
    """An identity on several tensors at once whose backward sees all their gradients
    together: each output hangs off this node through a _HookPiece (as tensor.Split's pieces
    do), which stores its gradient here and hands the engine a placeholder, so the engine
    runs this node once, after every piece. Its backward passes the gradients through
    ctx.callback, which may replace them."""

    @staticmethod
    def backward(ctx, _placeholder):
        grads = list(ctx.grads)
        ctx.grads, ctx.received = [None] * len(grads), 0   # ready for a retain_graph rerun
        return tuple(ctx.callback(tuple(grads)))


class _HookPiece(autograd.Function):
    _placeholder = np.zeros(())

    @staticmethod
    def backward(ctx, g):
        gather = ctx.parents[0]
        gather.grads[ctx.index] = g
        gather.received += 1
        return _HookPiece._placeholder if gather.received == 1 else None


def _through_gather(tensors, callback):
    """New tensors equal to `tensors`; in backward, callback(grads) sees the gradients of all
    of them at once (None for those that need or got none) and returns the ones to pass on."""
    xp = backend.xp(tensors[0].device)
    gather = autograd.Node(_HookGather, xp)
    gather.needs_input_grad = [t.requires_grad for t in tensors]
    gather.parents = tuple((t._ctx or t) if t.requires_grad else None for t in tensors)
    gather.shapes = tuple(t.array.shape for t in tensors)
    gather.grads, gather.received, gather.callback = [None] * len(tensors), 0, callback
    outs = []
    for i, t in enumerate(tensors):
        o = Tensor._wrap(t.array, t.device)
        if t.requires_grad:
            node = autograd.Node(_HookPiece, xp)
            node.needs_input_grad, node.parents, node.shapes, node.index = [True], (gather,), ((),), i
            o.requires_grad, o._ctx = True, node
        outs.append(o)
    return outs


def _replace_tensors(values, new):
    """`values` (a tuple) with its Tensor entries replaced, in order, by `new`."""
    it = iter(new)
    return tuple(next(it) if isinstance(v, Tensor) else v for v in values)


class _BackwardHook:
    """One call's full backward hooks, as torch.utils.hooks.BackwardHook: the outputs' gradients
    are collected (and offered to the backward pre-hooks) when they are all known; the hooks
    run when the inputs' gradients are, and may replace those."""

    def __init__(self, module):
        self.module = module
        self.n_inputs = 0
        self.inputs_wrapped = False
        self.grad_outputs = None

    def wrap_inputs(self, args):
        self.n_inputs = len(args)   # grad_input has one entry per positional argument, as in torch
        self.tensor_args = [(i, a.array.shape, a.array.dtype, a.device) for i, a in enumerate(args)
                            if isinstance(a, Tensor)]
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not (autograd.is_grad_enabled() and any(t.requires_grad for t in tensors)):
            return args
        self.inputs_wrapped = True
        return _replace_tensors(args, _through_gather(tensors, self._on_input_grads))

    def wrap_outputs(self, output):
        single = isinstance(output, Tensor)
        values = (output,) if single else output
        if not isinstance(values, tuple):
            return output
        tensors = [v for v in values if isinstance(v, Tensor)]
        if not (autograd.is_grad_enabled() and any(t.requires_grad for t in tensors)):
            return output
        new = _replace_tensors(values, _through_gather(tensors, self._on_output_grads))
        return new[0] if single else new

    def _on_output_grads(self, grads):
        m = self.module
        grad_outputs = tuple(None if g is None else Tensor._wrap(g, backend.device_of(g)) for g in grads)
        for hook in list(m._backward_pre_hooks.values()):
            result = hook(m, grad_outputs)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_outputs):
                    raise RuntimeError(f"{type(m).__name__}: a backward pre-hook returned {len(result)} "
                                       f"gradients, expected {len(grad_outputs)}")
                grad_outputs = result
        self.grad_outputs = grad_outputs
        if not self.inputs_wrapped and m._backward_hooks:   # no input needs a gradient: run them now
            warnings.warn(f"{type(m).__name__}: full backward hook is firing when gradients are computed with "
                          "respect to module outputs since no inputs require gradients", stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in list(m._backward_hooks.values()):
                result = hook(m, grad_inputs, grad_outputs)
                if result is not None and any(r is not None for r in result):
                    raise RuntimeError(f"{type(m).__name__}: a backward hook for a module where no input "
                                       "requires gradient must return None (or only Nones)")
        return [None if g is None else _raw(g) for g in grad_outputs]

    def _on_input_grads(self, grads):
        m = self.module
        # torch's entries: None for non-tensor arguments, zeros for tensors that got no gradient
        grad_inputs = [None] * self.n_inputs
        for (i, shape, dtype, device), g in zip(self.tensor_args, grads):
            grad_inputs[i] = Tensor._wrap(g if g is not None else backend.xp(device).zeros(shape, dtype=dtype), device)
        grad_inputs = tuple(grad_inputs)
        for hook in list(m._backward_hooks.values()):
            result = hook(m, grad_inputs, self.grad_outputs)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_inputs):
                    raise RuntimeError(f"{type(m).__name__}: a backward hook returned an invalid number of "
                                       f"grad_input, got {len(result)}, but expected {len(grad_inputs)}")
                grad_inputs = result
        return [_raw(grad_inputs[i]) for i, *_ in self.tensor_args]


def _raw(g):
    return g.array if isinstance(g, Tensor) else g


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
