"""Sequence tagging (many-to-many, same length): a bidirectional LSTM where the right context matters.

    python -m demos tagging [--quick] [--seed N] [--device cpu|cuda] [--train 4000] [--test 1000]
                            [--epochs 8] [--hidden 32] [--tag "watch the stone dog" ...]

A toy part-of-speech task, generated: every word gets one of DET ADJ NOUN VERB ADV.
Most words have one tag, but two kinds are ambiguous and only the NEXT word decides:
  * "watch fish book park train ship" at the start of a sentence:
        "watch the dog"   -> VERB (followed by a determiner: an order)
        "watch sees a cat" -> NOUN (followed by a verb: the subject)
  * "stone paper gold glass silk" after a determiner:
        "the stone dog"   -> ADJ  (followed by a noun: it describes it)
        "the stone falls" -> NOUN (otherwise)
A left-to-right LSTM must tag a word before it has read the next one, so on these words
it can only guess; a bidirectional LSTM (`tinygrad_seq.models.SequenceTagger`, its
reverse direction reads each sentence from its last word, `lengths=` for the padding)
sees both sides. The unidirectional model gets a larger hidden size so that both have
about the same number of parameters. --tag "..." tags your own sentences after training.
"""
import numpy as np
from rich.table import Table
from rich.text import Text

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import backend, optim
from tinygrad_seq.models import SequenceTagger
from demos.common import make_console, parser, progress, setup, shuffled_batches, sparkline, train_loop

DESCRIPTION = "BiLSTM tagger vs left-to-right LSTM on a toy POS task where the next word decides the tag"

DET = ["the", "a", "every", "this", "my"]
ADJ = ["big", "red", "old", "quick", "lazy", "happy"]
NOUN = ["dog", "cat", "bird", "man", "child", "farmer", "horse"]
VERB = ["sees", "likes", "chases", "finds", "feeds", "helps", "falls"]
ADV = ["quickly", "often", "today", "again"]
AMB_START = ["watch", "fish", "book", "park", "train", "ship"]    # VERB or NOUN at the start
AMB_MOD = ["stone", "paper", "gold", "glass", "silk"]            # ADJ before a noun, else NOUN
TAGS = ["DET", "ADJ", "NOUN", "VERB", "ADV"]
COLORS = {"DET": "magenta", "ADJ": "yellow", "NOUN": "cyan", "VERB": "green", "ADV": "blue"}
WORDS = ["<pad>"] + DET + ADJ + NOUN + VERB + ADV + AMB_START + AMB_MOD
AMBIGUOUS = set(AMB_START + AMB_MOD)


def pick(rng, words):
    return words[int(rng.integers(len(words)))]


def noun_phrase(rng):
    """DET [ADJ] then a noun, a material used as a noun, or a material describing a noun."""
    w, t = [pick(rng, DET)], ["DET"]
    if rng.random() < 0.3:
        w, t = w + [pick(rng, ADJ)], t + ["ADJ"]
    r = rng.random()
    if r < 0.3:
        w, t = w + [pick(rng, AMB_MOD), pick(rng, NOUN)], t + ["ADJ", "NOUN"]
    elif r < 0.55:
        w, t = w + [pick(rng, AMB_MOD)], t + ["NOUN"]
    elif r < 0.65:
        w, t = w + [pick(rng, AMB_START)], t + ["NOUN"]
    else:
        w, t = w + [pick(rng, NOUN)], t + ["NOUN"]
    return w, t


def sentence(rng):
    r = rng.random()
    if r < 0.3:       # an order: "watch the stone dog"
        w, t = [pick(rng, AMB_START)], ["VERB"]
    elif r < 0.6:     # a bare noun subject: "fish sees a cat"
        w, t = [pick(rng, AMB_START), pick(rng, VERB)], ["NOUN", "VERB"]
    else:             # "the old dog finds the gold"
        w, t = noun_phrase(rng)
        w, t = w + [pick(rng, VERB)], t + ["VERB"]
    np_w, np_t = noun_phrase(rng)
    w, t = w + np_w, t + np_t
    if rng.random() < 0.3:
        w, t = w + [pick(rng, ADV)], t + ["ADV"]
    return w, t


def make_data(rng, n):
    """n sentences -> padded (T, n) word ids, (T, n) tag ids (-100 at padding), lengths, the words."""
    sents = [sentence(rng) for _ in range(n)]
    lengths = np.array([len(w) for w, _ in sents])
    X = np.zeros((lengths.max(), n), np.int64)
    Y = np.full((lengths.max(), n), -100, np.int64)
    for j, (w, t) in enumerate(sents):
        X[:len(w), j] = [WORDS.index(x) for x in w]
        Y[:len(w), j] = [TAGS.index(x) for x in t]
    return X, Y, lengths, sents


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def make_tagger(hidden, bidirectional, args):
    return SequenceTagger(args.embedding, hidden, len(TAGS), bidirectional=bidirectional, vocab_size=len(WORDS))


def matching_hidden(target, args):
    """The unidirectional hidden size whose parameter count is closest to `target`."""
    sizes = range(1, 8 * args.hidden)
    return min(sizes, key=lambda h: abs(n_params(make_tagger(h, False, args)) - target))


def predict(model, X, lengths, device):
    with tg.no_grad():
        return model(tg.tensor(X, device=device), lengths=lengths).numpy().argmax(-1)


def scores(pred, Y, X):
    valid = Y != -100
    # the words whose tag the next word decides: a material anywhere, a start word in first place
    amb = valid & (np.isin(X, [WORDS.index(w) for w in AMB_MOD])
                   | (np.isin(X, [WORDS.index(w) for w in AMB_START]) & (np.arange(X.shape[0]) == 0)[:, None]))
    right = pred == Y
    sent = np.all(right | ~valid, axis=0)
    return {"token": float(right[valid].mean()), "ambiguous": float(right[amb].mean()),
            "unambiguous": float(right[valid & ~amb].mean()), "sentence": float(sent.mean())}


def train(name, model, data, args, device, prog):
    X, Y, lengths, _ = data
    opt = optim.Adam(model.parameters(), lr=args.lr)
    rng = backend.rng("cpu")
    n = X.shape[1]
    task = prog.add_task(f"{name:14s}", total=args.epochs * -(-n // args.batch), info="")

    def loss_of(idx):
        L = lengths[idx]
        T = L.max()
        x, y = tg.tensor(X[:T, idx], device=device), tg.tensor(Y[:T, idx], device=device)
        logits = model(x, lengths=L)
        return F.cross_entropy(logits.reshape(-1, len(TAGS)), y.reshape(-1))   # padding: -100, ignored

    def show(losses):
        prog.update(task, advance=1, info=f"epoch {epoch + 1}  loss {np.mean(losses[-10:]):.3f}")

    losses = []
    for epoch in range(args.epochs):
        train_loop(opt, shuffled_batches(rng, n, args.batch), loss_of, clip=1.0, losses=losses, on_step=show)
    return losses


def colored(words, tags, truth=None):
    """word/TAG in the tag's color; a wrong tag in red with ✗."""
    text = Text()
    for k, (w, t) in enumerate(zip(words, tags)):
        wrong = truth is not None and t != truth[k]
        text.append(w, style=COLORS[t] + (" bold" if w in AMBIGUOUS else ""))
        text.append(f"/{t}", style="bold red" if wrong else "dim " + COLORS[t])
        if wrong:
            text.append("✗", style="bold red")
        text.append(" ")
    return text


def main(argv=None, console=None):
    p = parser("tagging", __doc__)
    p.add_argument("--train", type=int, help="training sentences (default 4000)")
    p.add_argument("--test", type=int, default=1000, help="held-out sentences")
    p.add_argument("--epochs", type=int)
    p.add_argument("--hidden", type=int, default=32, help="hidden size of each direction of the BiLSTM")
    p.add_argument("--embedding", type=int, default=16)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--tag", action="append", default=[], metavar="TEXT",
                   help='tag your own sentence after training, e.g. "book the red horse" (repeatable)')
    args = p.parse_args(argv)
    device = setup(args)
    console = console or make_console()
    args.train = args.train or (1000 if args.quick else 4000)
    args.epochs = args.epochs or (4 if args.quick else 8)
    for text in args.tag:
        unknown = [w for w in text.lower().split() if w not in WORDS[1:]]
        if unknown:
            p.error(f"--tag {text!r}: unknown words {unknown}; the vocabulary is {' '.join(WORDS[1:])}")

    rng = backend.rng("cpu")
    train_data = make_data(rng, args.train)
    test_data = make_data(rng, args.test)
    bi = make_tagger(args.hidden, True, args).to(device)
    uni_hidden = matching_hidden(n_params(bi), args)
    uni = make_tagger(uni_hidden, False, args).to(device)
    models = {f"BiLSTM (2x{args.hidden})": bi, f"LSTM (1x{uni_hidden})": uni}

    console.rule("[bold]Tagging: does the next word matter?")
    console.print(f"{args.train} generated training sentences, {args.test} held-out; tags: "
                  + " ".join(f"[{COLORS[t]}]{t}[/]" for t in TAGS)
                  + "; ambiguous words (bold): " + " ".join(sorted(AMBIGUOUS)))
    for w, t in train_data[3][:3]:
        console.print(Text("  e.g. ") + colored(w, t))
    curves, results, preds = {}, {}, {}
    with progress(console) as prog:
        for name, model in models.items():
            curves[name] = train(name, model, train_data, args, device, prog)
            preds[name] = predict(model, test_data[0], test_data[2], device)
            results[name] = scores(preds[name], test_data[1], test_data[0])

    table = Table(title="held-out per-token accuracy (ambiguous: the words whose tag the next word decides)")
    for col in ("model", "params", "all tokens", "ambiguous", "others", "sentences", "loss curve"):
        table.add_column(col, justify="left" if col in ("model", "loss curve") else "right")
    for name, r in results.items():
        table.add_row(name, str(n_params(models[name])), f"{r['token']:.1%}", f"{r['ambiguous']:.1%}",
                      f"{r['unambiguous']:.1%}", f"{r['sentence']:.1%}", sparkline(curves[name], 20))
    console.print(table)

    # sentences where the models disagree first (that is where the right context matters)
    X, Y, lengths, sents = test_data
    (bi_name, uni_name) = list(models)
    differ = [j for j in range(X.shape[1]) if (preds[bi_name][:, j] != preds[uni_name][:, j])[:lengths[j]].any()]
    same = [j for j in range(X.shape[1]) if j not in set(differ)]
    console.print("[bold]held-out sentences[/] (truth, then each model; [red]✗[/] = wrong tag)")
    for j in (differ[:4] + same[:2]):
        words, truth = sents[j]
        console.print(Text("  truth   ") + colored(words, truth))
        for name, label in ((bi_name, "  BiLSTM  "), (uni_name, "  LSTM    ")):
            console.print(Text(label) + colored(words, [TAGS[k] for k in preds[name][:lengths[j], j]], truth))
        console.print()
    yours = {}
    if args.tag:
        phrases = [t.lower().split() for t in args.tag]
        L = np.array([len(s) for s in phrases])
        Xu = np.zeros((L.max(), len(phrases)), np.int64)
        for j, s in enumerate(phrases):
            Xu[:len(s), j] = [WORDS.index(w) for w in s]
        console.print("[bold]your sentences[/]")
        for name, label in ((bi_name, "  BiLSTM  "), (uni_name, "  LSTM    ")):
            P = predict(models[name], Xu, L, device)
            for j, s in enumerate(phrases):
                tags = [TAGS[k] for k in P[:L[j], j]]
                yours.setdefault(args.tag[j], {})[name] = tags
                console.print(Text(label) + colored(s, tags))
    return {"results": results, "params": {n: n_params(m) for n, m in models.items()}, "curves": curves,
            "bi": bi_name, "uni": uni_name, "chance": 1 / len(TAGS), "tagged": yours}


if __name__ == "__main__":
    main()
