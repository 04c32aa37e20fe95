"""Character-level language model: an LSTM (or GRU / RNN) learns to write like its text.

Trains with truncated BPTT on English that ships with every Python install (the
documentation text of `pydoc_data.topics`), or your own `--text FILE`; reports held-out
loss in nats per character against a bigram baseline, shows live samples generated from a
seed string, and writes checkpoints you can resume or sample from.

    python -m demos charlm                                  # about 10 minutes on a 2-core CPU
    python -m demos charlm --quick                          # seconds
    python -m demos charlm --cell gru --hidden 128 --minutes 3 --text my.txt
    python -m demos charlm --peephole --minutes 3            # the slides' LSTM variants
    python -m demos charlm --coupled --minutes 3
    python -m demos charlm --resume                         # continue from the checkpoint
    python -m demos charlm generate --prime "The " --length 400 --temperature 0.7
"""
import math
import os
import sys
import time

import numpy as np
from rich.panel import Panel
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import optim
from tinygrad_seq.data import CharVocab, next_token_windows
from tinygrad_seq.models import CharRNN
from tinygrad_seq.nn.tbptt import detach_state
from demos.common import UserError, make_console, parser, progress, setup, sparkline, train_step
from demos import dist

DESCRIPTION = "character-level LSTM/GRU/RNN language model, truncated BPTT, live samples, checkpoints"
DEFAULT_CKPT = os.path.join("checkpoints", "charlm.npz")
QUICK_CKPT = os.path.join("checkpoints", "charlm-quick.npz")   # --quick never touches a real run's file


# ---------------------------------------------------------------- data
def load_text(path=None):
    """The user's file, or the Python documentation that every Python install ships."""
    if path:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    from pydoc_data.topics import topics
    return "\n\n".join(topics[k] for k in sorted(topics))


def batchify(ids, batch):
    """Cut one long id sequence into `batch` parallel streams, time-major (L, batch):
    stream b continues across chunks, so the carried state always follows its own text."""
    n = len(ids) // batch
    return ids[: n * batch].reshape(batch, n).T.copy()


def bigram_baseline(train_ids, val_ids, vocab_size, alpha=0.1):
    """Held-out nats per character of an add-alpha smoothed bigram model, counted over the
    n-gram windows ([x_t], x_t+1) that tg.data.next_token_windows cuts (window 1)."""
    context, following = (t.numpy() for t in next_token_windows(train_ids, 1))
    counts = np.full((vocab_size, vocab_size), alpha)
    np.add.at(counts, (context[:, 0], following), 1)
    probs = counts / counts.sum(1, keepdims=True)
    context, following = (t.numpy() for t in next_token_windows(val_ids, 1))
    return float(-np.log(probs[context[:, 0], following]).mean())


# ---------------------------------------------------------------- training pieces
def evaluate(model, streams, seq_len, device, max_chars=None):
    """Mean cross-entropy (nats / char) over held-out streams, state carried along."""
    model.eval()
    total, count, state = 0.0, 0, None
    limit = streams.shape[0] - 1 if max_chars is None else min(streams.shape[0] - 1, max_chars // streams.shape[1])
    with tg.no_grad():
        for i in range(0, limit, seq_len):
            n = min(seq_len, limit - i)
            x = tg.Tensor(streams[i:i + n], device=device)
            y = tg.Tensor(streams[i + 1:i + 1 + n], device=device)
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
            total += loss.item()
            count += y.numel()
    model.train()
    return total / max(count, 1)


def sample(model, vocab, prime, length, temperature, device):
    ids = [vocab[c] for c in prime if c in vocab] or [0]
    out = model.generate(tg.Tensor(np.array(ids), device=device), length, temperature=temperature)
    return prime + vocab.decode(out)


def save_checkpoint(path, model, opt, vocab, config, step, pos, state, history, best=None):
    """The training state (to --resume) and, once there is one, the weights with the best
    held-out loss so far (what `generate` samples from)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    carried = [] if state is None else [s.numpy() for s in (state if isinstance(state, tuple) else (state,))]
    ck = {"model": model.state_dict(), "optim": opt.state_dict(), "rng": tg.get_rng_state(),
          "vocab": list(vocab.itos), "config": config, "step": step, "pos": pos, "state": carried,
          "history": history}
    if best is not None:
        ck["best"] = best
    tg.save(ck, path)


class CheckpointPath:
    """Where this run saves. A checkpoint of a longer run (more steps) already at --checkpoint is
    kept: this run saves beside it ('-new') and says so, unless --force or --resume (which
    continues that very run)."""

    def __init__(self, path, force=False, resumed=False, console=None):
        self.path, self.console, self.said = path, console, False
        self.existing_steps = None
        if os.path.exists(path) and not (force or resumed):
            try:
                self.existing_steps = int(tg.load(path)["step"])
            except Exception:  # noqa: BLE001 - not a charlm checkpoint: keep it all the same
                self.existing_steps = float("inf")
        root, ext = os.path.splitext(path)
        self.alt = f"{root}-new{ext or '.npz'}"

    def __call__(self, step):
        if self.existing_steps is None or step >= self.existing_steps:
            self.existing_steps = None      # from now on the file is this run's
            return self.path
        if not self.said and self.console is not None:
            held = "a file that is not a charlm checkpoint" if self.existing_steps == float("inf") \
                else f"a run of {self.existing_steps} steps"
            self.console.print(f"[yellow]{self.path} holds {held}, more than this run's {step}: kept it; "
                               f"this run saves to {self.alt} (--force overwrites)[/]")
            self.said = True
        return self.alt


def weights(model):
    """A copy of the model's weights, on the host."""
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def build(config, vocab_size, device):
    variants = {k: True for k in ("peephole", "coupled") if config.get(k)}  # the slides' LSTM variants
    return CharRNN(vocab_size, config["emb"], config["hidden"], num_layers=config["layers"],
                   cell=config["cell"], dropout=config["dropout"], **variants).to(device)


def split_ids(text, vocab):
    """The text's ids: the first 90% to train on, the rest held out."""
    ids = np.array(vocab.encode(text), dtype=np.int64)
    split = int(len(ids) * 0.9)
    return ids[:split], ids[split:]


def restore(resumed, model, opt, device):
    """Load a checkpoint's weights, optimizer and random state into model and opt; returns the
    run's (step, position in the text, carried state, history, best weights)."""
    model.load_state_dict(resumed["model"])
    opt.load_state_dict(resumed["optim"])
    tg.set_rng_state(resumed["rng"])
    carried = [tg.Tensor(a, device=device) for a in resumed["state"]]
    state = None if not carried else (tuple(carried) if len(carried) > 1 else carried[0])
    return int(resumed["step"]), int(resumed["pos"]), state, resumed["history"], resumed.get("best")


def loss_table(losses):
    """{model name: held-out nats/char} as a table in nats and bits."""
    table = Table(title="held-out loss (lower is better)")
    for col in ("model", "nats/char", "bits/char"):
        table.add_column(col)
    for name, v in losses.items():
        table.add_row(name, f"{v:.3f}", f"{v / math.log(2):.3f}")
    return table


# ---------------------------------------------------------------- commands
def train(args, console):
    rank, world, console = dist.start(args, console)
    device = setup(args)
    text = load_text(args.text)
    if args.quick:
        text = text[:60_000]
    vocab = CharVocab(text)
    if (args.peephole or args.coupled) and args.cell != "lstm":
        raise UserError("--peephole and --coupled are LSTM variants; use them with --cell lstm")
    config = dict(cell=args.cell, emb=args.emb, hidden=args.hidden, layers=args.layers, dropout=args.dropout,
                  seq_len=args.seq_len, batch=args.batch, lr=args.lr, clip=args.clip,
                  peephole=args.peephole, coupled=args.coupled)
    history = {"step": [], "train": [], "val": []}
    step, pos, state = 0, 0, None
    best = None   # {"val", "step", "model"}: the weights with the lowest held-out loss (early stopping)
    ckpt = args.checkpoint
    resumed = None
    if args.resume and not os.path.exists(ckpt):
        raise UserError(f"--resume: no checkpoint at {ckpt} to continue (--checkpoint PATH names one)")
    if args.resume:
        resumed = tg.load(ckpt)
        config = resumed["config"]
        vocab = CharVocab.from_itos(resumed["vocab"])
    train_ids, val_ids = split_ids(text, vocab)
    model = build(config, len(vocab), device)
    net = dist.wrap(model, world)   # DistributedDataParallel under --distributed
    mine = dist.shard(config["batch"], rank, world)   # this rank's streams of each batch
    opt = optim.Adam(model.parameters(), lr=config["lr"])
    if resumed is not None:
        step, pos, state, history, best = restore(resumed, model, opt, device)
        console.print(f"[bold]resumed[/] from {ckpt} at step {step}")
    save_to = CheckpointPath(ckpt, force=args.force, resumed=resumed is not None, console=console)
    train_streams = batchify(train_ids, config["batch"])
    val_streams = batchify(val_ids, config["batch"])
    T = config["seq_len"]
    baseline = bigram_baseline(train_ids, val_ids, len(vocab))
    uniform = math.log(len(vocab))
    console.print(Panel.fit(
        f"text: {len(text):,} chars ({'--text ' + args.text if args.text else 'pydoc_data.topics'}), "
        f"vocabulary {len(vocab)}, train {len(train_ids):,} / held-out {len(val_ids):,}\n"
        f"model: {model}\n{sum(p.numel() for p in model.parameters()):,} parameters, "
        f"truncated BPTT every {T} steps over {config['batch']} streams, Adam lr {config['lr']}\n"
        f"baselines (held-out nats/char): uniform {uniform:.3f}, bigram {baseline:.3f}",
        title="charlm"))
    max_steps = args.steps
    deadline = time.time() + args.minutes * 60 if args.minutes else None
    eval_chars = 20_000 if args.quick else 100_000
    t0, last_val = time.time(), float("nan")
    # the carried state is this rank's streams only: a distributed checkpoint resumes with a fresh one
    saved_state = (lambda st: st) if world == 1 else (lambda st: None)
    # the bar measures whichever limit ends the run: minutes of wall clock, or steps
    by_time = deadline is not None
    with progress(console) as bar:
        task = bar.add_task("training", total=args.minutes * 60 if by_time else max_steps,
                            completed=0 if by_time else step, info="")
        while step < max_steps and dist.all_agree(deadline is None or time.time() < deadline, world):
            if pos + T + 1 > train_streams.shape[0]:  # end of the text: start over with a fresh state
                pos, state = 0, None
            x = tg.Tensor(train_streams[pos:pos + T, mine], device=device)
            y = tg.Tensor(train_streams[pos + 1:pos + T + 1, mine], device=device)
            logits, state = net(x, state)
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
            loss = train_step(opt, loss, config["clip"])   # (a float from here on)
            state = detach_state(state)  # truncated BPTT: keep the values, cut the graph
            pos += T
            step += 1
            history["step"].append(step)
            history["train"].append(dist.mean_loss(loss, world))   # (on a GPU, the step's one wait)
            if step % args.eval_every == 0 or step == max_steps:
                last_val = evaluate(model, val_streams, T, device, eval_chars)
                history["val"].append((step, last_val))
                if best is None or last_val < float(best["val"]):
                    best = {"val": last_val, "step": step, "model": weights(model)}
                text_out = sample(model, vocab, args.prime, args.sample_length, args.temperature, device)
                bar.console.print(Panel(text_out, title=f"step {step}: held-out {last_val:.3f} nats/char, "
                                                        f"sample at temperature {args.temperature}"))
            bar.update(task, completed=(time.time() - t0) if by_time else step,
                       info=f"step {step}  loss {history['train'][-1]:.3f}  val {last_val:.3f}  (bigram {baseline:.3f})")
            if args.checkpoint_every and step % args.checkpoint_every == 0 and rank == 0:
                save_checkpoint(save_to(step), model, opt, vocab, config, step, pos, saved_state(state), history, best)
    full_eval = None if not args.quick else eval_chars
    final_val = evaluate(model, val_streams, T, device, full_eval)
    if best is None or final_val <= float(best["val"]):
        best = {"val": final_val, "step": step, "model": weights(model)}
    ckpt = save_to(step)
    if rank == 0:   # one writer; every rank can load it (--resume)
        save_checkpoint(ckpt, model, opt, vocab, config, step, pos, saved_state(state), history, best)
    elapsed = time.time() - t0
    last_val, best_step = final_val, int(best["step"])
    if best_step != step:
        # held-out loss went up again (by noise, or as the model memorizes its training text):
        # report and sample the best weights, as early stopping would have kept them.
        model.load_state_dict(best["model"])
        final_val = evaluate(model, val_streams, T, device, full_eval)
        console.print(f"held-out loss was lowest at step {best_step}; at step {step} it was {last_val:.3f}. "
                      f"Reporting the weights of step {best_step} (early stopping); the checkpoint keeps both.")
    ours = f"{config['cell'].upper()} (ours)" + (f", step {best_step}" if best_step != step else "")
    console.print(loss_table({"uniform": uniform, "bigram (add-0.1)": baseline, ours: final_val}))
    console.print(f"train loss {sparkline(history['train'], 40)}  "
                  f"({history['train'][0]:.2f} -> {history['train'][-1]:.2f})")
    console.print(f"{step} steps in {elapsed:.0f} s; checkpoint: {ckpt}")
    final_sample = sample(model, vocab, args.prime, args.sample_length, args.temperature, device)
    console.print(Panel(final_sample, title="final sample"))
    return {"val_loss": final_val, "last_val_loss": last_val, "best_step": best_step, "bigram": baseline,
            "uniform": uniform, "steps": step,
            "train_losses": history["train"], "sample": final_sample, "checkpoint": ckpt}


def generate(args, console):
    device = setup(args)
    if not os.path.exists(args.checkpoint):
        raise UserError(f"no checkpoint at {args.checkpoint}: train one first (python -m demos charlm"
                        f"{' --quick' if args.quick else ''}), or name one with --checkpoint PATH")
    ck = tg.load(args.checkpoint)
    vocab = CharVocab.from_itos(ck["vocab"])
    model = build(ck["config"], len(vocab), device)
    best = ck.get("best")
    model.load_state_dict(best["model"] if best is not None else ck["model"])   # the best held-out weights
    model.eval()
    out = sample(model, vocab, args.prime, args.length, args.temperature, device)
    which = "" if best is None or int(best["step"]) == int(ck["step"]) else f" (best held-out weights: step {int(best['step'])})"
    console.print(Panel(out, title=f"{ck['config']['cell'].upper()} after {ck['step']} steps{which}, "
                                   f"temperature {args.temperature}"))
    return {"sample": out}


def main(argv=None, console=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    mode = "train"
    if argv and argv[0] in ("train", "generate"):
        mode = argv.pop(0)
    p = parser("charlm [train|generate]", __doc__)
    p.add_argument("--text", help="train on this UTF-8 text file instead of the Python docs")
    p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
    p.add_argument("--peephole", action="store_true", help="LSTM with peephole connections (gates see C)")
    p.add_argument("--coupled", action="store_true", help="LSTM with coupled input-forget gate (i = 1 - f)")
    p.add_argument("--emb", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.25,
                   help="on the embeddings and the LSTM's outputs: without it the 10-minute run memorizes "
                        "its text after ~2000 steps and held-out loss rises")
    p.add_argument("--seq-len", type=int, default=64, help="truncated BPTT length")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=5.0, help="gradient norm clipping (0: off)")
    p.add_argument("--steps", type=int, default=100_000, help="stop after this many steps")
    p.add_argument("--minutes", type=float, default=10.0, help="stop after this many minutes (0: no limit)")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--checkpoint", help=f"default {DEFAULT_CKPT} ({QUICK_CKPT} with --quick)")
    p.add_argument("--force", action="store_true",
                   help="overwrite --checkpoint even if it holds a longer run (more steps)")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--prime", default="The ", help="seed string for samples")
    p.add_argument("--sample-length", type=int, default=200)
    p.add_argument("--length", type=int, default=400, help="characters to generate (generate mode)")
    p.add_argument("--temperature", type=float, default=0.7)
    dist.add_flag(p)
    args = p.parse_args(argv)
    if args.quick:
        for k, v in dict(hidden=64, emb=32, seq_len=32, batch=16, steps=min(args.steps, 250), minutes=0, dropout=0.0,
                         eval_every=125, checkpoint_every=0, sample_length=60).items():
            if getattr(args, k) == p.get_default(k):
                setattr(args, k, v)
    if args.checkpoint is None:
        args.checkpoint = QUICK_CKPT if args.quick else DEFAULT_CKPT
    console = console or make_console()
    return generate(args, console) if mode == "generate" else train(args, console)


if __name__ == "__main__":
    main()
