"""Sequence to sequence (many-to-many, different lengths): number words -> digits.

    python -m demos seq2seq [--quick] [--seed N] [--device cpu|cuda] [--max-number 999999]
                            [--train 10000] [--test 1000] [--epochs 8] [--hidden 128]
                            [--teacher-forcing 0.5] [--cell LSTM|GRU] [--translate "forty two" ...]

"three hundred forty two thousand seven" -> "342007": the source is 1 to 8 words, the
target 1 to 6 digits, and neither length tells the other. `tinygrad_seq.models.Seq2Seq`:
an encoder LSTM reads the words (variable lengths, `lengths=`); its final state (h, c)
starts a decoder LSTM that writes one digit per step until <eos>.

Training uses teacher forcing: the decoder is fed the true previous digit with probability
--teacher-forcing (else its own previous guess, so it learns to recover from its own
mistakes). Testing is greedy decoding (always its own guess) on numbers never seen in
training; the score is exact match (every digit right, nothing more).
--translate "..." translates your own phrases after training.
"""
import numpy as np
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import backend, optim
from tinygrad_seq.models import Seq2Seq
from demos.common import make_console, parser, progress, setup, shuffled_batches, sparkline, train_loop

DESCRIPTION = "encoder-decoder: number words -> digits, teacher forcing, greedy decoding, held-out exact match"

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SRC_WORDS = ONES + TENS[2:] + ["hundred", "thousand"]
PAD, BOS, EOS = 0, 1, 2
TGT_TOKENS = ["<pad>", "<bos>", "<eos>"] + list("0123456789")


def words(n):
    """342007 -> ['three', 'hundred', 'forty', 'two', 'thousand', 'seven'] (0 <= n < 10**6)."""
    if n < 20:
        return [ONES[n]]
    if n < 100:
        return [TENS[n // 10]] + ([ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [ONES[n // 100], "hundred"] + (words(n % 100) if n % 100 else [])
    return words(n // 1000) + ["thousand"] + (words(n % 1000) if n % 1000 else [])


def words_to_number(ws):
    """The inverse of words(): ['forty', 'two', 'thousand', 'seven'] -> 42007."""
    total = current = 0
    for w in ws:
        if w in ONES:
            current += ONES.index(w)
        elif w in TENS:
            current += 10 * TENS.index(w)
        elif w == "hundred":
            current *= 100
        elif w == "thousand":
            total, current = (total + current) * 1000, 0
        else:
            raise ValueError(f"words_to_number: unknown word {w!r}")
    return total + current


def sample_numbers(rng, n, max_number):
    """n distinct numbers in [0, max_number], about as many of each digit count (uniform
    draws would be almost all 6-digit); all of them, shuffled, when n is most of the range."""
    if 2 * n >= max_number + 1:
        return rng.permutation(max_number + 1)[:n]
    digits = len(str(max_number))
    chosen = {}
    while len(chosen) < n:
        k = rng.integers(1, digits + 1, size=n)
        lo = np.where(k == 1, 0, 10 ** (k - 1))
        hi = np.minimum(10 ** k, max_number + 1)
        for x in lo + (rng.random(n) * (hi - lo)).astype(np.int64):
            chosen.setdefault(int(x), None)    # a dict keeps the draw order (a set would not)
            if len(chosen) == n:
                break
    return rng.permutation(np.array(list(chosen), dtype=np.int64))


def encode_source(phrases, device):
    """Lists of words -> (S, B) ids and lengths (sources are padded with id 0, masked by lengths)."""
    ids = [[SRC_WORDS.index(w) for w in p] for p in phrases]
    lengths = np.array([len(s) for s in ids])
    src = np.zeros((lengths.max(), len(ids)), np.int64)
    for j, s in enumerate(ids):
        src[:len(s), j] = s
    return tg.tensor(src, device=device), lengths


def encode_target(numbers, device):
    """Numbers -> decoder input [<bos>, d_1 .. d_n] and target [d_1 .. d_n, <eos>] (T, B);
    positions past the end: input <pad>, target -100 (ignored by the loss)."""
    digits = [[3 + int(c) for c in str(int(n))] for n in numbers]
    T = max(len(d) for d in digits) + 1
    tgt_in = np.full((T, len(digits)), PAD, np.int64)
    tgt_out = np.full((T, len(digits)), -100, np.int64)
    for j, d in enumerate(digits):
        tgt_in[:len(d) + 1, j] = [BOS] + d
        tgt_out[:len(d) + 1, j] = d + [EOS]
    return tg.tensor(tgt_in, device=device), tg.tensor(tgt_out, device=device)


def translate(model, phrases, max_digits, device):
    """Greedy decoding of lists of words -> digit strings."""
    src, lengths = encode_source(phrases, device)
    out = model.greedy_decode(src, max_len=max_digits + 1, bos_id=BOS, eos_id=EOS, src_lengths=lengths)
    result = []
    for col in out.T:
        s = ""
        for t in col:
            if t == EOS:
                break
            s += TGT_TOKENS[t] if t > EOS else "?"
        result.append(s)
    return result


def exact_match(model, numbers, max_digits, device, batch=500):
    preds = []
    for i in range(0, len(numbers), batch):
        preds += translate(model, [words(int(n)) for n in numbers[i:i + batch]], max_digits, device)
    return float(np.mean([p == str(int(n)) for p, n in zip(preds, numbers)])), preds


def batch_loss(model, numbers, teacher_forcing, device):
    """Cross-entropy of the decoder's digits for a batch of numbers given as words."""
    src, lengths = encode_source([words(int(n)) for n in numbers], device)
    tgt_in, tgt_out = encode_target(numbers, device)
    logits = model(src, tgt_in, src_lengths=lengths, teacher_forcing_ratio=teacher_forcing)
    return F.cross_entropy(logits.reshape(-1, len(TGT_TOKENS)), tgt_out.reshape(-1))


def fit(model, opt, train, test, args, rng, device, console):
    """args.epochs passes of Adam over shuffled batches (gradients clipped at norm 1), with the
    held-out exact match after each; returns (per-step losses, per-epoch exact match)."""
    max_digits = len(str(args.max_number))
    losses, epoch_acc = [], []
    with progress(console) as prog:
        task = prog.add_task("training", total=args.epochs * -(-len(train) // args.batch), info="")

        def show(losses):
            prog.update(task, advance=1, info=f"epoch {epoch + 1}  loss {np.mean(losses[-20:]):.3f}"
                        + (f"  held-out exact {epoch_acc[-1]:.1%}" if epoch_acc else ""))

        for epoch in range(args.epochs):
            train_loop(opt, shuffled_batches(rng, len(train), args.batch),
                       lambda idx: batch_loss(model, train[idx], args.teacher_forcing, device),
                       clip=1.0, losses=losses, on_step=show)
            acc, _ = exact_match(model, test, max_digits, device)
            epoch_acc.append(acc)
            prog.update(task, info=f"epoch {epoch + 1}  loss {np.mean(losses[-20:]):.3f}  held-out exact {acc:.1%}")
    return losses, epoch_acc


def report(model, train, test, losses, epoch_acc, max_digits, device, console):
    """Print the held-out examples and the summary; returns (exact match, digit accuracy, training
    exact match, predictions, the indices shown)."""
    acc, preds = exact_match(model, test, max_digits, device)
    train_acc, _ = exact_match(model, train[:len(test)], max_digits, device)
    digit_acc = float(np.mean([sum(a == b for a, b in zip(p, str(int(n)))) / max(len(p), len(str(int(n))))
                               for p, n in zip(preds, test)]))
    wrong = [i for i, (pr, n) in enumerate(zip(preds, test)) if pr != str(int(n))]
    right = [i for i in range(len(test)) if i not in set(wrong)]
    show = (wrong[:4] + right)[:10]
    table = Table(title="held-out numbers, greedy decoding")
    for col in ("input", "target", "prediction", ""):
        table.add_column(col)
    for i in show:
        ok = preds[i] == str(int(test[i]))
        table.add_row(" ".join(words(int(test[i]))), str(test[i]), preds[i] or "(empty)",
                      "[green]✓[/]" if ok else "[red]✗[/]")
    console.print(table)
    summary = Table(title="what it learned")
    for col in ("held-out exact match", "held-out digit accuracy", "training exact match", "loss curve",
                "exact match per epoch"):
        summary.add_column(col, justify="right" if "match" in col or "accuracy" in col else "left")
    summary.add_row(f"{acc:.1%}", f"{digit_acc:.1%}", f"{train_acc:.1%}", sparkline(losses, 24),
                    " ".join(f"{a:.0%}" for a in epoch_acc))
    console.print(summary)
    return acc, digit_acc, train_acc, preds, show


def arguments(argv):
    """The parsed flags, with the --quick defaults filled in and checked."""
    p = parser("seq2seq", __doc__)
    p.add_argument("--max-number", type=int, help="numbers 0 .. max (at most 999999; default 999999)")
    p.add_argument("--train", type=int, help="training pairs (default 10000)")
    p.add_argument("--test", type=int, help="held-out pairs (default 1000)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--hidden", type=int)
    p.add_argument("--embedding", type=int, default=32)
    p.add_argument("--layers", type=int, default=1, help="stacked recurrent layers in encoder and decoder")
    p.add_argument("--cell", default="LSTM", choices=["LSTM", "GRU"])
    p.add_argument("--teacher-forcing", type=float, default=0.5, help="probability of feeding the true digit")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--translate", action="append", default=[], metavar="TEXT",
                   help='translate your own phrase after training, e.g. "seven hundred one" (repeatable)')
    args = p.parse_args(argv)
    q = args.quick
    args.max_number = min(args.max_number or (999 if q else 999999), 999999)
    args.train = args.train or (800 if q else 10000)
    args.test = args.test or (200 if q else 1000)
    args.epochs = args.epochs or (12 if q else 8)
    args.hidden = args.hidden or (64 if q else 128)
    if args.layers < 1:
        p.error("--layers must be at least 1")
    if not 0 <= args.teacher_forcing <= 1:
        p.error("--teacher-forcing must be in [0, 1]")
    for text in args.translate:
        unknown = [w for w in text.lower().replace("-", " ").split() if w not in SRC_WORDS]
        if unknown:
            p.error(f"--translate {text!r}: unknown words {unknown}; the vocabulary is {' '.join(SRC_WORDS)}")
    if args.train + args.test > args.max_number + 1:
        args.train = (args.max_number + 1) * 4 // 5
        args.test = args.max_number + 1 - args.train
    return args


def main(argv=None, console=None):
    args = arguments(argv)
    device = setup(args)
    console = console or make_console()
    rng = backend.rng("cpu")
    numbers = sample_numbers(rng, args.train + args.test, args.max_number)
    test, train = numbers[:args.test], numbers[args.test:]
    max_digits = len(str(args.max_number))
    model = Seq2Seq(len(SRC_WORDS), len(TGT_TOKENS), embedding_dim=args.embedding, hidden_size=args.hidden,
                    num_layers=args.layers, cell=args.cell).to(device)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())

    console.rule("[bold]Seq2seq: number words -> digits")
    console.print(f"{len(train)} training pairs, {len(test)} held-out pairs (numbers 0 .. {args.max_number}); "
                  f"{f'{args.layers}-layer ' if args.layers > 1 else ''}{args.cell} encoder-decoder, "
                  f"hidden {args.hidden}, {n_params} parameters; "
                  f"teacher forcing {args.teacher_forcing:g}")
    for n in train[:3]:
        console.print(f"  e.g. [cyan]{' '.join(words(int(n)))}[/] -> [green]{n}[/]")
    losses, epoch_acc = fit(model, opt, train, test, args, rng, device, console)

    acc, digit_acc, train_acc, preds, show = report(model, train, test, losses, epoch_acc, max_digits, device,
                                                    console)
    yours = {}
    if args.translate:
        phrases = [t.lower().replace("-", " ").split() for t in args.translate]
        for text, out in zip(args.translate, translate(model, phrases, max_digits, device)):
            yours[text] = out
            console.print(f"  [cyan]{text}[/] -> [bold green]{out}[/]")
    return {"exact_match": acc, "digit_accuracy": digit_acc, "train_exact_match": train_acc,
            "epoch_exact_match": epoch_acc, "losses": losses, "n_test": len(test), "n_train": len(train),
            "samples": [(" ".join(words(int(test[i]))), str(test[i]), preds[i]) for i in show],
            "translations": yours, "layers": model.encoder.num_layers, "parameters": n_params}


if __name__ == "__main__":
    main()
