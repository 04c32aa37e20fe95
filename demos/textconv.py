"""Stacked 1D convolutions over characters: n-grams, then words, then the sentence.

Deck 002 draws a text CNN as local filters with shared weights, o_i = tanh(W [w_{i-1}; w_i;
w_{i+1}] + b), max pooling to a fixed-size vector, and stacked layers that go "from
character n-grams ... to vectors for words and then a vector for the sentence"; the stride
is the step the filter moves. This demo stacks four Conv1d layers (kernel 3; stride 1,
then 2, 2, 2) over character embeddings, max-pools the last one over the sentence and
classifies: does the sentence contain the word "dog"? (Not "dogs", "hotdog", "god" or
"dot": the answer needs the word with its spaces, five characters, more than a trigram.)

For a sample sentence it prints the span of characters one unit of each layer sees, as
brackets under the text, and checks it two ways: by the receptive-field formula

    r_l = r_{l-1} + (k_l - 1) * j_{l-1},   j_l = j_{l-1} * s_l,   r_0 = j_0 = 1,
    unit u of layer l sees characters [u * j_l, u * j_l + r_l - 1]

and by autograd (the characters whose embeddings get a non-zero gradient from the unit).

    python -m demos textconv [--quick] [--steps 600] [--seed 0]
"""
import numpy as np
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import nn, optim
from demos.common import make_console, parser, progress, setup, sparkline, train_loop

DESCRIPTION = "stacked strided 1D convolutions: characters -> n-grams -> words -> sentence, receptive fields"

WORD = "dog"
DISTRACTORS = ["dogs", "hotdog", "god", "dot", "dig", "fog", "doge"]
FILLERS = ("the a my your old big small red quick lazy cat bird fox sat ran saw near over under "
           "park house tree road and then was is with").split()
LAYERS = [(3, 1, "character trigrams"), (3, 2, "~ short words"), (3, 2, "~ words with context"),
          (3, 2, "~ phrases")]   # (kernel, stride, what a unit can see)
MAXLEN = 64


def receptive_fields(layers):
    """[(r_l, j_l)] for each layer: span width and step (in characters) of its units."""
    r, j, out = 1, 1, []
    for k, s, _ in layers:
        r, j = r + (k - 1) * j, j * s
        out.append((r, j))
    return out


def make_sentence(rng, positive):
    words = list(rng.choice(FILLERS, rng.integers(4, 8)))
    extra = [WORD] if positive else []
    extra += list(rng.choice(DISTRACTORS, rng.integers(0 if positive else 1, 3)))
    for w in extra:
        words.insert(int(rng.integers(0, len(words) + 1)), w)
    return " ".join(words)[: MAXLEN - 2]


def dataset(n, rng):
    labels = rng.integers(0, 2, n)
    sents = [make_sentence(rng, bool(y)) for y in labels]
    labels = np.array([int(f" {WORD} " in f" {s} ") for s in sents])   # truncation may cut the word
    return sents, labels


CHARS = " abcdefghijklmnopqrstuvwxyz"


def encode(sents):
    """Characters -> ids, a space on both sides, padded with spaces to MAXLEN."""
    ids = np.zeros((len(sents), MAXLEN), dtype=np.int64)
    for b, s in enumerate(sents):
        for i, c in enumerate(f" {s} "[:MAXLEN]):
            ids[b, i] = CHARS.index(c)
    return ids


class TextCNN(nn.Module):
    def __init__(self, emb=16, channels=(32, 32, 48, 64)):
        super().__init__()
        self.emb = nn.Embedding(len(CHARS), emb)
        sizes = (emb,) + tuple(channels)
        self.convs = nn.ModuleList([nn.Conv1d(sizes[i], sizes[i + 1], k, stride=s)
                                    for i, (k, s, _) in enumerate(LAYERS)])
        self.out = nn.Linear(sizes[-1], 2)

    def features(self, e):
        """e: (B, L, emb) embeddings -> every layer's activations (B, C_l, L_l), tanh like the deck."""
        h, acts = e.transpose(1, 2), []
        for conv in self.convs:
            h = conv(h).tanh()
            acts.append(h)
        return acts

    def forward(self, ids):
        acts = self.features(self.emb(ids))
        return self.out(acts[-1].amax(dim=2))   # max pooling over the sentence: c = max_i o_i


def brackets(start, width, offset):
    return " " * (offset + start) + ("[" + "=" * (width - 2) + "]" if width > 1 else "|")


def main(argv=None, console=None):
    p = parser("textconv", __doc__)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    args = p.parse_args(argv)
    if args.quick and args.steps == p.get_default("steps"):
        args.steps = 100
        args.lr = 1e-2 if args.lr == p.get_default("lr") else args.lr
    device = setup(args)
    console = console or make_console()
    rng = np.random.default_rng(args.seed)
    train_s, train_y = dataset(4000, rng)
    test_s, test_y = dataset(1000, rng)
    train_x, test_x = encode(train_s), encode(test_s)
    model = TextCNN().to(device)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    batches = (rng.integers(0, len(train_s), args.batch) for _ in range(args.steps))

    def loss_of(idx):
        return F.cross_entropy(model(tg.Tensor(train_x[idx], device=device)), tg.Tensor(train_y[idx], device=device))

    with progress(console) as bar:
        task = bar.add_task("training", total=args.steps, info="")

        def show(losses):
            bar.update(task, advance=1, info=f"loss {losses[-1]:.3f}")

        losses = train_loop(opt, batches, loss_of, on_step=show)
    model.eval()
    with tg.no_grad():
        pred = model(tg.Tensor(test_x, device=device)).argmax(dim=1).numpy()
    acc = float((pred == test_y).mean())
    hard = np.array([any(d in s.split() for d in DISTRACTORS) for s in test_s])
    acc_hard = float((pred[hard] == test_y[hard]).mean())
    console.print(f"task: does the sentence contain the word {WORD!r}? (distractors: {', '.join(DISTRACTORS)})")
    console.print(f"loss {sparkline(losses, 40)}  {losses[0]:.3f} -> {losses[-1]:.3f}")
    console.print(f"test accuracy {acc:.3f} on {len(test_s)} sentences (majority class "
                  f"{max(test_y.mean(), 1 - test_y.mean()):.3f}); {acc_hard:.3f} on the {int(hard.sum())} "
                  "with a distractor word\n")

    # the layers and their receptive fields, by the formula
    rf = receptive_fields(LAYERS)
    table = Table(title="the stack (no padding): a unit of layer l sees r_l characters, neighbours j_l apart")
    for col in ("layer", "kernel", "stride", "r_l (chars seen)", "j_l (step)", "units on 64 chars", "reads as"):
        table.add_column(col)
    L = MAXLEN
    lengths = []
    for l, ((k, s, what), (r, j)) in enumerate(zip(LAYERS, rf), 1):
        L = (L - k) // s + 1
        lengths.append(L)
        table.add_row(f"conv{l}", str(k), str(s), str(r), str(j), str(L), what)
    console.print(table)

    # one sample sentence: the top unit the max pool picks, and the chain of units below it
    sample = next(s for s, y in zip(test_s, test_y) if y == 1 and len(s) < 50)
    ids = tg.Tensor(encode([sample]), device=device)
    e = model.emb(ids).detach().requires_grad_()
    acts = model.features(e)
    w = model.out.weight.numpy()
    top = acts[-1].numpy()[0]                                   # (C, L)
    channel = int(np.argmax((w[1] - w[0]) * top.max(1)))        # the pooled channel voting most for "dog"
    unit_top = int(np.argmax(top[channel]))                      # where the max pool finds it
    text = f" {sample} "
    label_w = 8
    with tg.no_grad():
        p_dog = float(F.softmax(model(ids), dim=1).numpy()[0, 1])
    console.print(f"sample: {sample!r}  (the model's p(contains {WORD!r}) = {p_dog:.2f})")
    console.print(" " * label_w + text)
    console.print(" " * label_w + "".join(str(i % 10) for i in range(len(text))))
    # going down from the top unit: in each layer, the unit (inside the window of the one above)
    # that contributes most to it, |activation * d top / d activation| summed over channels
    acts_g = [a.retain_grad() for a in model.features(e)]
    acts_g[-1][0, channel, unit_top].backward()
    units, chans = [unit_top], [channel]
    for l in range(len(LAYERS) - 2, -1, -1):
        k, s_up, _ = LAYERS[l + 1]
        lo = units[0] * s_up
        contrib = np.abs(acts_g[l].numpy()[0] * acts_g[l].grad.numpy()[0])   # (C, L)
        u = lo + int(np.argmax(contrib[:, lo:lo + k].sum(0)))
        units.insert(0, u)
        chans.insert(0, int(np.argmax(contrib[:, u])))
    spans = []
    for l in range(len(LAYERS)):
        r, j = rf[l]
        unit, ch = units[l], chans[l]
        start = unit * j
        # autograd's answer: which characters move this unit
        e.grad = None
        acts_g = model.features(e)
        acts_g[l][0, ch, unit].backward()
        g = np.abs(e.grad.numpy()[0]).sum(axis=1)
        seen = np.nonzero(g > 0)[0]
        spans.append(dict(layer=l + 1, unit=unit, start=start, width=r, grad_start=int(seen.min()),
                          grad_width=int(seen.max() - seen.min() + 1), text=text[start:start + r]))
        console.print(f"conv{l + 1:<4}" + brackets(start, r, 0)
                      + f"  unit {unit}: chars {start}..{start + r - 1} ({r}); autograd: "
                        f"{seen.min()}..{seen.max()}")
    console.print(f"{'pool':<8}" + "[" + "=" * (len(text) - 2) + "]  max over all units: the whole sentence")
    console.print("\nThe top unit is the one the max pool takes in the channel whose vote for "
                  f"'{WORD}' is largest here; below it, in each layer, the unit of its window that adds most.")
    return {"accuracy": acc, "accuracy_distractors": acc_hard, "receptive_fields": rf, "spans": spans,
            "lengths": lengths, "losses": losses}


if __name__ == "__main__":
    main()
