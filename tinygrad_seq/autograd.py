"""Reverse-mode autograd: `Function` (forward and backward side by side), the graph
nodes it records, and the iterative backward engine.

A `Function` works on raw backend arrays. `MyOp.apply(x, y, ...)` unwraps tensors,
runs `forward(ctx, ...)`, and - when some input requires grad and grad mode is
on - records a node pointing at the inputs' nodes (or at leaf tensors).
`backward` walks those nodes once in reverse topological order, with an explicit
stack: no recursion, so a chain of a million ops is fine.
"""
import contextlib
import functools

from . import backend

_GRAD_ENABLED = True
_ANOMALY = False


class AutogradError(RuntimeError):
    """A backward pass that cannot be done as asked (released graph, in-place change, ...)."""


# ------------------------------------------------------------------ grad modes
class _GradMode(contextlib.ContextDecorator):
    """Base for no_grad / enable_grad: a context manager that is also a decorator."""
    mode = True

    def __enter__(self):
        global _GRAD_ENABLED
        self._prev = _GRAD_ENABLED
        _GRAD_ENABLED = self.mode

    def __exit__(self, *exc):
        global _GRAD_ENABLED
        _GRAD_ENABLED = self._prev
        return False

    def __call__(self, fn):  # a fresh instance per call keeps nested use safe
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Record no graph inside: for evaluation, sampling and optimizer updates."""
    mode = False


class enable_grad(_GradMode):
    """Turn recording back on inside a no_grad block."""
    mode = True


def is_grad_enabled():
    return _GRAD_ENABLED


def set_grad_enabled(mode):
    global _GRAD_ENABLED
    _GRAD_ENABLED = bool(mode)


@contextlib.contextmanager
def detect_anomaly():
    """Check every forward output and every backward gradient for NaN / Inf and
    raise naming the first op that produced one."""
    global _ANOMALY
    prev, _ANOMALY = _ANOMALY, True
    try:
        yield
    finally:
        _ANOMALY = prev


def _check_finite(arr, what):
    xp = backend.xp(backend.device_of(arr))
    if arr.dtype.kind in "fc" and not bool(xp.isfinite(arr).all()):
        raise AutogradError(f"detect_anomaly: {what} produced NaN or Inf")


# ------------------------------------------------------------------ broadcasting
def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`, undoing NumPy broadcasting: the one helper every
    op's gradient goes through (the engine applies it when shapes differ)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise ValueError(f"gradient of shape {grad.shape} has fewer dims than its input {shape}")
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    for i, n in enumerate(shape):
        if n != 1 and grad.shape[i + extra] != n:
            raise ValueError(f"gradient of shape {grad.shape} cannot be reduced to input shape {shape}")
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape) if extra else grad


# ------------------------------------------------------------------ graph nodes
class Node:
    """One recorded op, and the `ctx` its forward and backward share.

    parents[i] is None (input i needs no gradient), a leaf Tensor (gradients are
    accumulated into its .grad) or the Node that produced input i.
    """
    __slots__ = ("fn", "parents", "shapes", "dtypes", "saved", "needs_input_grad", "xp",
                 "versions", "retained", "released", "n_out", "__dict__", "__weakref__")

    def __init__(self, fn, xp):
        self.fn = fn
        self.xp = xp
        self.saved = ()
        self.versions = None
        self.retained = None
        self.released = False
        self.n_out = 1

    # torch.autograd.Function's ctx interface
    def save_for_backward(self, *arrays):
        self.saved = arrays

    def mark_non_differentiable(self, *arrays):
        """Outputs (the arrays forward returns) that get no gradient, such as indices."""
        self.non_differentiable = arrays

    def set_materialize_grads(self, value):
        """False: backward receives None (not zeros) for outputs that did not reach the loss."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        if self.released:
            raise AutogradError(f"{self.fn.__name__}: saved arrays were released by an earlier backward; "
                                "pass retain_graph=True to backward through this graph twice")
        return self.saved

    @property
    def last_backward(self):
        """True when this backward runs without retain_graph, so the node is released right
        after it: a backward may then drop a big saved array as soon as it has used it, to
        lower the peak memory of the rest of its work."""
        return not _RETAINING

    def release(self):
        """Drop everything forward saved, so the arrays can be freed. A node that saved no
        arrays stays usable: a second backward through it works, as in torch."""
        fields = self.__dict__
        saved_arrays = bool(self.saved) or any(_holds_array(v) for v in fields.values())
        self.saved = ()
        self.versions = None
        if saved_arrays:
            fields.clear()
            self.parents = None
            self.released = True

    def __repr__(self):
        return f"<{self.fn.__name__}Backward>"


def _holds_array(v):
    if isinstance(v, (tuple, list)):
        return any(backend.is_array(a) or isinstance(a, Tensor) for a in v)
    return backend.is_array(v) or isinstance(v, Tensor)


class Function:
    """An op with a forward and a backward on raw backend arrays, used like
    torch.autograd.Function::

        class Square(Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, grad):
                x, = ctx.saved_tensors
                return 2 * x * grad        # a bare array is fine for one input

        y = Square.apply(t)

    `backward` returns one gradient per forward argument (None for non-tensor
    arguments or inputs that need none); gradients of broadcast inputs are
    reduced to the input's shape by the engine. `ctx.xp` is numpy or cupy,
    matching the inputs' device, and `ctx.needs_input_grad` says which inputs
    need a gradient.
    """

    composed = None   # optional: the same forward from differentiable ops, for create_graph

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        raw, needs, parents, shapes = [], [], [], []
        device = None
        requires = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                shapes.append(a.data.shape)
                if device is None:
                    device = a.device
                elif a.device != device:
                    raise RuntimeError(f"{cls.__name__}: expected all tensors on the same device, "
                                       f"got {device} and {a.device}")
                if a.requires_grad:   # where its gradient goes: see _edge
                    c = a._ctx
                    parents.append(a if c is None else (c if c.n_out == 1 else (c, a._out)))
                    needs.append(True)
                    requires = True
                    continue
            else:
                raw.append(a)
                shapes.append(None)
            parents.append(None)
            needs.append(False)
        xp = backend.xp(device or "cpu")
        ctx = Node(cls, xp)
        ctx.needs_input_grad = needs
        try:
            out = cls.forward(ctx, *raw, **kwargs)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, args, e) from e
        device = device or "cpu"
        multi = isinstance(out, tuple)
        if not multi and not backend.is_array(out):   # NumPy gives scalars for 0-d results
            arr = xp.asarray(out)
            if ctx.saved:   # a saved output must stay the very array the tensor holds
                ctx.saved = tuple(arr if s is out else s for s in ctx.saved)
            out = arr
        record = requires and _GRAD_ENABLED
        if record:
            ctx.parents = tuple(parents)
            ctx.shapes = tuple(shapes)
            if ctx.saved:
                _note_saved(ctx, args, None if multi else out)
            if cls.composed is not None:   # kept for create_graph (see _graph_backward)
                ctx.inputs, ctx.kwargs = args, kwargs
        if multi:   # several outputs: one Tensor each, all hanging off this node
            ctx.n_out = len(out)
            skip = getattr(ctx, "non_differentiable", ())
            outs = tuple(_output(cls, xp.asarray(o) if not backend.is_array(o) else o, device,
                                 ctx if record and not any(o is n for n in skip) else None, k)
                         for k, o in enumerate(out))
            if record:
                ctx.out_meta = tuple((o.shape, o.dtype) for o in outs)
            return outs
        return _output(cls, out, device, ctx if record else None, 0)


def _note_saved(ctx, args, out):
    """What the saved arrays are: the versions of saved inputs (to catch in-place edits) and
    whether the output is among them (so create_graph can hand it back as a Tensor)."""
    versions = None
    for s in ctx.saved:
        if s is out:
            ctx.out_data = out
            continue
        for a in args:
            if isinstance(a, Tensor) and a.data is s:
                if versions is None:
                    versions = []
                versions.append((a, a._version))
                break
    ctx.versions = versions


def _output(cls, out, device, ctx, k):
    """The Tensor around output k of a Function; ctx is its node, or None when nothing is recorded."""
    if _ANOMALY:
        _check_finite(out, f"forward of {cls.__name__}")
    t = Tensor.__new__(Tensor)
    t.data = out
    t.device = device
    t.grad = None
    t._version = 0
    t._out = k
    t.requires_grad = ctx is not None
    t._ctx = ctx
    return t


def _edge(t):
    """Where the gradient of tensor t goes: a leaf tensor, the Node that made it, or
    (node, k) for output k of a node with several outputs."""
    node = t._ctx
    if node is None:
        return t
    return node if node.n_out == 1 else (node, t._out)


def _op_error(cls, args, err):
    desc = ", ".join(f"{tuple(a.shape)} {a.dtype}" if isinstance(a, Tensor) else repr(a)[:40]
                     for a in args)
    # same exception type as numpy's, with the op, shapes and dtypes named
    return type(err)(f"{cls.__name__}: cannot apply to inputs ({desc}): {err}")


# ------------------------------------------------------------------ the engine
def _toposort(roots):
    """Nodes reachable from `roots`, each after every node that consumes it
    (reverse post-order of an iterative depth-first search)."""
    order, visited = [], set()
    stack = [(r, False) for r in roots]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        if node.released:
            raise AutogradError(
                f"{node.fn.__name__}: trying to backward through the graph a second time: its saved "
                "arrays were freed by the first backward; pass retain_graph=True to the first call")
        for p in node.parents:
            if p.__class__ is tuple:
                p = p[0]
            if p.__class__ is Node and p not in visited:
                stack.append((p, False))
    order.reverse()
    return order


def _accumulate_leaf(t, g, fresh):
    if g.__class__ is Tensor:   # create_graph: .grad is a Tensor with a graph, summed out of place
        t.grad = g if t.grad is None else t.grad + g
        return
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    elif not fresh:  # the array may be shared with another gradient: own a copy
        g = g.copy()
    if t.grad is None:
        t.grad = Tensor._wrap(g, t.device)
    else:
        t.grad.data = t.grad.data + g


_RETAINING = False   # retain_graph of the backward pass now running (see Node.last_backward)


def run_backward(roots, grads, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate `grads` (backend arrays, or Tensors with create_graph) from tensors `roots`.
    Leaves get their .grad accumulated; or, with `inputs`, the gradients of those tensors are
    returned (a list, None where no gradient arrived) and no .grad is touched."""
    global _RETAINING
    prev, _RETAINING = _RETAINING, retain_graph
    try:
        if create_graph:
            with enable_grad():
                return _run_backward(roots, grads, retain_graph, True, inputs)
        return _run_backward(roots, grads, retain_graph, False, inputs)
    finally:
        _RETAINING = prev


def _add(grads, edge, gi):
    """Add gradient gi into the slot of node `edge` (or output k of (node, k))."""
    if edge.__class__ is tuple:
        node, k = edge
        slots = grads.get(node)
        if slots is None:
            slots = grads[node] = [None] * node.n_out
        slots[k] = gi if slots[k] is None else slots[k] + gi
    else:
        prev = grads.get(edge)
        grads[edge] = gi if prev is None else prev + gi


def _run_backward(roots, seeds, retain_graph, create_graph, inputs):
    grads = {}
    captured = slot_pos = None
    if inputs is not None:   # autograd.grad: leaves by identity, non-leaves by their graph slot
        captured = [None] * len(inputs)
        leaf_pos = {id(t): i for i, t in enumerate(inputs) if t._ctx is None}
        slot_pos = {(id(t._ctx), t._out): i for i, t in enumerate(inputs) if t._ctx is not None}
    nodes = []
    for root, g in zip(roots, seeds):
        if root._ctx is None:   # a leaf: its gradient is the seed itself
            if captured is not None:
                i = leaf_pos.get(id(root))
                if i is not None:
                    captured[i] = g if captured[i] is None else captured[i] + g
            else:
                _accumulate_leaf(root, g, fresh=False)
            continue
        _add(grads, _edge(root), g)
        nodes.append(root._ctx)
    for node in _toposort(nodes):
        g = grads.pop(node, None)
        if g is None:
            continue
        if node.versions:
            for t, v in node.versions:
                if t._version != v:
                    raise AutogradError(
                        f"{node.fn.__name__}: an input saved for backward was modified in place after "
                        f"forward (shape {t.shape}, version {v} -> {t._version}); use an out-of-place op")
        multi = node.n_out > 1
        if node.retained is not None or captured is not None:
            _retained_and_captured(node, g if multi else (g,), captured, slot_pos)
        if create_graph:
            in_grads = _graph_backward(node, _materialize(node, g, True) if multi else (g,))
        elif multi:
            in_grads = node.fn.backward(node, *_materialize(node, g, False))
        else:
            in_grads = node.fn.backward(node, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,) if not isinstance(in_grads, list) else tuple(in_grads)
        parents = node.parents
        if len(in_grads) != len(parents):
            # a custom backward may return one gradient per *tensor* input
            tensor_pos = [i for i, s in enumerate(node.shapes) if s is not None]
            if len(in_grads) != len(tensor_pos):
                raise AutogradError(f"{node.fn.__name__}.backward returned {len(in_grads)} gradients, "
                                    f"expected {len(parents)} (one per forward argument)")
            full = [None] * len(parents)
            for i, gi in zip(tensor_pos, in_grads):
                full[i] = gi
            in_grads = full
        seen = set()
        for parent, gi, shape in zip(parents, in_grads, node.shapes):
            if parent is None or gi is None:
                continue
            if create_graph:
                gi = _as_graph_grad(node, gi)
            elif not backend.is_array(gi):
                gi = node.xp.asarray(gi)
            if gi.shape != shape:
                try:
                    gi = unbroadcast(gi, shape)
                except ValueError as e:
                    raise AutogradError(f"{node.fn.__name__}.backward: {e}") from None
            if _ANOMALY:
                _check_finite(gi.data if create_graph else gi, f"backward of {node.fn.__name__}")
            if parent.__class__ is Node:
                prev = grads.get(parent)
                grads[parent] = gi if prev is None else prev + gi
            elif parent.__class__ is tuple:
                _add(grads, parent, gi)
            elif captured is not None:
                i = leaf_pos.get(id(parent))
                if i is not None:
                    captured[i] = gi if captured[i] is None else captured[i] + gi
            else:
                fresh = gi is not g and id(gi) not in seen and getattr(gi, "base", None) is None
                seen.add(id(gi))
                _accumulate_leaf(parent, gi, fresh)
        if not retain_graph:
            node.release()
    return captured


def _retained_and_captured(node, outs, captured, slot_pos):
    """The gradients arriving at node's outputs, for tensors that retain_grad() and for the
    non-leaf inputs of autograd.grad."""
    for k, ref in node.retained or ():
        t = ref()
        if t is not None and outs[k] is not None:
            _accumulate_leaf(t, outs[k], fresh=False)
    if captured is not None:
        for k, gk in enumerate(outs):
            i = slot_pos.get((id(node), k))
            if i is not None and gk is not None:
                captured[i] = gk


def _materialize(node, slots, create_graph):
    """Gradients of a node with several outputs: zeros for outputs that got none (or None
    when the Function asked for set_materialize_grads(False))."""
    if not getattr(node, "materialize_grads", True):
        return slots
    out = []
    for g, (shape, dtype) in zip(slots, node.out_meta):
        if g is None:
            g = node.xp.zeros(shape, dtype=dtype)
            if create_graph:
                g = Tensor._wrap(g, backend.device_of(g))
        out.append(g)
    return out


# ------------------------------------------------------------------ gradients of gradients
class _GraphCtx:
    """What a backward sees under create_graph=True: the node's fields, but saved arrays
    come back as the Tensors they were (inputs and outputs, with their graphs) and ctx.xp
    is `tensor_xp`, array functions on Tensors, so the backward itself is recorded."""

    def __init__(self, node):
        self._node = node
        self.xp = TensorXP(_node_device(node))
        self.saved = tuple(_saved_tensor(node, a) for a in node.saved)
        self.saved_tensors = self.saved

    def __getattr__(self, name):
        return getattr(self._node, name)


def _node_device(node):
    return "cpu" if node.xp is backend.xp("cpu") else "cuda"


def _saved_tensor(node, arr):
    """A saved array as a Tensor: the input tensor it is (with its graph), an output of the
    node (a tensor whose grad_fn is the node), or else a constant."""
    if not backend.is_array(arr):
        return arr
    for t, _ in node.versions or ():
        if t.data is arr:
            return t
    device = backend.device_of(arr)
    if node.n_out == 1:
        if getattr(node, "out_data", None) is arr:
            return _output(node.fn, arr, device, node, 0)
    t = Tensor._wrap(arr, device)
    return t


def _graph_backward(node, grads):
    """node's backward, recorded as a graph (create_graph=True)."""
    fn = node.fn
    if fn.composed is not None:
        # a fused op: differentiate its composed form (the same math from primitive ops)
        args = node.inputs
        tensors = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        with enable_grad():
            outs = fn.composed(*args, **node.kwargs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
        got = run_backward([o for o, _ in pairs], [g for _, g in pairs], True, True, tensors)
        it = iter(got)
        return tuple(next(it) if (isinstance(a, Tensor) and a.requires_grad) else None for a in args)
    try:
        return fn.backward(_GraphCtx(node), *grads)
    except AutogradError:
        raise
    except Exception as e:
        raise AutogradError(_not_twice(fn, f"its backward failed on Tensors with {type(e).__name__}: {e}")) from e


def _as_graph_grad(node, gi):
    if gi.__class__ is Tensor:
        return gi
    if isinstance(gi, (int, float)):
        return gi
    raise AutogradError(_not_twice(node.fn, f"its backward returned a {type(gi).__name__}, not a Tensor"))


def _not_twice(fn, why):
    return (f"{fn.__name__} is not twice differentiable (create_graph=True): {why}. Under create_graph "
            "its backward receives Tensors (gradients and ctx.saved_tensors) and ctx.xp is "
            "tinygrad_seq.tensor_xp; write it with Tensor operators and ctx.xp functions so the "
            "backward is itself recorded, or give the Function a `composed` staticmethod that "
            "computes the same output from differentiable ops")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """torch.autograd.grad: the gradients of `outputs` with respect to `inputs`, returned as a
    tuple (nothing is accumulated into .grad). grad_outputs weigh the outputs (None: ones,
    for scalar outputs); create_graph=True records the backward so the result can be
    differentiated again; retain_graph defaults to create_graph."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for t in inputs:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise AutogradError("grad: every input must be a Tensor that requires grad")
    roots, seeds = [], []
    for o, go in zip(outputs, grad_outputs):
        if not o.requires_grad:
            raise AutogradError("grad: an output does not require grad and has no graph")
        roots.append(o)
        seeds.append(_seed(o, go, create_graph))
    if retain_graph is None:
        retain_graph = create_graph
    got = run_backward(roots, seeds, retain_graph, create_graph, inputs)
    for i, g in enumerate(got):
        if g is None:
            if not allow_unused:
                raise AutogradError(f"grad: input {i} (shape {inputs[i].shape}) was not used to compute "
                                    "the outputs; pass allow_unused=True to get None for it")
        elif not create_graph:
            got[i] = Tensor._wrap(g, inputs[i].device)
        elif g.__class__ is not Tensor:
            got[i] = Tensor._wrap(g, inputs[i].device)
    return tuple(got)


def _seed(root, grad, create_graph):
    """The gradient backward starts from at `root`: ones for a scalar, else the given grad
    (a Tensor when create_graph, so it may carry a graph of its own; else an array)."""
    xp = backend.xp(root.device)
    if grad is None:
        if root.data.size != 1:
            raise AutogradError(f"backward: grad can be implicitly created only for scalar outputs, "
                                f"got shape {root.shape}; pass grad= of that shape")
        g = xp.ones(root.data.shape, dtype=root.dtype)
        return Tensor._wrap(g, root.device) if create_graph else g
    if create_graph and isinstance(grad, Tensor):
        if grad.shape != root.shape:
            raise AutogradError(f"backward: grad has shape {grad.shape}, expected {root.shape}")
        return grad
    g = grad.data if isinstance(grad, Tensor) else grad
    if backend.is_array(g):   # onto our device first: NumPy cannot read a CuPy array
        g = backend.to_device(g, root.device)
    g = xp.asarray(g, dtype=root.dtype)
    if g.shape != root.data.shape:
        raise AutogradError(f"backward: grad has shape {g.shape}, expected {root.shape}")
    g = g.copy()
    return Tensor._wrap(g, root.device) if create_graph else g


from .tensor import Tensor  # noqa: E402  (tensor.py imports this module's names first)
from .tensor_xp import TensorXP  # noqa: E402
