"""Gradient check of every op: analytic backward against central differences, in float64.
--second-order also checks second derivatives (gradgradcheck: the backward, recorded with
create_graph=True, differentiated again); for piecewise linear ops (relu, max, ...) they are
zero and the check passes trivially.

    python -m demos gradcheck [--quick] [--seed N] [--device cpu|cuda] [--op NAME] [--second-order]
"""
import numpy as np
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import nn
from tinygrad_seq.gradcheck import gradcheck_report, gradgradcheck_report
from demos import common

DESCRIPTION = "gradcheck every op and layer (float64): analytic vs numeric gradient, worst error and verdict"

# name -> (fn, input shapes, input kind). kinds: any | pos (for log, sqrt, pow) | nonzero (away from kinks)
OPS = {
    "add (broadcast)": (lambda a, b: a + b, [(3, 4), (4,)], "any"),
    "sub (broadcast)": (lambda a, b: a - b, [(2, 3, 4), (3, 1)], "any"),
    "mul (broadcast)": (lambda a, b: a * b, [(3, 1), (1, 4)], "any"),
    "div": (lambda a, b: a / b, [(3, 4), (3, 4)], "pos"),
    "neg": (lambda a: -a, [(3, 4)], "any"),
    "pow (scalar)": (lambda a: a ** 3, [(3, 4)], "any"),
    "pow (tensor)": (lambda a, b: a ** b, [(3, 4), (4,)], "pos"),
    "exp": (lambda a: a.exp(), [(3, 4)], "any"),
    "log": (lambda a: a.log(), [(3, 4)], "pos"),
    "sqrt": (lambda a: a.sqrt(), [(3, 4)], "pos"),
    "abs": (lambda a: abs(a), [(3, 4)], "nonzero"),
    "tanh": (lambda a: a.tanh(), [(3, 4)], "any"),
    "sigmoid": (lambda a: a.sigmoid(), [(3, 4)], "any"),
    "relu": (lambda a: a.relu(), [(3, 4)], "nonzero"),
    "leaky_relu": (lambda a: a.leaky_relu(0.1), [(3, 4)], "nonzero"),
    "maximum": (lambda a, b: a.maximum(b), [(3, 4), (4,)], "nonzero"),
    "minimum": (lambda a, b: a.minimum(b), [(3, 4), (3, 1)], "nonzero"),
    "clip": (lambda a: a.clip(-0.5, 0.5), [(3, 4)], "nonzero"),
    "where": (lambda a, b: tg.where(a > 0, a, b), [(3, 4), (3, 4)], "nonzero"),
    "matmul 1-D": (lambda a, b: a @ b, [(4,), (4, 3)], "any"),
    "matmul 2-D": (lambda a, b: a @ b, [(3, 4), (4, 5)], "any"),
    "matmul batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 5)], "any"),
    "sum (axis)": (lambda a: a.sum(axis=1), [(3, 4)], "any"),
    "mean (keepdim)": (lambda a: a.mean(dim=0, keepdim=True), [(3, 4)], "any"),
    "var": (lambda a: a.var(dim=1), [(3, 4)], "any"),
    "amax (axis)": (lambda a: a.amax(axis=1), [(3, 4)], "any"),
    "min": (lambda a: a.min(), [(3, 4)], "any"),
    "logsumexp": (lambda a: a.logsumexp(dim=1), [(3, 4)], "any"),
    "softmax": (lambda a: a.softmax(-1), [(3, 4)], "any"),
    "log_softmax": (lambda a: a.log_softmax(-1), [(3, 4)], "any"),
    "reshape": (lambda a: a.reshape(4, -1).exp(), [(2, 3, 2)], "any"),
    "flatten": (lambda a: a.flatten(1).tanh(), [(2, 3, 2)], "any"),
    "transpose": (lambda a: a.transpose(0, 1) * 2, [(3, 4)], "any"),
    "permute": (lambda a: a.permute(2, 0, 1).exp(), [(2, 3, 2)], "any"),
    "expand": (lambda a: a.expand(3, 4) * 2, [(3, 1)], "any"),
    "squeeze/unsqueeze": (lambda a: a.squeeze(1).unsqueeze(0).exp(), [(3, 1)], "any"),
    "getitem (slices)": (lambda a: a[1:, ::2], [(3, 4)], "any"),
    "getitem (index array)": (lambda a: a[[0, 2, 2, 1]], [(3, 4)], "any"),
    "cat": (lambda a, b: tg.cat([a, b], dim=1), [(3, 2), (3, 4)], "any"),
    "stack": (lambda a, b: tg.stack([a, b], dim=0), [(3, 4), (3, 4)], "any"),
    "split": (lambda a: a.split(1, dim=1)[2] * 3, [(3, 4)], "any"),
    "chunk": (lambda a: a.chunk(2, dim=0)[1].exp(), [(4, 3)], "any"),
    "pad": (lambda a: a.pad((1, 2, 0, 1)), [(3, 4)], "any"),
    # layers (nn.functional), inputs and parameters alike
    "linear": (lambda x, w, b: F.linear(x, w, b), [(2, 3), (4, 3), (4,)], "any"),
    "conv1d (stride 2, pad 1)": (lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
                                 [(2, 3, 7), (4, 3, 3), (4,)], "any"),
    "conv2d (dilation 2)": (lambda x, w: F.conv2d(x, w, dilation=2, padding=1), [(1, 2, 6, 6), (3, 2, 3, 3)], "any"),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [(1, 2, 4, 4)], "any"),
    "avg_pool1d (padding)": (lambda x: F.avg_pool1d(x, 3, 2, 1), [(2, 3, 7)], "any"),
    "max-over-time": (lambda x: F.adaptive_max_pool1d(x, 1), [(2, 3, 6)], "any"),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)], "any"),
    "cross_entropy": (lambda x: F.cross_entropy(x, tg.tensor([0, 3, 1], device=x.device)), [(3, 5)], "any"),
    "mse_loss": (lambda x, y: F.mse_loss(x, y), [(3, 4), (3, 4)], "any"),
    "bce_with_logits": (lambda x: F.binary_cross_entropy_with_logits(x, tg.tensor([[0.0, 1.0], [1.0, 0.0]],
                                                                                   dtype=tg.float64, device=x.device)),
                        [(2, 2)], "any"),
    "LSTM cell step": (lambda x, h, c: _cell("lstm", x.device)(x, (h, c))[1], [(2, 3), (2, 4), (2, 4)], "any"),
    "GRU cell step": (lambda x, h: _cell("gru", x.device)(x, h), [(2, 3), (2, 4)], "any"),
    "LSTM layer (fused, 2 layers, bidirectional)": (
        lambda x: _cell("lstm_layer", x.device)(x)[0], [(4, 2, 3)], "any"),
}

_CELLS = {}


def _cell(kind, device="cpu"):
    """Fixed float64 layers for the rows above, on the input's device (their own parameters
    are checked in the tests)."""
    if (kind, device) not in _CELLS:
        tg.manual_seed(0)
        layer = {"lstm": lambda: nn.LSTMCell(3, 4), "gru": lambda: nn.GRUCell(3, 4),
                 "lstm_layer": lambda: nn.LSTM(3, 2, num_layers=2, bidirectional=True)}[kind]()
        _CELLS[kind, device] = layer.double().to(device)
    return _CELLS[kind, device]


def make_input(shape, kind, rng, device):
    if kind == "pos":
        a = rng.uniform(0.5, 2.0, shape)
    else:
        a = rng.standard_normal(shape)
        if kind == "nonzero":
            a = np.where(np.abs(a) < 0.1, 0.3, a)
    return tg.Tensor(a, requires_grad=True, device=device)


def run(ops=None, seed=0, device="cpu", second_order=False):
    """[(op, shapes, worst abs error, worst rel error, ok, second)] for each op; second is
    (worst abs error, worst rel error, ok) of gradgradcheck with second_order, else None."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, (fn, shapes, kind) in OPS.items():
        if ops and name not in ops:
            continue
        inputs = [make_input(s, kind, rng, device) for s in shapes]
        results = gradcheck_report(fn, inputs)
        worst = max(results, key=lambda r: r.abs_err)
        second = None
        if second_order:
            tg.manual_seed(seed)
            results2 = gradgradcheck_report(fn, inputs)
            worst2 = max(results2, key=lambda r: r.abs_err)
            second = (worst2.abs_err, worst2.rel_err, all(r.ok for r in results2))
        ok = all(r.ok for r in results) and (second is None or second[2])
        rows.append((name, shapes, worst.abs_err, worst.rel_err, ok, second))
    return rows


def main(argv=None, console=None):
    p = common.parser("gradcheck", __doc__)
    p.add_argument("--op", action="append", help="check only this op (repeatable)")
    p.add_argument("--second-order", action="store_true",
                   help="also check second derivatives (gradgradcheck) of each op")
    a = p.parse_args(argv)
    console = console or common.make_console()
    common.check_device(a.device)
    unknown = [o for o in a.op or [] if o not in OPS]
    if unknown:
        p.error(f"unknown op(s) {unknown}; choose from: {', '.join(OPS)}")
    ops = a.op or (list(OPS)[::3] if a.quick else None)
    rows = run(ops, a.seed, a.device, a.second_order)
    title = f"gradcheck on {a.device}, float64, central differences (eps=1e-6)"
    cols = ("op", "input shapes", "worst abs error", "worst rel error", "verdict")
    if a.second_order:
        title = f"gradcheck and gradgradcheck on {a.device}, float64, central differences (eps=1e-6)"
        cols = ("op", "input shapes", "1st: abs err", "rel err", "2nd: abs err", "rel err", "verdict")
    table = Table(title=title)
    for col in cols:
        table.add_column(col)
    for name, shapes, abs_err, rel_err, ok, second in rows:
        errs = [f"{abs_err:.1e}", f"{rel_err:.1e}"] + ([f"{e:.1e}" for e in second[:2]] if second else [])
        table.add_row(name, " ".join(str(s) for s in shapes), *errs,
                      "[green]ok[/green]" if ok else "[red]FAIL[/red]")
    console.print(table)
    n_ok = sum(r[4] for r in rows)
    console.print(f"{n_ok}/{len(rows)} ops pass")
    return {"rows": rows, "passed": n_ok, "total": len(rows)}


if __name__ == "__main__":
    main()
