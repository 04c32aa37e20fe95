"""Full versus truncated backpropagation through time on one long sequence.

    python -m demos tbptt [--quick] [--seed N] [--device cpu|cuda] [--k 4 32] [--delay 8]
                          [--length 32000] [--streams 16] [--epochs 30] [--hidden 64]

The sequence: a long stream of random symbols (--vocab of them) whose target at every
step is the symbol seen --delay steps earlier (an echo). Nothing but the echo can be
predicted, so the loss can only fall below ln(vocab) if the gradient from y_t reaches
x_{t-delay}. As usual with one long text, the stream is cut into --streams parallel
streams trained side by side (a batch), time-major (T, B, vocab).

One epoch is one pass over the stream, by `nn.tbptt.TBPTT` (the library's helper):
  full BPTT (k = T)   one forward and backward through all T steps, one update: every
                      activation of the whole stream is alive at once;
  truncated, k steps  T/k chunks, an update after each; the state is carried from chunk
                      to chunk but detached, so memory is that of k steps and the
                      gradient reaches at most k-1 steps back: k <= delay cannot learn
                      the echo at all, whatever the number of updates.
Peak memory is tracemalloc's peak (host memory allocated during the first epoch).
"""
import time
import tracemalloc

import numpy as np
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import backend, nn, optim
from tinygrad_seq.nn.tbptt import TBPTT
from demos.common import SPARK, make_console, parser, progress, setup

DESCRIPTION = "full vs truncated BPTT on one long sequence: time/epoch, peak memory, loss curves, k vs delay"


def spark_between(values, lo, hi, width=20):
    """A sparkline on a fixed scale [lo, hi] (here: best loss seen .. chance), so that a flat
    curve stays flat instead of being stretched to the full height."""
    v = np.asarray(values, dtype=float)
    if v.size > width:
        v = np.array([c.mean() for c in np.array_split(v, width)])
    idx = ((np.clip(v, lo, hi) - lo) / max(hi - lo, 1e-12) * (len(SPARK) - 1)).round().astype(int)
    return "".join(SPARK[i] for i in idx)


def echo_stream(rng, length, streams, vocab, delay, device):
    """x (T, B, vocab) one-hot of a random stream cut into B rows; y (T, B) the symbol `delay`
    steps back in the same row (-100, ignored, for the first `delay` steps of each row)."""
    T = length // streams
    s = rng.integers(0, vocab, size=(streams, T))
    y = np.full((streams, T), -100, np.int64)
    y[:, delay:] = s[:, :-delay]
    x = np.eye(vocab, dtype=np.float32)[s.T]
    return tg.tensor(x, device=device), tg.tensor(np.ascontiguousarray(y.T), device=device)


class EchoNet(nn.Module):
    """LSTM + linear read-out; model(x_chunk, state) -> (logits, state), the TBPTT contract."""

    def __init__(self, vocab, hidden):
        super().__init__()
        self.rnn = nn.LSTM(vocab, hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        h, state = self.rnn(x, state)
        return self.out(h), state


def make_loss(vocab):
    """Mean cross-entropy over the steps that have a target (a chunk inside the first
    `delay` steps has none: its loss is 0, not 0/0)."""
    def loss(logits, y):
        n = max(int((y.numpy() != -100).sum()), 1)
        return F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1), reduction="sum") / n
    return loss


def evaluate(model, x, y, vocab, delay):
    """Loss over the whole stream and accuracy on the echo, from a zero state, no graph."""
    with tg.no_grad():
        logits, _ = model(x)
        loss = make_loss(vocab)(logits, y).item()
    pred = logits.numpy().argmax(-1)
    target = y.numpy()
    return loss, float((pred == target)[delay:].mean())


def train(name, k, x, y, args, device, prog):
    tg.manual_seed(args.seed + 1)    # the same initial weights for every method
    model = EchoNet(args.vocab, args.hidden).to(device)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    runner = TBPTT(model, make_loss(args.vocab), opt, k=k, max_norm=1.0)
    T = x.shape[0]
    n_chunks = -(-T // k)
    task = prog.add_task(f"{name:16s}", total=args.epochs, info="")
    times, losses, accs, chunk_losses, peak = [], [], [], [], None
    for epoch in range(args.epochs):
        runner.reset()                  # each epoch starts the stream again from a zero state
        trace = epoch == 0 and device == "cpu"
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        chunk_losses += runner.run(x, y)
        dt = time.perf_counter() - t0
        if trace:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        else:
            times.append(dt)
        loss, acc = evaluate(model, x, y, args.vocab, args.delay)
        losses.append(loss)
        accs.append(acc)
        prog.update(task, advance=1, info=f"loss {loss:.3f}  echo acc {acc:.2f}")
    return {"k": k, "updates_per_epoch": n_chunks, "time_per_epoch": float(np.mean(times or [dt])),
            "peak_bytes": peak, "losses": losses, "accuracy": accs, "chunk_losses": chunk_losses,
            "final_loss": losses[-1], "final_accuracy": accs[-1]}


def main(argv=None, console=None):
    p = parser("tbptt", __doc__)
    p.add_argument("--k", type=int, nargs="+", help="truncation lengths to compare with full BPTT "
                   "(default: 4 and 32, one below and one above --delay)")
    p.add_argument("--delay", type=int, default=8, help="the echo's delay (the dependency length)")
    p.add_argument("--length", type=int, help="symbols in the stream (default 32000)")
    p.add_argument("--streams", type=int, help="parallel streams (batch) the stream is cut into (default 16)")
    p.add_argument("--vocab", type=int, default=4)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float, default=1e-2)
    args = p.parse_args(argv)
    device = setup(args)
    console = console or make_console()
    q = args.quick
    args.length = args.length or (3200 if q else 32000)
    args.streams = args.streams or (8 if q else 16)
    args.epochs = args.epochs or (20 if q else 30)
    ks = sorted(set(args.k or [4, 32]))
    if not 1 <= args.delay < args.length // args.streams:
        p.error(f"--delay must lie in [1, {args.length // args.streams}) (the length of a stream)")

    x, y = echo_stream(backend.rng("cpu"), args.length, args.streams, args.vocab, args.delay, device)
    T = x.shape[0]
    console.rule("[bold]Full vs truncated BPTT")
    console.print(f"{args.length} random symbols (vocab {args.vocab}) as {args.streams} streams of T={T}; "
                  f"target: the symbol {args.delay} steps back; LSTM hidden {args.hidden}, Adam lr {args.lr:g}, "
                  f"{args.epochs} epochs. Chance loss ln {args.vocab} = {np.log(args.vocab):.3f}")
    methods = [(f"full BPTT, k={T}", T)] + [(f"TBPTT, k={k}", k) for k in ks if k < T]
    results = {}
    with progress(console) as prog:
        for name, k in methods:
            results[name] = train(name, k, x, y, args, device, prog)

    table = Table(title=f"one long sequence, echo delay {args.delay}: the gradient must reach {args.delay} steps back")
    # (updates: optimizer steps per epoch)
    for col in ("method", "updates", "time/epoch", "peak memory", "loss per epoch", "final loss", "echo acc"):
        table.add_column(col, justify="left" if col in ("method", "loss per epoch") else "right")
    full_peak = results[methods[0][0]]["peak_bytes"]
    lo = min(min(r["losses"]) for r in results.values())
    hi = max(max(r["losses"]) for r in results.values())
    for name, r in results.items():
        mem = "n/a (GPU)" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:.1f} MiB"
        if r["peak_bytes"] is not None and full_peak and r["k"] != T:
            mem += f" (/{full_peak / max(r['peak_bytes'], 1):.0f})"
        learned = r["final_loss"] < np.log(args.vocab) - 0.1
        color = "green" if r["final_accuracy"] > 0.9 else ("red" if not learned else "yellow")
        table.add_row(name, str(r["updates_per_epoch"]), f"{r['time_per_epoch']:.2f} s", mem,
                      spark_between(r["losses"], lo, max(hi, np.log(args.vocab)), width=14), f"{r['final_loss']:.3f}",
                      f"[{color}]{r['final_accuracy']:.2f}[/]")
    console.print(table)
    console.print(f"chance accuracy {1 / args.vocab:.2f}; truncation at k <= {args.delay} cuts every path "
                  f"from y_t back to x_(t-{args.delay}), so that model stays at chance")
    return {"T": T, "delay": args.delay, "vocab": args.vocab, "chance_loss": float(np.log(args.vocab)),
            "results": results}


if __name__ == "__main__":
    main()
