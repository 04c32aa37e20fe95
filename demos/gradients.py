"""Vanishing and exploding gradients: RNN vs LSTM vs GRU on a long-range recall task.

    python -m demos gradients [--quick] [--seed N] [--device cpu|cuda] [--lengths 10 25 50 100]
                              [--steps 600] [--hidden 32] [--gate-bias 3] [--heat-length 50]
                              [--clip 1.0] [--explode-scale 2.2] [--explode-lr 0.05]

The task: a key symbol (one of 4) at t=1, then T-1 random distractor symbols, and at t=T
"which key did you see?". The loss at t=T reaches the input at t=1 only through T-1
recurrent Jacobians dh_t/dh_{t-1}: for a tanh RNN their product shrinks like λ^T (the
slides' 0.9^200), for an LSTM the cell state C_t = f_t*C_{t-1} + ... carries the
gradient along with factor f_t (the forget gate), for a GRU with factor z_t.

1. vanishing: a heat map of ||dL/dh_t|| over t (relative to ||dL/dh_T||, log scale) for
   each cell, recorded during training (layers built with record_hidden_grads=True keep
   every h_t with retain_grad(); the demo switches recording on for a few steps only);
2. accuracy after a fixed budget of Adam steps against T, for each cell. The gated cells
   start out "remembering" (forget / update gate bias --gate-bias, the usual trick; the
   plain RNN has no gate to set); every run clips gradients at --clip, as one should;
3. exploding: a relu RNN whose recurrent weight is --explode-scale x an orthogonal matrix,
   trained with plain SGD: the gradient norm explodes; without clipping the loss spikes
   or turns into NaN, with nn.utils.clip_grad_norm_ the same run trains.
"""
import math

import numpy as np
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import backend, nn, optim
from demos.common import heatmap, make_console, parser, progress, setup, sparkline, train_loop

DESCRIPTION = "vanishing/exploding gradients: ||dL/dh_t|| heat map, RNN vs LSTM vs GRU against T, clipping"

CELLS = ("RNN", "LSTM", "GRU")
KEYS, DISTRACTORS = 4, 4
VOCAB = KEYS + DISTRACTORS + 1      # keys, distractors, and the "answer now" marker


def recall_batch(rng, batch, T, device):
    """One-hot inputs (T, B, VOCAB): key at t=1, distractors after, marker at t=T; targets the keys."""
    x = np.zeros((T, batch, VOCAB), np.float32)
    key = rng.integers(0, KEYS, size=batch)
    x[0, np.arange(batch), key] = 1
    if T > 1:
        noise = rng.integers(KEYS, KEYS + DISTRACTORS, size=(T - 1, batch))
        x[np.arange(1, T)[:, None], np.arange(batch)[None, :], noise] = 1
    x[-1, :, -1] = 1
    return tg.tensor(x, device=device), tg.tensor(key, device=device)


class Recaller(nn.Module):
    """A recurrent layer reading the sequence, a linear head on its last hidden state."""

    def __init__(self, cell, hidden, gate_bias=0.0, nonlinearity="tanh"):
        super().__init__()
        if cell == "RNN":
            self.rnn = nn.RNN(VOCAB, hidden, nonlinearity=nonlinearity)
        else:
            self.rnn = getattr(nn, cell)(VOCAB, hidden)
        if gate_bias and cell in ("LSTM", "GRU"):
            # gate rows are torch's (LSTM: i, f, g, o; GRU: r, z, n): the second block is the
            # forget gate f (LSTM) or the update gate z (GRU, h_t = (1-z)*h~ + z*h_{t-1});
            # a positive bias makes both start near 1: keep the state, pass the gradient back
            H = hidden
            self.rnn.bias_ih_l0.array[H:2 * H] = 0.0
            self.rnn.bias_hh_l0.array[H:2 * H] = gate_bias
        self.head = nn.Linear(hidden, KEYS)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


def accuracy(model, rng, T, device, n=1000):
    x, y = recall_batch(rng, n, T, device)
    with tg.no_grad():
        logits = model(x)
        loss = F.cross_entropy(logits, y).item()
    return float((logits.numpy().argmax(1) == y.numpy()).mean()), loss


def train_recall(cell, T, args, device, prog, record_at=()):
    """Adam on fresh batches; returns (accuracy, loss, per-step losses, {step: ||dL/dh_t||})."""
    rng = backend.rng("cpu")
    model = Recaller(cell, args.hidden, args.gate_bias).to(device)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    task = prog.add_task(f"{cell:4s} T={T:<3d}", total=args.steps, info="")
    records = {}

    def loss_of(step):
        model.rnn.record_hidden_grads = step in record_at   # the step-by-step path keeps every h_t
        x, y = recall_batch(rng, args.batch, T, device)
        return F.cross_entropy(model(x), y)

    def after(losses):
        step = len(losses) - 1
        if step in record_at:   # (the step's backward filled them; clipping and the update leave them)
            records[step] = model.rnn.hidden_grad_norms()
        if step % 10 == 0 or step == args.steps - 1:
            prog.update(task, completed=step + 1, info=f"loss {np.mean(losses[-10:]):.3f}")

    losses = train_loop(opt, range(args.steps), loss_of, clip=args.clip, on_step=after)
    model.rnn.record_hidden_grads = False
    acc, test_loss = accuracy(model, rng, T, device)
    prog.update(task, info=f"loss {np.mean(losses[-10:]):.3f}  acc {acc:.2f}")
    return acc, test_loss, losses, records


def orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def exploding(args, device, prog):
    """The same relu RNN, same data, trained with and without clipping. Returns one dict per run.
    (Its own loop, not common.train_loop: it measures every gradient norm and stops before an
    update that would write NaN.)"""
    runs = {}
    for name, max_norm in (("no clipping", None), (f"clipped at {args.clip:g}", args.clip)):
        tg.manual_seed(args.seed + 1)   # identical initialization and batches for both runs
        rng = backend.rng("cpu")
        model = Recaller("RNN", args.hidden, nonlinearity="relu")
        model.rnn.weight_hh_l0.array[...] = (args.explode_scale * orthogonal(rng, args.hidden)).astype(np.float32)
        model.to(device)
        params = list(model.parameters())
        opt = optim.SGD(params, lr=args.explode_lr)
        task = prog.add_task(f"relu RNN, {name}", total=args.explode_steps, info="")
        losses, norms, diverged = [], [], None
        with np.errstate(over="ignore", invalid="ignore"):   # no clipping: overflow is the point
            for step in range(args.explode_steps):
                x, y = recall_batch(rng, args.batch, args.explode_length, device)
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                # max_norm=inf measures the norm and leaves the gradients as they are
                total = nn.utils.clip_grad_norm_(params, max_norm if max_norm else math.inf).item()
                l = loss.item()
                losses.append(l)
                norms.append(total)
                if not (math.isfinite(l) and math.isfinite(total)):
                    diverged = step
                    prog.update(task, completed=args.explode_steps, info=f"[red]NaN at step {step}[/]")
                    break
                opt.step()
                if step % 10 == 0 or step == args.explode_steps - 1:
                    prog.update(task, completed=step + 1, info=f"loss {l:.3f}  |g| {total:.1f}")
            acc = accuracy(model, rng, args.explode_length, device)[0] if diverged is None else float("nan")
        finite = [n for n in norms if math.isfinite(n)]
        runs[name] = {"losses": losses, "grad_norms": norms, "diverged_at": diverged, "accuracy": acc,
                      "max_grad_norm": max(finite) if finite else float("nan"),
                      "final_loss": float(np.mean(losses[-10:])) if diverged is None else float("nan"),
                      "clipped": max_norm is not None}
    return runs


HEAT_FLOOR = 1e-12   # the heat map's darkest shade: this much smaller than the last step's gradient, or less


def heat_rows(records, steps, max_cols=40):
    """||dL/dh_t|| / ||dL/dh_T|| rows (one per recorded step, floored at HEAT_FLOOR), averaged in
    log space into <= max_cols bins."""
    rows, labels = [], []
    for cell, rec in records.items():
        for step in sorted(rec):
            n = rec[step]
            rel = np.maximum(n / max(n[-1], 1e-30), HEAT_FLOOR)
            logs = np.log10(rel)
            if logs.size > max_cols:
                logs = np.array([c.mean() for c in np.array_split(logs, max_cols)])
            rows.append(10.0 ** logs)
            labels.append(f"{cell:4s} step {step:>{len(str(steps))}d}")
    return np.array(rows), labels


def arguments(argv):
    """The parsed flags, with the --quick defaults filled in."""
    p = parser("gradients", __doc__)
    p.add_argument("--lengths", type=int, nargs="+", help="sequence lengths T to compare (default 10 25 50 100)")
    p.add_argument("--steps", type=int, help="Adam steps per (cell, T) run (default 600)")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--gate-bias", type=float, default=3.0, help="initial LSTM forget / GRU update gate bias")
    p.add_argument("--heat-length", type=int, help="T of the run whose ||dL/dh_t|| is drawn (default 50)")
    p.add_argument("--clip", type=float, default=1.0, help="max_norm of clip_grad_norm_")
    p.add_argument("--explode-scale", type=float, default=2.2, help="recurrent weight = scale x orthogonal")
    p.add_argument("--explode-lr", type=float, default=0.05)
    p.add_argument("--explode-length", type=int, default=20)
    p.add_argument("--explode-steps", type=int)
    args = p.parse_args(argv)
    q = args.quick
    args.lengths = sorted(set(args.lengths or ([5, 40] if q else [10, 25, 50, 100])))
    args.steps = args.steps or (200 if q else 600)
    args.explode_steps = args.explode_steps or (150 if q else 400)
    args.heat_length = args.heat_length or (40 if q else 50)
    if args.heat_length not in args.lengths:
        args.lengths = sorted(args.lengths + [args.heat_length])
    return args


def vanishing_report(args, records, acc, curves, snapshots, console):
    """The heat map of ||dL/dh_t||, the gradient reaching t=1 and accuracy against T; returns
    the log10 ratios at t=1."""
    label_width = len(f"LSTM step {args.steps}") + 1
    rows, labels = heat_rows(records, args.steps, max_cols=max(10, (console.width - label_width) // 2))
    console.print(heatmap(rows, labels, log=True,
                          title=f"||dL/dh_t|| / ||dL/dh_T|| for t = 1 .. {args.heat_length} (left to right), "
                                f"log scale, dark = vanished"))
    console.print(f"scale: darkest = 1e{np.log10(rows.min()):.0f}{' or less' if rows.min() <= HEAT_FLOOR else ''}, "
                  f"brightest = 1e{np.log10(rows.max()):.0f} (relative to the gradient at the last step)\n")
    # -inf where float32 underflowed to exactly 0: the gradient vanished completely
    ratio = {c: {s: float(np.log10(r[0] / r[-1])) if r[0] > 0 else -math.inf for s, r in records[c].items()}
             for c in CELLS}
    t1 = Table(title=f"gradient reaching t=1 from the loss at t={args.heat_length}: "
                     "log10 ||dL/dh_1|| / ||dL/dh_T||")
    t1.add_column("cell")
    for s in snapshots:
        t1.add_column(f"step {s}", justify="right")
    for c in CELLS:
        t1.add_row(c, *[f"{ratio[c][s]:+.1f}" if math.isfinite(ratio[c][s]) else "-inf (0.0)" for s in snapshots])
    console.print(t1)

    # accuracy against T
    t2 = Table(title=f"held-out accuracy after {args.steps} steps (chance {1 / KEYS:.2f}), by sequence length T")
    t2.add_column("cell")
    for T in args.lengths:
        t2.add_column(f"T={T}", justify="right")
    t2.add_column("loss curve (longest T)")
    for c in CELLS:
        cells = []
        for a in acc[c]:
            color = "green" if a >= 0.9 else ("red" if a < 1 / KEYS + 0.15 else "yellow")
            cells.append(f"[{color}]{a:.2f}[/]")
        t2.add_row(c, *cells, sparkline(curves[c][args.lengths[-1]], 30))
    console.print(t2)
    return ratio


def exploding_table(runs, console):
    """The table of the runs with and without clipping."""
    t3 = Table(title="with and without gradient clipping")
    for col in ("run", "log10 |grad| per step", "loss per step", "max |grad|", "final loss", "acc", "verdict"):
        t3.add_column(col, justify="right" if col in ("max |grad|", "final loss", "acc") else "left")
    for name, r in runs.items():
        norms = [math.log10(max(n, 1e-12)) for n in r["grad_norms"] if math.isfinite(n)]
        losses = [l for l in r["losses"] if math.isfinite(l)]
        if r["diverged_at"] is not None:
            verdict = f"[red]NaN at step {r['diverged_at']}[/]"
        elif r["accuracy"] >= 0.9:
            verdict = "[green]trains[/]"
        else:
            verdict = "[yellow]does not learn[/]"
        t3.add_row(name, sparkline(norms, 20) + (" [red]✗[/]" if r["diverged_at"] is not None else ""),
                   sparkline(losses, 20), f"{r['max_grad_norm']:.3g}", f"{r['final_loss']:.3f}",
                   f"{r['accuracy']:.2f}", verdict)
    console.print(t3)


def main(argv=None, console=None):
    args = arguments(argv)
    device = setup(args)
    console = console or make_console()
    snapshots = sorted({0, args.steps // 4, args.steps // 2, args.steps - 1})

    console.rule("[bold]Vanishing and exploding gradients")
    console.print(f"recall the key seen at t=1 after T-1 distractors ({KEYS} keys: chance {1 / KEYS:.2f}); "
                  f"hidden {args.hidden}, {args.steps} Adam steps (lr {args.lr:g}, batch {args.batch}) "
                  f"per run, gradients clipped at {args.clip:g}, gate bias {args.gate_bias:g}")
    acc = {c: [] for c in CELLS}
    test_loss = {c: [] for c in CELLS}
    curves, records = {c: {} for c in CELLS}, {}
    with progress(console) as prog:
        for cell in CELLS:
            for T in args.lengths:
                a, l, losses, rec = train_recall(cell, T, args, device, prog,
                                                 record_at=snapshots if T == args.heat_length else ())
                acc[cell].append(a)
                test_loss[cell].append(l)
                curves[cell][T] = losses
                if rec:
                    records[cell] = rec

    ratio = vanishing_report(args, records, acc, curves, snapshots, console)
    console.rule("[bold]Exploding gradients")
    console.print(f"relu RNN, W_hh = {args.explode_scale:g} x orthogonal, T={args.explode_length}, "
                  f"SGD lr {args.explode_lr:g}, same initialization and batches in both runs")
    with progress(console) as prog:
        runs = exploding(args, device, prog)
    exploding_table(runs, console)
    return {"lengths": args.lengths, "steps": args.steps, "chance": 1 / KEYS, "accuracy": acc,
            "test_loss": test_loss, "curves": curves, "heat_length": args.heat_length,
            "grad_norms": records, "log10_ratio": ratio, "snapshots": snapshots, "exploding": runs}


if __name__ == "__main__":
    main()
