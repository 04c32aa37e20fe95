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
import gc
import itertools
import math
import weakref

import numpy as np

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


# ------------------------------------------------------------------ numbers in array math
# Python numbers as 0-d NumPy arrays, one per (dtype, value), read-only. NumPy converts a Python
# number for every op it meets (for an 8x8 array that costs as much as the add itself); a 0-d
# array of the array's dtype gives the same values and dtype (NumPy casts the number to that
# dtype too). Tensor operators use it for `y + 0.5`, so the op's backward (g * 0.9) gets it too,
# and ops for their own constants (1 - y*y). Not for zero (0.0 and -0.0 are equal keys), nor
# for a number the dtype cannot hold (NumPy warns about that per op), nor for an integer array
# (0.5 is not an int) or a CuPy one (a NumPy array is host memory): those get the number back.
_CONSTS = {}


def const(v, like):
    """The number v as a cached 0-d array of like's dtype (NumPy, float), else v itself."""
    if like.__class__ is not np.ndarray:
        return v
    by_value = _CONSTS.get(like.dtype)
    c = None if by_value is None else by_value.get(v)
    if c is not None:
        return c
    if like.dtype.kind != "f" or not v:
        return v
    try:
        with np.errstate(over="ignore"):
            c = np.asarray(v, dtype=like.dtype)
        if not np.isfinite(c) and math.isfinite(v):   # too big for the dtype: leave it to NumPy
            return v
    except OverflowError:   # an int beyond float64
        return v
    c.flags.writeable = False
    if by_value is None or len(by_value) > 1024:   # a program that makes ever new numbers: start over
        by_value = _CONSTS[like.dtype] = {}
    by_value[v] = c
    return c


# ------------------------------------------------------------------ graph nodes
# Immutable little tuples that many nodes share (needs_input_grad, input shapes, which saved
# arrays are inputs): one object each, not one per op, so a long graph holds fewer objects.
# (Saved roles, being ints, have their own: (1, 0) == (True, False) in Python.)
_SHARED, _SHARED_ROLES = {}, {}


def _shared(t, cache=_SHARED):
    s = cache.get(t)
    if s is None:
        if len(cache) > 4096:   # a program that sees ever new shapes: start over, stay small
            cache.clear()
        s = cache[t] = t
    return s


class Node:
    """One recorded op, and the `ctx` its forward and backward share.

    parents[i] (a property) is where the gradient of forward argument i goes: None (no
    gradient), a leaf Tensor (accumulated into its .grad), the Node that produced input i,
    or (node, k) for output k of a node with several outputs.

    Why slots and no tuple of parents: Python's cyclic garbage collector walks every live
    graph object in each of its full collections, and a program that records a million ops
    keeps a million nodes alive. So a recorded op leaves one object the collector tracks, the
    node: the edges to the first two inputs are in its own slots (p0, k0, p1, k1: parent and
    output index, None for a single-output parent; further arguments need no gradient), an op
    with a gradient for a later argument keeps a tuple of edges (pn),
    and the small tuples it holds are shared between nodes (see _shared).
    """
    __slots__ = ("fn", "xp", "needs_input_grad", "shapes", "saved", "saved_roles", "versions",
                 "p0", "k0", "p1", "k1", "pn", "n_out", "retained", "released", "_hooks",
                 "__dict__", "__weakref__")

    def __init__(self, fn, xp):
        self.fn = fn
        self.xp = xp
        self.saved = ()
        self.saved_roles = self.versions = self.retained = self._hooks = None
        self.p0 = self.k0 = self.p1 = self.k1 = self.pn = None
        self.released = False
        self.n_out = 1

    @property
    def parents(self):
        """The edges to the inputs, one per forward argument (see the class doc)."""
        if self.pn is not None:
            return self.pn
        if self.released:   # release() dropped the edges
            return None
        e0 = self.p0 if self.k0 is None else (self.p0, self.k0)
        n = len(self.needs_input_grad)
        if n == 1:
            return (e0,)
        return (e0, self.p1 if self.k1 is None else (self.p1, self.k1)) + (None,) * (n - 2)

    @parents.setter
    def parents(self, edges):
        """Set the edges (for nodes built by hand); needs_input_grad follows them."""
        edges = tuple(edges)
        self.needs_input_grad = _shared(tuple(e is not None for e in edges))
        self.p0 = self.k0 = self.p1 = self.k1 = self.pn = None
        if len(edges) > 2:
            self.pn = edges
            return
        for i, e in enumerate(edges):
            p, k = e if e.__class__ is tuple else (e, None)
            if i == 0:
                self.p0, self.k0 = p, k
            else:
                self.p1, self.k1 = p, k

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
        saved_arrays = bool(self.saved) or (bool(fields) and any(_holds_array(v) for v in fields.values()))
        self.saved = ()
        self.versions = None
        if saved_arrays:
            fields.clear()
            self.p0 = self.p1 = self.pn = None
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
    matching the inputs' device, `ctx.needs_input_grad` says which inputs
    need a gradient, and in backward `ctx.shapes` holds the inputs' shapes
    (None for arguments that are not tensors).
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
        raw, sig = [], []   # sig: (input shape or None, needs a gradient) per argument
        device = None
        for a in args:
            if isinstance(a, Tensor):
                arr = a.array
                raw.append(arr)
                sig.append(arr.shape)
                sig.append(a.requires_grad)
                if device is None:
                    device = a.device
                elif a.device != device:
                    raise RuntimeError(f"{cls.__name__}: expected all tensors on the same device, "
                                       f"got {device} and {a.device}")
            else:
                raw.append(a)
                sig.append(None)
                sig.append(False)
        sig = tuple(sig)
        needs, shapes, requires, wide = _SIGNATURES.get(sig) or _signature(sig)
        if device is None:
            device = "cpu"
        xp = _XP.get(device)
        if xp is None:
            xp = _XP[device] = backend.xp(device)
        ctx = Node(cls, xp)
        ctx.needs_input_grad = needs
        try:
            out = cls.forward(ctx, *raw, **kwargs) if kwargs else cls.forward(ctx, *raw)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, args, e) from e
        record = requires and _GRAD_ENABLED
        if out.__class__ is not _ndarray and isinstance(out, tuple):
            # several outputs: one Tensor each, all hanging off this node
            ctx.n_out = len(out)
            skip = getattr(ctx, "non_differentiable", None)
            result, meta = [], []
            for k, o in enumerate(out):
                if o.__class__ is not _ndarray and not backend.is_array(o):
                    o = xp.asarray(o)
                keep = record and not (skip and any(o is n for n in skip))
                result.append(_output(cls, o, device, ctx if keep else None, k))
                meta.append(o.shape)
                meta.append(o.dtype.char)
            result = tuple(result)
            if record:
                # shape and dtype code per output, for the zeros of outputs that get no gradient
                # (a dtype object would keep the tuple tracked; its one-letter code is shared)
                meta = tuple(meta)
                ctx.out_meta = _SHARED.get(meta) or _shared(meta)
        else:
            if out.__class__ is not _ndarray and not backend.is_array(out):   # NumPy gives scalars
                arr = xp.asarray(out)                                           # for 0-d results
                if ctx.saved:   # a saved output must stay the very array the tensor holds
                    ctx.saved = tuple(arr if s is out else s for s in ctx.saved)
                out = arr
            if _ANOMALY:
                _check_finite(out, f"forward of {cls.__name__}")
            result = Tensor.__new__(Tensor)   # _output, inline: the hot path of every op
            result.array = out
            result.device = device
            result.grad = result._vc = None
            result._out = 0
            result.requires_grad = record
            result._ctx = ctx if record else None
        if record:
            ctx.shapes = shapes
            if wide:
                ctx.pn = tuple(_edge(a) if need else None for a, need in zip(args, needs))
            else:   # the edges in the node's slots (see Node); written out for each of the two
                # slots rather than through a helper call, since this runs for every recorded op
                if needs[0]:
                    a = args[0]
                    c = a._ctx
                    if c is None:
                        ctx.p0 = a
                    else:
                        ctx.p0 = c
                        if c.n_out != 1:
                            ctx.k0 = a._out
                if len(needs) > 1 and needs[1]:
                    a = args[1]
                    c = a._ctx
                    if c is None:
                        ctx.p1 = a
                    else:
                        ctx.p1 = c
                        if c.n_out != 1:
                            ctx.k1 = a._out
            if ctx.saved:
                _note_saved(ctx, args, raw, result)
            if cls.composed is not None:   # kept for create_graph (see _graph_backward)
                ctx.inputs, ctx.kwargs = args, kwargs
        return result


_ndarray = np.ndarray
_SIGNATURES = {}   # (shape, needs grad) per argument of an apply -> what _signature says


def _signature(sig):
    """needs_input_grad, the input shapes (the tuples nodes share), whether any input needs a
    gradient, and whether one past the first two does (the node then keeps a tuple of edges),
    for one signature of Function.apply's arguments; worked out once per signature."""
    if len(_SIGNATURES) > 4096:   # a program that sees ever new shapes: start over, stay small
        _SIGNATURES.clear()
    needs = _shared(tuple(bool(n) for n in sig[1::2]))
    out = _SIGNATURES[sig] = (needs, _shared(sig[::2]), any(needs), any(needs[2:]))
    return out
_XP = {}   # device -> backend.xp(device), looked up once per device


def _note_saved(ctx, args, raw, outs):
    """What forward saved. saved_roles: for each saved array, the input it is (its position),
    -1 for the output, None for neither, so create_graph can hand them back as Tensors with
    their graphs (see _saved_tensor). versions: (counter, value now, ...) for each saved input
    or output, so the engine can catch an in-place change made after forward through any view
    (views share their base's counter; a counter, not the tensor, is kept for outputs: no
    reference cycle); a single counter at value 0 is kept bare (see _version_pairs)."""
    roles = versions = None
    saved = ctx.saved
    for j, s in enumerate(saved):
        if s.__class__ is not _ndarray and (s is None or s.__class__ is float or not backend.is_array(s)):
            continue   # None, a number: nothing to watch
        if j < len(raw) and raw[j] is s:   # the usual case: forward saved its arguments in order
            role = j
        else:
            role = None
            for i, r in enumerate(raw):
                if r is s and isinstance(args[i], Tensor):
                    role = i
                    break
        if role is not None:
            a = args[role]
            if not isinstance(a, Tensor):
                continue   # a constant argument (a number as a 0-d array, see const)
            c = a._vc
            if c is None:
                c = a._vc = _COUNTER0.copy()   # new_counter(), inline
            pair = (c, c.item(0))
        else:   # an output? it is new, at version 0
            if outs.__class__ is not tuple:
                if outs.array is not s:
                    continue   # neither an input nor the output: a constant
                o, role = outs, -1
            else:
                o = next((o for o in outs if o.array is s), None)
                if o is None:
                    continue
            if o._vc is None:
                o._vc = _COUNTER0.copy()
            pair = (o._vc, 0)
        versions = pair if versions is None else versions + pair
        if role is not None:
            if len(saved) == 1:
                roles = (role,)
            else:
                if roles is None:
                    roles = [None] * len(saved)
                roles[j] = role
    if versions is not None:
        # one counter saved at version 0 (the usual case) is kept as itself: a tuple would be
        # one more object per node for the garbage collector to track (see Node)
        ctx.versions = versions[0] if len(versions) == 2 and versions[1] == 0 else versions
    if roles is not None:
        roles = tuple(roles)
        ctx.saved_roles = _SHARED_ROLES.get(roles) or _shared(roles, _SHARED_ROLES)


def new_counter():
    """A fresh version counter: one mutable int, c[0] (always on the host). A one-element NumPy
    array, not a list: the garbage collector does not track NumPy arrays, nor (so) the
    (counter, version) tuples a node keeps, and a long graph does not make every collection
    walk them."""
    return _COUNTER0.copy()


_COUNTER0 = np.zeros(1, dtype=np.int64)   # copied: quicker than making a new array


def _version_pairs(versions):
    """A node's versions as (counter, version, ...): None is (), one bare counter is at 0."""
    if versions is None:
        return ()
    return (versions, 0) if versions.__class__ is not tuple else versions


def add_saved_versions(node, tensors):
    """Also check, before `node`'s backward, that `tensors` (index tensors, say) kept their values."""
    if node is not None and tensors:
        for t in tensors:
            c = t._counter()
            node.versions = _version_pairs(node.versions) + (c, int(c[0]))


def _output(cls, out, device, ctx, k):
    """The Tensor around output k of a Function; ctx is its node, or None when nothing is recorded."""
    if _ANOMALY:
        _check_finite(out, f"forward of {cls.__name__}")
    t = Tensor.__new__(Tensor)
    t.array = out
    t.device = device
    t.grad = None
    t._vc = None
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


# ------------------------------------------------------------------ leaf hooks
# id(leaf) -> hooks called with the leaf once a backward pass has accumulated its whole
# gradient (torch's register_post_accumulate_grad_hook): DistributedDataParallel reduces a
# gradient bucket as soon as its last gradient is final, while backward goes on.
_POST_ACCUMULATE_HOOKS = {}


class RemovableHandle:
    def __init__(self, key, hook):
        self.key, self.hook = key, hook

    def remove(self):
        hooks = _POST_ACCUMULATE_HOOKS.get(self.key)
        if hooks and self.hook in hooks:
            hooks.remove(self.hook)
            if not hooks:
                del _POST_ACCUMULATE_HOOKS[self.key]


def register_post_accumulate_grad_hook(t, hook):
    if not t.is_leaf or not t.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors that require grad "
                           f"have an accumulated gradient (got shape {t.shape}, requires_grad={t.requires_grad})")
    key = id(t)
    if key not in _POST_ACCUMULATE_HOOKS:   # drop the entry when t dies, before its id is reused
        weakref.finalize(t, _POST_ACCUMULATE_HOOKS.pop, key, None)
        _POST_ACCUMULATE_HOOKS[key] = []
    _POST_ACCUMULATE_HOOKS[key].append(hook)
    return RemovableHandle(key, hook)


def _hooked_leaf_uses(order):
    """id(leaf) -> [edges into it not yet processed, got a gradient?, leaf], for hooked leaves."""
    uses = {}
    for node in order:
        for p in node.parents:
            if p is not None and p.__class__ is not Node and p.__class__ is not tuple \
                    and id(p) in _POST_ACCUMULATE_HOOKS:
                uses.setdefault(id(p), [0, False, p])[0] += 1
    return uses


def _leaf_edges_done(parents, uses):
    """Count down the hooked leaves among a processed node's inputs; call the hooks of a leaf
    whose last edge this was, if it got a gradient."""
    for p in parents:
        u = uses.get(id(p)) if p is not None and p.__class__ is not Node and p.__class__ is not tuple else None
        if u is not None:
            u[0] -= 1
            if u[0] == 0 and u[1]:
                for hook in list(_POST_ACCUMULATE_HOOKS.get(id(p), ())):
                    hook(p)


# ------------------------------------------------------------------ the engine
def _toposort(roots):
    """Nodes reachable from `roots`, each after every node that consumes it
    (reverse post-order of an iterative depth-first search)."""
    order, visited = [], set()
    stack = list(roots)
    push, pop = stack.append, stack.pop
    while stack:
        node = pop()
        if node is None:   # a marker: the node under it has had all its inputs visited
            order.append(pop())
            continue
        if node in visited:
            continue
        visited.add(node)
        push(node)
        push(None)
        if node.released:
            raise AutogradError(
                f"{node.fn.__name__}: trying to backward through the graph a second time: its saved "
                "arrays were freed by the first backward; pass retain_graph=True to the first call")
        if node.pn is None:
            p = node.p0
            if p.__class__ is Node and p not in visited:
                push(p)
            p = node.p1
            if p.__class__ is Node and p not in visited:
                push(p)
        else:
            for p in node.pn:
                if p.__class__ is tuple:
                    p = p[0]
                if p.__class__ is Node and p not in visited:
                    push(p)
    order.reverse()
    return order


def _accumulate_leaf(t, g, fresh):
    if g.__class__ is Tensor:   # create_graph: .grad is a Tensor with a graph, summed out of place
        t.grad = g if t.grad is None else t.grad + g
        return
    if g.dtype != t.array.dtype:
        g = g.astype(t.array.dtype)
    elif not fresh:  # the array may be shared with another gradient: own a copy
        g = g.copy()
    if t.grad is None:
        t.grad = Tensor._wrap(g, t.device)
    else:
        s = t.grad.array + g
        t.grad.array = s if s.ndim else backend.xp(t.device).asarray(s)   # 0-d + 0-d is a NumPy scalar


_RETAINING = False   # retain_graph of the backward pass now running (see Node.last_backward)


def run_backward(roots, grads, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate `grads` (backend arrays, or Tensors with create_graph) from tensors `roots`.
    Leaves get their .grad accumulated; or, with `inputs`, the gradients of those tensors are
    returned (a list, None where no gradient arrived) and no .grad is touched."""
    global _RETAINING
    prev, _RETAINING = _RETAINING, retain_graph
    try:
        with collector_paused():
            if create_graph:
                with enable_grad():
                    return _run_backward(roots, grads, retain_graph, True, inputs)
            return _run_backward(roots, grads, retain_graph, False, inputs)
    finally:
        _RETAINING = prev


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off inside the block, and back to its previous state
    after it (also on error). Every backward pass runs inside one: the pass makes no reference
    cycles (it frees the graph by reference counting as it goes), but what it allocates would
    trigger full collections, each of which walks every object of the graph still alive; over
    a graph of a million nodes that was most of the time of backward. A program that records
    graphs of millions of ops may wrap its forward in one too, for the same reason (cycles it
    makes meanwhile are collected after the block). It switches the collector for the whole
    process, other threads included, while the block runs."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _plus(a, b, xp):
    """a + b for gradients; NumPy adds two 0-d arrays into a scalar, made an array again."""
    s = a + b
    return s if s.__class__ is Tensor or s.ndim else xp.asarray(s)


def _add(grads, edge, gi, xp):
    """Add gradient gi into the slot of node `edge` (or output k of (node, k))."""
    if edge.__class__ is tuple:
        node, k = edge
        slots = grads.get(node)
        if slots is None:
            slots = grads[node] = [None] * node.n_out
        slots[k] = gi if slots[k] is None else _plus(slots[k], gi, xp)
    else:
        prev = grads.get(edge)
        grads[edge] = gi if prev is None else _plus(prev, gi, xp)


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
                _accumulate_leaf(root, _call_hooks(getattr(root, "_hooks", None), g), fresh=False)
                for hook in list(_POST_ACCUMULATE_HOOKS.get(id(root), ())):
                    hook(root)
            continue
        _add(grads, _edge(root), g, backend.xp(root.device))
        nodes.append(root._ctx)
    order = _toposort(nodes)
    uses = _hooked_leaf_uses(order) if _POST_ACCUMULATE_HOOKS and captured is None else None
    hooked = {}   # leaf -> its summed gradient, when it has hooks: they see the total once
    # a pass with nothing to capture, no graph to record and no leaf hooks to count down: its
    # common nodes take the short way (below), with one check
    plain = captured is None and not create_graph and not uses
    for node in order:
        g = grads.pop(node, None)
        if g is None:
            if uses:
                _leaf_edges_done(node.parents, uses)
            continue
        multi = node.n_out > 1
        if (plain and not multi and node.pn is None and node._hooks is None and node.retained is None
                and not _ANOMALY):
            # The common node: one output, its edges in its slots, no hooks, nothing retained.
            # When every gradient it gives goes to a node, as an array of that input's shape, the
            # gradients are added here; else (a leaf input, broadcasting, ...) the general steps
            # below take over with the gradients computed here.
            versions = node.versions
            if versions is not None and (versions.__class__ is not _ndarray or versions[0] != 0):
                _check_versions(node)   # (a bare counter still at 0 needs no call)
            in_grads = node.fn.backward(node, g)
            shapes = node.shapes
            if in_grads.__class__ is _ndarray and len(shapes) == 1:
                g0, g1 = in_grads, None
            elif in_grads.__class__ is tuple and len(in_grads) == len(shapes):
                g0, g1 = in_grads[0], (in_grads[1] if len(shapes) > 1 else None)
            else:
                g0 = g1 = False   # not the common case
            p0, p1 = node.p0, node.p1
            if g0 is not False and (
                    g0 is None or p0 is None or p0.__class__ is Node
                    and g0.__class__ is _ndarray and g0.shape == shapes[0]) and (
                    g1 is None or p1 is None or p1.__class__ is Node
                    and g1.__class__ is _ndarray and g1.shape == shapes[1]):
                if g0 is not None and p0 is not None:
                    if node.k0 is None:
                        prev = grads.get(p0)
                        grads[p0] = g0 if prev is None else _plus(prev, g0, node.xp)
                    else:   # output k0 of a node with several
                        _add(grads, (p0, node.k0), g0, node.xp)
                if g1 is not None and p1 is not None:
                    if node.k1 is None:
                        prev = grads.get(p1)
                        grads[p1] = g1 if prev is None else _plus(prev, g1, node.xp)
                    else:
                        _add(grads, (p1, node.k1), g1, node.xp)
                if not retain_graph and (node.saved or node.__dict__):
                    node.release()
                continue
        else:
            if not multi:
                if node._hooks is not None:
                    g = _call_hooks(node._hooks, g)
            elif "out_hooks" in node.__dict__:
                g = [gk if gk is None or k not in node.out_hooks else _call_hooks(node.out_hooks[k], gk)
                     for k, gk in enumerate(g)]
            if node.versions is not None:
                _check_versions(node)
            if node.retained is not None or captured is not None:
                _retained_and_captured(node, g if multi else (g,), captured, slot_pos)
            if create_graph:
                in_grads = _graph_backward(node, _materialize(node, g, True) if multi else (g,))
            elif multi:
                in_grads = node.fn.backward(node, *_materialize(node, g, False))
            else:
                in_grads = node.fn.backward(node, g)
        if in_grads.__class__ is not tuple:
            in_grads = tuple(in_grads) if isinstance(in_grads, (tuple, list)) else (in_grads,)
        pn = node.pn
        n_in = len(node.needs_input_grad)
        if len(in_grads) != n_in:
            in_grads = _per_argument(node, in_grads, n_in)
        xp = node.xp
        given = None
        if pn is None:   # one or two inputs, their edges in the node's slots
            parents, outs = (node.p0, node.p1), (node.k0, node.k1)
        else:
            parents, outs = pn, _NO_OUTS
        for parent, k, gi, shape in zip(parents, outs, in_grads, node.shapes):
            if parent is None or gi is None:
                continue
            if parent.__class__ is tuple:   # (node, k) in a wide node's tuple of edges
                parent, k = parent
            if create_graph:
                gi = _as_graph_grad(node, gi)
            elif gi.__class__ is not _ndarray and not backend.is_array(gi):
                gi = xp.asarray(gi)
            if gi.shape != shape:
                try:
                    gi = unbroadcast(gi, shape)
                except ValueError as e:
                    raise AutogradError(f"{node.fn.__name__}.backward: {e}") from None
            if _ANOMALY:
                _check_finite(gi.array if create_graph else gi, f"backward of {node.fn.__name__}")
            if parent.__class__ is Node:
                if k is None:
                    prev = grads.get(parent)
                    grads[parent] = gi if prev is None else _plus(prev, gi, xp)
                else:
                    _add(grads, (parent, k), gi, xp)
            elif captured is not None:
                i = leaf_pos.get(id(parent))
                if i is not None:
                    captured[i] = gi if captured[i] is None else captured[i] + gi
            elif getattr(parent, "_hooks", None):
                prev = hooked.get(parent)
                hooked[parent] = gi if prev is None else prev + gi
            else:
                # a gradient array made by this backward becomes the leaf's own; one passed
                # through (the incoming g, a view, one already given to another leaf) is copied
                fresh = gi is not g and getattr(gi, "base", None) is None and \
                    (given is None or not any(gi is o for o in given))
                if fresh:
                    given = [gi] if given is None else given + [gi]
                _accumulate_leaf(parent, gi, fresh)
                if uses and id(parent) in uses:
                    uses[id(parent)][1] = True
        if uses:
            _leaf_edges_done(node.parents, uses)
        if not retain_graph and (node.saved or node.__dict__):   # else nothing to drop
            node.release()
    for t, g in hooked.items():
        _accumulate_leaf(t, _call_hooks(t._hooks, g), fresh=False)
    return captured


_NO_OUTS = itertools.repeat(None)


def _check_versions(node):
    """Refuse to run node's backward when an array it saved was changed in place since forward."""
    versions = node.versions
    if versions.__class__ is not tuple:   # one bare counter, saved at version 0
        versions = (versions, 0)
    for j in range(0, len(versions), 2):
        c, v = versions[j], versions[j + 1]
        if c[0] != v:
            raise AutogradError(
                f"{node.fn.__name__}: an input saved for backward was modified in place after "
                f"forward (or the output it saved; version {v} -> {c[0]}), directly or through "
                "a view; use an out-of-place op instead")


def _per_argument(node, in_grads, n_in):
    """A custom backward may return one gradient per *tensor* input: spread them out to one
    per forward argument."""
    tensor_pos = [i for i, s in enumerate(node.shapes) if s is not None]
    if len(in_grads) != len(tensor_pos):
        raise AutogradError(f"{node.fn.__name__}.backward returned {len(in_grads)} gradients, "
                            f"expected {n_in} (one per forward argument)")
    full = [None] * n_in
    for i, gi in zip(tensor_pos, in_grads):
        full[i] = gi
    return full


def _call_hooks(hooks, g):
    """Run register_hook hooks (of a leaf tensor, or of the node that made a non-leaf one) on
    its gradient; a hook that returns a tensor replaces the gradient."""
    for hook in list(hooks or ()):
        graph = g.__class__ is Tensor   # create_graph: the gradient is already a Tensor
        out = hook(g if graph else Tensor._wrap(g, backend.device_of(g)))
        if out is not None:
            new = out if graph else (out.array if isinstance(out, Tensor) else out)
            if tuple(new.shape) != tuple(g.shape) or not (graph or backend.is_array(new)):
                raise AutogradError(f"register_hook: a hook returned {type(out).__name__} "
                                    f"{getattr(new, 'shape', '')}; expected a tensor of shape {tuple(g.shape)}")
            g = new
    return g


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
    meta = node.out_meta
    for k, g in enumerate(slots):
        if g is None:
            shape, dtype = meta[2 * k], meta[2 * k + 1]
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
        roles = node.saved_roles or (None,) * len(node.saved)
        self.saved = tuple(_saved_tensor(node, a, r) for a, r in zip(node.saved, roles))
        self.saved_tensors = self.saved

    def __getattr__(self, name):
        return getattr(self._node, name)


def _node_device(node):
    return "cpu" if node.xp is backend.xp("cpu") else "cuda"


def _saved_tensor(node, arr, role):
    """A saved array as a Tensor: the input tensor it was (a leaf, or a tensor with the same
    place in the graph), the node's output (a tensor whose grad_fn is the node), or else a
    constant. role: see _note_saved."""
    if not backend.is_array(arr):
        return arr
    device = backend.device_of(arr)
    if role == -1:
        return _output(node.fn, arr, device, node, 0)
    if role is not None:
        edge = node.parents[role]
        if edge is not None:
            if edge.__class__ is Node:
                return _output(edge.fn, arr, device, edge, 0)
            if edge.__class__ is tuple:
                return _output(edge[0].fn, arr, device, edge[0], edge[1])
            return edge   # a leaf tensor
    return Tensor._wrap(arr, device)


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
        if root.array.size != 1:
            raise AutogradError(f"backward: grad can be implicitly created only for scalar outputs, "
                                f"got shape {root.shape}; pass grad= of that shape")
        g = xp.ones(root.array.shape, dtype=root.dtype)
        return Tensor._wrap(g, root.device) if create_graph else g
    if create_graph and isinstance(grad, Tensor):
        if grad.shape != root.shape:
            raise AutogradError(f"backward: grad has shape {grad.shape}, expected {root.shape}")
        return grad
    g = grad.array if isinstance(grad, Tensor) else grad
    if backend.is_array(g):   # onto our device first: NumPy cannot read a CuPy array
        g = backend.to_device(g, root.device)
    g = xp.asarray(g, dtype=root.dtype)
    if g.shape != root.array.shape:
        raise AutogradError(f"backward: grad has shape {g.shape}, expected {root.shape}")
    g = g.copy()
    return Tensor._wrap(g, root.device) if create_graph else g


# ------------------------------------------------------------------ the tensor types
# Tensor (tensor.py) and TensorXP (tensor_xp.py) are built on this module, so it does not import
# them, which would be an import cycle: the package's __init__ hands them over once, below
# every import, with use_tensor_types. Until then no op can run.
Tensor = TensorXP = None


def use_tensor_types(tensor_cls, tensor_xp_cls):
    """The Tensor class the engine makes outputs and gradients of, and the array namespace a
    backward gets under create_graph (called by tinygrad_seq/__init__.py)."""
    global Tensor, TensorXP
    Tensor, TensorXP = tensor_cls, tensor_xp_cls
