"""Numerical gradient checking: does an op's backward agree with central differences?

    gradcheck(fn, inputs)            # fn(*inputs) -> Tensor (or nested tuples of them)
    gradcheck(MyFunction, inputs)    # a custom Function directly
    gradcheck(lambda x: lstm(x)[0], [x], params=lstm.parameters())

Outputs are projected onto a fixed random direction v, L = Σ v·fn(x), so any
output shape works. The analytic dL/dx (one backward) is compared with
(L(x + ε e_i) - L(x - ε e_i)) / 2ε for every element i of small inputs, and along
a few random directions for large ones. Everything in float64.
"""
import io
from dataclasses import dataclass

import numpy as np

from . import backend
from .autograd import Function, no_grad, enable_grad
from .tensor import Tensor, float64

MAX_ELEMENTWISE = 512   # inputs up to this size are checked element by element
N_DIRECTIONS = 4        # larger ones along this many random directions


class GradcheckError(AssertionError):
    """Raised by gradcheck when analytic and numeric gradients disagree."""


@dataclass
class InputResult:
    """How one checked tensor fared: its worst element (or direction)."""
    name: str
    shape: tuple
    index: object          # element index, or "direction k"
    analytic: float
    numeric: float
    abs_err: float
    rel_err: float
    ok: bool


def _flatten(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    return []


def _projection(fn, args, vs):
    outs = [o for o in _flatten(fn(*args)) if o.dtype.kind == "f"]
    total = 0.0
    for o, v in zip(outs, vs):
        total = total + (o * v).sum() if isinstance(total, Tensor) else (o * v).sum()
    return total, outs


def gradcheck_report(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, params=None, names=None, seed=0,
                     constant_ok=False):
    """Per checked tensor, an InputResult; see gradcheck for the arguments. constant_ok: an
    output with no graph is allowed (its analytic gradient is zero), as for the gradient of a
    piecewise-linear function in gradgradcheck."""
    if isinstance(fn, type) and issubclass(fn, Function):
        fn = fn.apply
    args = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    checked = [(f"input {i}", a) for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    for j, p in enumerate(params or []):
        checked.append((names[j] if names else f"param {j}", p))
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for name, t in checked:
        if t.dtype != float64:
            raise TypeError(f"gradcheck: {name} has dtype {t.dtype}; numerical gradients need float64 "
                            "(use .double() on tensors and modules)")
    rng = np.random.default_rng(seed)  # local: gradcheck never disturbs manual_seed's stream

    # analytic: one backward of L = Σ v·out
    saved_grads = [t.grad for _, t in checked]
    for _, t in checked:
        t.grad = None
    with no_grad():
        outs = [o for o in _flatten(fn(*args)) if o.dtype.kind == "f"]
    vs = [Tensor(backend.to_device(rng.standard_normal(o.shape), o.device)) for o in outs]
    L, _ = _projection(fn, args, vs)
    if isinstance(L, Tensor) and L.requires_grad:
        L.backward()
    elif not constant_ok:
        raise ValueError("gradcheck: the function's output does not depend on any checked input")
    analytic = [backend.to_numpy(t.grad.array) if t.grad is not None else np.zeros(t.shape)
                for _, t in checked]
    for (_, t), g in zip(checked, saved_grads):
        t.grad = g

    def L_at():
        with no_grad():
            return float(_projection(fn, args, vs)[0].item())

    results = []
    for (name, t), ga in zip(checked, analytic):
        data = t.array
        if data.size <= MAX_ELEMENTWISE:
            idxs = list(np.ndindex(*t.shape))
            num = np.zeros(len(idxs))
            for k, idx in enumerate(idxs):
                orig = data[idx].item()
                data[idx] = orig + eps
                fp = L_at()
                data[idx] = orig - eps
                fm = L_at()
                data[idx] = orig
                num[k] = (fp - fm) / (2 * eps)
            ana = np.array([ga[idx] for idx in idxs])
            labels = idxs
        else:
            num, ana, labels = np.zeros(N_DIRECTIONS), np.zeros(N_DIRECTIONS), []
            orig = data.copy()
            for k in range(N_DIRECTIONS):
                d = rng.standard_normal(t.shape)
                d_dev = backend.to_device(d, t.device)
                data[...] = orig + eps * d_dev
                fp = L_at()
                data[...] = orig - eps * d_dev
                fm = L_at()
                data[...] = orig
                num[k] = (fp - fm) / (2 * eps)
                ana[k] = float((ga * d).sum())
                labels.append(f"direction {k}")
        err = np.abs(ana - num)
        excess = err - (atol + rtol * np.abs(num))
        w = int(np.argmax(excess)) if len(excess) else 0
        results.append(InputResult(
            name=name, shape=tuple(t.shape), index=labels[w] if labels else None,
            analytic=float(ana[w]) if len(ana) else 0.0, numeric=float(num[w]) if len(num) else 0.0,
            abs_err=float(err[w]) if len(err) else 0.0,
            rel_err=float(err[w] / max(abs(num[w]), 1e-12)) if len(err) else 0.0,
            ok=bool((excess <= 0).all())))
    return results


def format_report(results, title="gradcheck"):
    """The results as a rich table, rendered to plain text."""
    from rich.console import Console
    from rich.table import Table
    table = Table(title=title)
    for col in ("input", "shape", "worst element", "analytic", "numeric", "abs err", "rel err", "verdict"):
        table.add_column(col)
    for r in results:
        table.add_row(r.name, str(r.shape), str(r.index), f"{r.analytic:.6g}", f"{r.numeric:.6g}",
                      f"{r.abs_err:.2e}", f"{r.rel_err:.2e}", "ok" if r.ok else "MISMATCH")
    buf = io.StringIO()
    Console(file=buf, width=120, force_terminal=False, color_system=None).print(table)
    return buf.getvalue()


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, params=None):
    """True when fn's analytic gradients match central differences for every input
    that requires grad (and every tensor in `params`, perturbed in place but not
    passed to fn). On a mismatch raise GradcheckError (or return False when
    raise_exception=False) with a table naming the input, its worst element, the
    analytic and numeric values and their absolute and relative error."""
    params = list(params) if params is not None else None
    results = gradcheck_report(fn, inputs, eps, atol, rtol, params)
    if all(r.ok for r in results):
        return True
    if raise_exception:
        bad = [r for r in results if not r.ok]
        raise GradcheckError(f"gradcheck failed for {', '.join(r.name for r in bad)}\n" + format_report(results))
    return False


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Second derivatives, as torch.autograd.gradgradcheck: the analytic gradient of fn,
    G(x) = Σ_k v_k · d fn(x)_k / dx for a fixed random v (recorded with create_graph=True),
    is itself checked by gradcheck: its own analytic gradient (a backward through the
    recorded backward) against central differences of G. A mismatch names the input and
    its worst element, as gradcheck does."""
    results = gradgradcheck_report(fn, inputs, eps, atol, rtol, seed)
    if all(r.ok for r in results):
        return True
    if raise_exception:
        bad = [r for r in results if not r.ok]
        raise GradcheckError(f"gradgradcheck failed for {', '.join(r.name for r in bad)} (second derivatives)\n"
                             + format_report(results, "gradgradcheck"))
    return False


def gradgradcheck_report(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """gradgradcheck's InputResults (one per input that requires grad), without raising."""
    from .autograd import grad
    if isinstance(fn, type) and issubclass(fn, Function):
        fn = fn.apply
    args = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    rng = np.random.default_rng(seed + 1)
    with no_grad():
        outs = [o for o in _flatten(fn(*args)) if o.dtype.kind == "f"]
    vs = [Tensor(backend.to_device(rng.standard_normal(o.shape), o.device)) for o in outs]

    def first_grad(*xs):
        outs = [o for o in _flatten(fn(*xs)) if o.dtype.kind == "f" and o.requires_grad]
        live = [(o, v) for o, v in zip(outs, vs)]
        xs_diff = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        return grad([o for o, _ in live], xs_diff, [v for _, v in live], create_graph=True, allow_unused=True)

    def checked(*xs):
        with enable_grad():   # gradcheck evaluates under no_grad; G itself needs a graph
            return tuple(g for g in first_grad(*xs) if g is not None)

    return gradcheck_report(checked, args, eps, atol, rtol, seed=seed, constant_ok=True)
