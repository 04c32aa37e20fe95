"""The exercise checker: runs tg.gradcheck on each exercise's Function and says, per
exercise, pass / not attempted / which input and element disagree, with a hint.

    python -m demos exercises [NAME|all] [--solutions | --library] [--file PATH]
"""
import importlib
import importlib.util
import inspect
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.panel import Panel
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import nn
from tinygrad_seq.gradcheck import gradcheck_report, gradgradcheck_report

from demos import common

DESCRIPTION = ("write the backward passes yourself (sigmoid ... LSTM/GRU step, a twice-differentiable "
               "softplus); gradcheck says where you are wrong")


# ---------------------------------------------------------------- the exercises
@dataclass
class Exercise:
    name: str            # the command's NAME, and the file demos/exercises/<name>.py
    cls: str             # the Function subclass in that file
    args: tuple          # forward's argument names (tensors and plain values), in order
    make_inputs: object  # (rng, device) -> list of forward arguments (float64 leaves require grad)
    library: object      # the library's own op with the same interface: library(*inputs) -> Tensor
    hint: str            # what learners most often get wrong
    diagnose: object = None   # optional (failing InputResults, inputs) -> a more precise hint
    second_hint: str = ""     # set for an exercise whose backward must be twice differentiable:
    #                           gradgradcheck then also runs, and this is its hint


def _leaf(a, device):
    return tg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=True, device=device)


def _separated(rng, shape, device):
    """Values at least 0.1 apart, so a ±1e-6 nudge never changes which element is a maximum."""
    n = int(np.prod(shape))
    return _leaf((rng.permutation(n) * 0.1 + rng.uniform(0, 0.01, n)).reshape(shape) - n * 0.05, device)


def _cell_inputs(gates):
    def make(rng, device):
        B, I, H = 2, 3, 3
        a = [rng.normal(0, s, shape) for s, shape in
             [(1.0, (B, I)), (0.5, (B, H))] + ([(0.5, (B, H))] if gates == 4 else []) +
             [(0.5, (gates * H, I)), (0.5, (gates * H, H)), (0.5, (gates * H,)), (0.5, (gates * H,))]]
        return [_leaf(v, device) for v in a]
    return make


def _library_lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """nn.LSTMCell computing with the given tensors (plain tensors assigned to its weight
    names replace its parameters), with h' and c' stacked like the exercise."""
    cell = nn.LSTMCell(x.shape[1], h.shape[1]).double()
    cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh = w_ih, w_hh, b_ih, b_hh
    h_new, c_new = cell(x, (h, c))
    return tg.stack([h_new, c_new])


def _library_gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    cell = nn.GRUCell(x.shape[1], h.shape[1]).double()
    cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh = w_ih, w_hh, b_ih, b_hh
    return cell(x, h)


def _gate_diagnosis(gates, hints):
    """A hint from which gate's weight rows disagree (rows g*H .. (g+1)*H are gate g)."""
    def diagnose(bad, inputs):
        H = inputs[1].shape[1]
        for r in bad:
            if r.name in ("w_ih", "w_hh", "b_ih", "b_hh") and isinstance(r.index, tuple):
                gate = r.index[0] // H
                return (f"the {gates[gate]} rows of {r.name} (rows {gate * H}..{(gate + 1) * H - 1}) "
                        f"disagree: {hints[gate]}")
        return None
    return diagnose


def _maxpool_diagnosis(bad, inputs):
    """Does the worst element win several overlapping windows? Then its gradients were not added."""
    x, k, s = inputs
    a = x.numpy()
    T = (a.shape[2] - k) // s + 1
    pos = np.arange(T)[:, None] * s + np.arange(k)[None, :]
    winners = pos[np.arange(T), a[:, :, pos].argmax(axis=3)]          # (N, C, T)
    for r in bad:
        if r.name == "x" and isinstance(r.index, tuple):
            n, c, i = r.index
            wins = int((winners[n, c] == i).sum())
            if wins >= 2:
                return (f"x{list(r.index)} is the maximum of {wins} overlapping windows, so it should get "
                        f"the sum of their {wins} gradients: add them (scatter_add), do not assign")
    return None


def _ce_inputs(rng, device):
    return [_leaf(rng.normal(0, 1.5, (4, 5)), device),
            tg.Tensor(rng.integers(0, 5, 4).astype(np.int64), device=device)]


def _pool_inputs(rng, device):
    x = _separated(rng, (2, 2, 9), device)
    # make x[0, 0, 2] (shared by windows 0 and 1 with kernel 3, stride 2) win both
    x.array[0, 0, 2] = x.array.max() + 1
    return [x, 3, 2]


EXERCISES = {ex.name: ex for ex in [
    Exercise("sigmoid", "Sigmoid", ("x",),
             lambda rng, d: [_leaf(rng.normal(0, 2, (3, 4)), d)],
             lambda x: x.sigmoid(),
             "dσ/dx = σ(x)(1 - σ(x)): did you multiply grad by σ(x)(1-σ(x)), using the saved output y "
             "(not the input x)?"),
    Exercise("tanh", "Tanh", ("x",),
             lambda rng, d: [_leaf(rng.normal(0, 1.5, (3, 4)), d)],
             lambda x: x.tanh(),
             "d tanh/dx = 1 - tanh²(x) = 1 - y*y with the saved output y; did you square y and "
             "multiply by grad?"),
    Exercise("softmax_ce", "SoftmaxCrossEntropy", ("logits", "target"),
             _ce_inputs,
             lambda z, t: F.cross_entropy(z, t),
             "the gradient is (softmax(z) - onehot(y)) / N times grad: did you subtract 1 at the target "
             "class only, divide by the batch size N, and return None for the target?"),
    Exercise("matmul", "MatMul", ("a", "b"),
             lambda rng, d: [_leaf(rng.normal(size=(3, 4)), d), _leaf(rng.normal(size=(4, 5)), d)],
             lambda a, b: a @ b,
             "dA = grad @ Bᵀ (N, K) and dB = Aᵀ @ grad (K, M): check the order of the factors and "
             "which one is transposed"),
    Exercise("conv1d", "Conv1d", ("x", "w", "b"),
             lambda rng, d: [_leaf(rng.normal(size=(2, 3, 7)), d), _leaf(rng.normal(size=(4, 3, 3)), d),
                             _leaf(rng.normal(size=(4,)), d)],
             lambda x, w, b: F.conv1d(x, w, b),
             "offset j used x[:, :, j:j+T] and w[:, :, j]: dw[:, :, j] sums grad·x over batch and time, "
             "dx[:, :, j:j+T] must be accumulated (+=) over the offsets, db sums grad over axes 0 and 2"),
    Exercise("maxpool1d", "MaxPool1d", ("x", "kernel_size", "stride"),
             _pool_inputs,
             lambda x, k, s: F.max_pool1d(x, k, s),
             "only each window's winner (ctx.winner) gets the gradient, every other element 0; "
             "overlapping windows must add up (scatter_add), and kernel_size/stride get None",
             _maxpool_diagnosis),
    Exercise("lstm_step", "LSTMStep", ("x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh"),
             _cell_inputs(4), _library_lstm_step,
             "go back equation by equation: c' gets dL/dc' plus dL/dh'·o·(1 - tanh²(c')); every gate "
             "pre-activation gets its own σ' or tanh' factor; dc = dc'_total·f",
             _gate_diagnosis(["input gate (i)", "forget gate (f)", "candidate (g)", "output gate (o)"],
                             ["di = dc'_total·g, dz_i = di·i(1-i)",
                              "did you keep the forget-gate gradient df = dc'_total·c and dz_f = df·f(1-f)?",
                              "dg = dc'_total·i, dz_g = dg·(1-g²)",
                              "do = dh'·tanh(c'), dz_o = do·o(1-o)"])),
    Exercise("gru_step", "GRUStep", ("x", "h", "w_ih", "w_hh", "b_ih", "b_hh"),
             _cell_inputs(3), _library_gru_step,
             "h gets a direct gradient grad·z besides the one through W_hh; the n part of the hidden "
             "product is scaled by r (db_n = d(pre_n)·r) but the input part is not",
             _gate_diagnosis(["reset gate (r)", "update gate (z)", "candidate (n)"],
                             ["dr = d(pre_n)·b_n and d_r = dr·r(1-r), in both da and db",
                              "dz = grad·(h - n) and d_z = dz·z(1-z)",
                              "d(pre_n) = grad·(1-z)·(1-n²); the hidden part is d(pre_n)·r"])),
    Exercise("softplus", "Softplus", ("x",),
             lambda rng, d: [_leaf(rng.normal(0, 2, (3, 4)), d)],
             lambda x: F.softplus(x),
             "d softplus/dx = σ(x) = 1 / (1 + e^-x): multiply grad by it",
             second_hint="the first derivative is right but its own derivative is not: compute σ(x) in "
                         "backward from the saved input x with operators and ctx.xp.exp, not from a value "
                         "made in forward (a constant under create_graph=True)"),
]}


# ---------------------------------------------------------------- loading learners' code
def load_file(path):
    """Import a Python file by path (a learner's copy of an exercise)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exercises: no such file {str(path)!r}")
    spec = importlib.util.spec_from_file_location(f"exercise_file_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def functions_in(mod):
    """The tg.Function subclasses a module defines, by name."""
    return {n: c for n, c in vars(mod).items()
            if inspect.isclass(c) and issubclass(c, tg.Function) and c is not tg.Function}


def implementation(ex, source="exercises", module=None):
    """The callable to check for exercise `ex`: the learner's file in demos/exercises
    (source='exercises'), the solutions, the library's op, or a loaded `module`."""
    if source == "library":
        return ex.library
    if module is None:
        module = importlib.import_module("demos.exercises.solutions" if source == "solutions"
                                         else f"demos.exercises.{ex.name}")
    fns = functions_in(module)
    if ex.cls in fns:
        return fns[ex.cls].apply
    if len(fns) == 1:
        return next(iter(fns.values())).apply
    raise ValueError(f"exercises: {getattr(module, '__file__', module)} defines no Function class "
                     f"{ex.cls!r} (found: {', '.join(fns) or 'none'})")


# ---------------------------------------------------------------- checking
@dataclass
class ExerciseResult:
    name: str
    status: str                    # pass | not attempted | FAIL | error
    inputs: list = field(default_factory=list)   # InputResults, named by forward's arguments
    message: str = ""
    hint: str = ""

    @property
    def failing(self):
        return [r for r in self.inputs if not r.ok]


def check(ex, fn, seed=0, device="cpu"):
    """Gradcheck `fn` (an apply, or the library's op) on the exercise's inputs."""
    if isinstance(ex, str):
        ex = EXERCISES[ex]
    rng = np.random.default_rng(seed)
    inputs = ex.make_inputs(rng, device)
    # forward first: a changed forward would make every gradient comparison meaningless
    try:
        with tg.no_grad():
            ours, ref = fn(*inputs), ex.library(*inputs)
        if ours.shape != ref.shape or not np.allclose(ours.numpy(), ref.numpy(), rtol=1e-9, atol=1e-12):
            return ExerciseResult(ex.name, "error", message="forward differs from the library's "
                                  f"(shape {ours.shape} vs {ref.shape}): restore the given forward",
                                  hint="only backward is yours to write")
    except Exception as e:  # noqa: BLE001 - the learner's code may raise anything
        return ExerciseResult(ex.name, "error", message=f"forward raised {type(e).__name__}: {e}", hint=ex.hint)
    try:
        results = gradcheck_report(fn, inputs)
    except NotImplementedError as e:
        return ExerciseResult(ex.name, "not attempted", message=str(e) or "backward not written yet",
                              hint=f"open demos/exercises/{ex.name}.py and write backward")
    except Exception as e:  # noqa: BLE001 - wrong shapes, wrong number of gradients, ...
        return ExerciseResult(ex.name, "error", message=f"backward raised {type(e).__name__}: {e}", hint=ex.hint)
    tensor_args = [n for n, a in zip(ex.args, inputs) if isinstance(a, tg.Tensor) and a.requires_grad]
    for r, n in zip(results, tensor_args):
        r.name = n
    bad = [r for r in results if not r.ok]
    if not bad and ex.second_hint:
        return _check_second_order(ex, fn, inputs, results, tensor_args)
    if not bad:
        return ExerciseResult(ex.name, "pass", results)
    where = _where(bad)
    hint = (ex.diagnose(bad, inputs) if ex.diagnose else None) or ex.hint
    return ExerciseResult(ex.name, "FAIL", results, message=where, hint=hint)


def _check_second_order(ex, fn, inputs, first, tensor_args):
    """gradgradcheck, once the first derivatives are right: the backward, recorded with
    create_graph=True, differentiated again against central differences of the gradient."""
    try:
        results = gradgradcheck_report(fn, inputs)
    except Exception as e:  # noqa: BLE001 - e.g. a backward that leaves the graph (raw arrays)
        return ExerciseResult(ex.name, "FAIL", first, message=f"second order: {type(e).__name__}: {e}",
                              hint=ex.second_hint)
    for r, n in zip(results, tensor_args):
        r.name = f"{n} (2nd)"
    bad = [r for r in results if not r.ok]
    if not bad:
        return ExerciseResult(ex.name, "pass", first + results)
    return ExerciseResult(ex.name, "FAIL", first + results, message=_where(bad), hint=ex.second_hint)


def _where(bad):
    return "; ".join(f"{r.name}{list(r.index) if isinstance(r.index, tuple) else ' ' + str(r.index)}: "
                     f"analytic {r.analytic:.6g} vs numeric {r.numeric:.6g} (off by {r.abs_err:.2g})"
                     for r in bad)


def check_all(names=None, source="exercises", module=None, seed=0, device="cpu"):
    out = {}
    for name in names or list(EXERCISES):
        ex = EXERCISES[name]
        try:
            fn = implementation(ex, source, module)
        except Exception as e:  # noqa: BLE001 - a learner's file that does not import
            out[name] = ExerciseResult(name, "error", message=f"could not load: {type(e).__name__}: {e}")
            continue
        out[name] = check(ex, fn, seed, device)
    return out


# ---------------------------------------------------------------- the command
STYLE = {"pass": "bold green", "not attempted": "yellow", "FAIL": "bold red", "error": "bold magenta"}


def report_table(results, title):
    table = Table(title=title)
    for col in ("exercise", "verdict", "input", "element", "analytic", "numeric", "abs err"):
        table.add_column(col, justify="right" if col in ("analytic", "numeric", "abs err") else "left")
    for res in results.values():
        verdict = f"[{STYLE[res.status]}]{res.status}[/]"
        if res.status == "pass":    # every input agrees: name them and the largest error
            table.add_row(res.name, verdict, ", ".join(r.name for r in res.inputs), "", "", "",
                          f"{max(r.abs_err for r in res.inputs):.1e}")
        elif res.status == "FAIL":  # one row per disagreeing input, at its worst element
            for k, r in enumerate(res.failing):
                table.add_row(res.name if k == 0 else "", verdict if k == 0 else "", r.name, str(r.index),
                              f"{r.analytic:.4g}", f"{r.numeric:.4g}", f"{r.abs_err:.1e}")
        else:
            table.add_row(res.name, verdict, "", "", "", "", "")
    return table


def main(argv=None, console=None):
    p = common.parser("exercises", __doc__ + """
Each exercise is a file in demos/exercises/ with a tg.Function whose forward is
given and whose backward raises NotImplementedError: write it, then run this
command. --file checks your own copy of an exercise file instead.
Exit status: 0 when every checked exercise passes, 1 otherwise (a failure, an
error, or an exercise not attempted yet), 2 for a wrong call (e.g. no such file).
exercises: """ + ", ".join(EXERCISES))
    p.add_argument("name", nargs="?", default="all", help="an exercise name, or all (default)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--solutions", action="store_true", help="check the shipped solutions")
    src.add_argument("--library", action="store_true", help="check the library's own ops in the same harness")
    p.add_argument("--file", help="check the Function in this Python file (your copy of an exercise)")
    a = p.parse_args(argv)
    console = console or common.make_console()
    common.setup(a)
    module = None
    names = None if a.name == "all" else [a.name]
    if a.name != "all" and a.name not in EXERCISES:
        p.error(f"unknown exercise {a.name!r}; choose from: all, {', '.join(EXERCISES)}")
    if a.file:
        module = load_file(a.file)
        if names is None:   # which exercise? the Function classes the file defines say
            fns = functions_in(module)
            names = [n for n, ex in EXERCISES.items() if ex.cls in fns] or \
                [n for n in EXERCISES if n == Path(a.file).stem]
            if not names:
                p.error(f"{a.file} defines none of the exercise classes "
                        f"({', '.join(ex.cls for ex in EXERCISES.values())}); name the exercise")
    source = "solutions" if a.solutions else "library" if a.library else "exercises"
    results = check_all(names, source, module, a.seed, a.device)
    what = a.file or {"solutions": "demos/exercises/solutions.py", "library": "the library's ops",
                      "exercises": "demos/exercises/*.py"}[source]
    console.print(report_table(results, f"gradcheck of your backward passes ({what}), float64, "
                                        "central differences"))
    for res in results.values():
        if res.status in ("FAIL", "error"):
            console.print(Panel(f"{res.message}\n[bold]hint:[/] {res.hint}", title=f"{res.name}: {res.status}",
                                border_style=STYLE[res.status]))
    counts = {s: sum(r.status == s for r in results.values()) for s in STYLE}
    console.print(f"{counts['pass']}/{len(results)} pass, {counts['not attempted']} not attempted, "
                  f"{counts['FAIL']} fail, {counts['error']} error")
    if counts["not attempted"] == len(results):
        console.print("start with [bold]demos/exercises/sigmoid.py[/]: write backward, then "
                      "[bold]python -m demos exercises sigmoid[/]")
    # the exit status, for scripts and CI: 0 only when every checked exercise passes (one that is
    # not attempted yet is not a success)
    exit_code = 0 if counts["pass"] == len(results) else 1
    return {"results": results, "status": {n: r.status for n, r in results.items()},
            "passed": counts["pass"], "total": len(results), "exit_code": exit_code}
