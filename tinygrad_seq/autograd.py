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
import weakref

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
                 "versions", "retained", "released", "__dict__", "__weakref__")

    def __init__(self, fn, xp):
        self.fn = fn
        self.xp = xp
        self.saved = ()
        self.versions = None
        self.retained = None
        self.released = False

    # torch.autograd.Function's ctx interface
    def save_for_backward(self, *arrays):
        self.saved = arrays

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
        """Drop everything forward saved, so the arrays can be freed."""
        self.__dict__.clear()
        self.saved = ()
        self.parents = None
        self.versions = None
        self.released = True

    def __repr__(self):
        return f"<{self.fn.__name__}Backward>"


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

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        raw = []
        needs = []
        device = None
        requires = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                if device is None:
                    device = a.device
                elif a.device != device:
                    raise RuntimeError(f"{cls.__name__}: expected all tensors on the same device, "
                                       f"got {device} and {a.device}")
                r = a.requires_grad
                needs.append(r)
                requires = requires or r
            else:
                raw.append(a)
                needs.append(False)
        xp = backend.xp(device or "cpu")
        ctx = Node(cls, xp)
        ctx.needs_input_grad = needs
        try:
            out = cls.forward(ctx, *raw, **kwargs)
        except (ValueError, TypeError, IndexError) as e:
            raise _op_error(cls, args, e) from e
        if not backend.is_array(out):
            out = xp.asarray(out)
        if _ANOMALY:
            _check_finite(out, f"forward of {cls.__name__}")
        t = Tensor.__new__(Tensor)
        t.data = out
        t.device = device or "cpu"
        t.grad = None
        t._vc = None
        if requires and _GRAD_ENABLED:
            ctx.parents = tuple((a._ctx or a) if (isinstance(a, Tensor) and a.requires_grad) else None
                                for a in args)
            ctx.shapes = tuple(a.data.shape if isinstance(a, Tensor) else None for a in args)
            if ctx.saved:
                ctx.versions = _saved_versions(ctx.saved, args, t)
            t.requires_grad = True
            t._ctx = ctx
        else:
            t.requires_grad = False
            t._ctx = None
        return t


def _saved_versions(saved, args, out):
    """(version counter, its value now) of each input or output whose array forward saved, so the
    engine can catch an in-place change made after forward, through any view (views share
    their base's counter). A counter, not the tensor, is kept: no reference cycle to the output."""
    versions = []
    for a in args:
        if isinstance(a, Tensor):
            d = a.data
            for s in saved:
                if s is d:
                    c = a._counter()
                    versions.append((c, c[0]))
                    break
    d = out.data
    for s in saved:
        if s is d:
            out._vc = c = [0]
            versions.append((c, 0))
            break
    return versions or None


def add_saved_versions(node, tensors):
    """Also check, before `node`'s backward, that `tensors` (index tensors, say) kept their values."""
    if node is not None and tensors:
        node.versions = (node.versions or []) + [(c, c[0]) for c in (t._counter() for t in tensors)]


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
            if p is not None and p.__class__ is not Node and id(p) in _POST_ACCUMULATE_HOOKS:
                uses.setdefault(id(p), [0, False, p])[0] += 1
    return uses


def _leaf_edges_done(parents, uses):
    """Count down the hooked leaves among a processed node's inputs; call the hooks of a leaf
    whose last edge this was, if it got a gradient."""
    for p in parents:
        u = uses.get(id(p)) if p is not None and p.__class__ is not Node else None
        if u is not None:
            u[0] -= 1
            if u[0] == 0 and u[1]:
                for hook in list(_POST_ACCUMULATE_HOOKS.get(id(p), ())):
                    hook(p)


# ------------------------------------------------------------------ the engine
def _toposort(root):
    """Nodes reachable from `root`, each after every node that consumes it
    (reverse post-order of an iterative depth-first search)."""
    order, visited, stack = [], set(), [(root, False)]
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
            if p.__class__ is Node and p not in visited:
                stack.append((p, False))
    order.reverse()
    return order


def _accumulate_leaf(t, g, fresh):
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    elif not fresh:  # the array may be shared with another gradient: own a copy
        g = g.copy()
    if t.grad is None:
        t.grad = Tensor._wrap(g, t.device)
    else:
        s = t.grad.data + g
        t.grad.data = s if s.ndim else backend.xp(t.device).asarray(s)   # 0-d + 0-d is a NumPy scalar


_RETAINING = False   # retain_graph of the backward pass now running (see Node.last_backward)


def run_backward(root, grad, retain_graph=False):
    """Backpropagate `grad` (a backend array shaped like root) from tensor `root`."""
    global _RETAINING
    prev, _RETAINING = _RETAINING, retain_graph
    try:
        _run_backward(root, grad, retain_graph)
    finally:
        _RETAINING = prev


def _run_backward(root, grad, retain_graph):
    if root._ctx is None:  # a leaf: its gradient is the seed itself
        _accumulate_leaf(root, _call_hooks(root, grad), fresh=False)
        for hook in list(_POST_ACCUMULATE_HOOKS.get(id(root), ())):
            hook(root)
        return
    order = _toposort(root._ctx)
    uses = _hooked_leaf_uses(order) if _POST_ACCUMULATE_HOOKS else None
    grads = {root._ctx: grad}
    hooked = {}   # leaf -> its summed gradient, when it has hooks: they see the total once
    for node in order:
        g = grads.pop(node, None)
        if g is None:
            if uses:
                _leaf_edges_done(node.parents, uses)
            continue
        if "_hooks" in node.__dict__:
            g = _call_hooks(node, g)
        if node.versions:
            for c, v in node.versions:
                if c[0] != v:
                    raise AutogradError(
                        f"{node.fn.__name__}: an input saved for backward was modified in place after "
                        f"forward (or the output it saved; version {v} -> {c[0]}), directly or through "
                        "a view; use an out-of-place op instead")
        if node.retained is not None:
            t = node.retained()
            if t is not None:
                _accumulate_leaf(t, g, fresh=False)
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
            if not backend.is_array(gi):
                gi = node.xp.asarray(gi)
            if gi.shape != shape:
                try:
                    gi = unbroadcast(gi, shape)
                except ValueError as e:
                    raise AutogradError(f"{node.fn.__name__}.backward: {e}") from None
            if _ANOMALY:
                _check_finite(gi, f"backward of {node.fn.__name__}")
            if parent.__class__ is Node:
                prev = grads.get(parent)
                if prev is not None:
                    gi = prev + gi
                    if not gi.ndim:   # 0-d + 0-d is a NumPy scalar
                        gi = node.xp.asarray(gi)
                grads[parent] = gi
            elif getattr(parent, "_hooks", None):
                prev = hooked.get(parent)
                hooked[parent] = gi if prev is None else prev + gi
            else:
                fresh = gi is not g and id(gi) not in seen and gi.base is None
                seen.add(id(gi))
                _accumulate_leaf(parent, gi, fresh)
                if uses and id(parent) in uses:
                    uses[id(parent)][1] = True
        if uses:
            _leaf_edges_done(parents, uses)
        if not retain_graph:
            node.release()
    for t, g in hooked.items():
        _accumulate_leaf(t, _call_hooks(t, g), fresh=False)


def _call_hooks(owner, g):
    """Run the register_hook hooks of a leaf tensor or of the node of a non-leaf one on its
    gradient; a hook that returns a tensor replaces the gradient."""
    for hook in list(getattr(owner, "_hooks", None) or ()):
        out = hook(Tensor._wrap(g, backend.device_of(g)))
        if out is not None:
            new = out.data if isinstance(out, Tensor) else out
            if not backend.is_array(new) or new.shape != g.shape:
                raise AutogradError(f"register_hook: a hook returned {type(out).__name__} "
                                    f"{getattr(new, 'shape', '')}; expected a tensor of shape {g.shape}")
            g = new
    return g


from .tensor import Tensor  # noqa: E402  (tensor.py imports this module's names first)
