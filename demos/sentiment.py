"""Sentence classification where word order matters: bag of words vs n-grams vs a 1D CNN
over word vectors vs an LSTM.

    python -m demos sentiment [--quick] [--seed N] [--device cpu|cuda] [--csv FILE]
                              [--train N] [--test N] [--epochs N] [--explain "a sentence"]

The generated reviews make word order and negation decide the label: "not good ,
rather bad" and "not bad , rather good" hold the same words, so a bag of words cannot
tell them apart, while n-grams see "not bad", and the CNN's filters (windows of 3, 4
and 5 words, the same weights at every position, max-over-time pooling) and the LSTM
read the order. With --csv FILE (columns text,label) it trains on your sentences.
At the end it shows, for one test sentence, which word windows won the CNN's
max-pooling for the filters that decided its prediction.
"""
import csv

import numpy as np
from rich.columns import Columns
from rich.table import Table
from rich.text import Text

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import nn, optim
from tinygrad_seq.data import BagOfWords, NGramVectorizer, TfidfVectorizer, WordVocab, tokenize

from demos import common

DESCRIPTION = "sentiment where order matters: bag of words vs n-grams vs 1D CNN (max-pool windows) vs LSTM"

# ---------------------------------------------------------------- the generated reviews
POSITIVE = ("good great excellent wonderful amazing superb delightful brilliant enjoyable fantastic "
            "charming memorable").split()
NEGATIVE = ("bad terrible awful boring dull horrible poor disappointing mediocre weak bland "
            "forgettable").split()
NOUNS = ("movie film plot acting soundtrack ending script cast story dialogue pacing direction sequel "
         "performance cinematography").split()
INTENSIFIERS = "very really extremely quite truly so incredibly pretty".split()
VERBS = "was is seemed felt".split()
NEGATED = ["was not", "wasn't", "is not", "isn't", "was never", "was hardly", "was far from", "did not feel"]

# the four models, as the tables name them
BOW, NGRAM, TFIDF, CNN, LSTM = "bag of words", "uni+bigrams", "TF-IDF uni+bigrams", "1D CNN (3,4,5)", "LSTM"

TEMPLATES = ("plain", "negated", "contrast", "expectation")
TEMPLATE_WEIGHTS = (0.3, 0.25, 0.25, 0.2)


def _pick(rng, seq):
    return seq[rng.integers(len(seq))]


def _adj(rng, positive):
    return _pick(rng, POSITIVE if positive else NEGATIVE)


def _maybe_intens(rng, p=0.4):
    return _pick(rng, INTENSIFIERS) + " " if rng.random() < p else ""


def review(rng, template, positive):
    """One review of `template` whose sentiment is `positive` (True / False)."""
    noun = _pick(rng, NOUNS)
    if template == "plain":          # the adjective decides
        forms = [f"the {noun} {_pick(rng, VERBS)} {_maybe_intens(rng)}{_adj(rng, positive)} .",
                 f"what a {_maybe_intens(rng)}{_adj(rng, positive)} {noun} !",
                 f"i found the {noun} {_maybe_intens(rng)}{_adj(rng, positive)} and the "
                 f"{_pick(rng, NOUNS)} {_adj(rng, positive)} ."]
    elif template == "negated":      # "not" flips the adjective
        neg = _pick(rng, NEGATED)
        intens = _maybe_intens(rng, 0.3) if neg not in ("was hardly", "was far from") else ""
        forms = [f"the {noun} {neg} {intens}{_adj(rng, not positive)} .",
                 f"i would not call the {noun} {_adj(rng, not positive)} ."]
    elif template == "contrast":     # both polarities present; order decides
        a, b = _adj(rng, not positive), _adj(rng, positive)
        forms = [f"the {noun} {_pick(rng, VERBS)} not {a} , rather {_maybe_intens(rng)}{b} .",
                 f"the {noun} {_pick(rng, VERBS)} {_maybe_intens(rng)}{b} , not {a} .",
                 f"not {a} but {b} : that is the {noun} ."]
    else:                            # "expectation": what it turned out to be decides
        a, b = _adj(rng, not positive), _adj(rng, positive)
        forms = [f"i expected a {a} {noun} but it {_pick(rng, VERBS)} {_maybe_intens(rng)}{b} .",
                 f"the {noun} was supposed to be {a} , instead it was {b} ."]
    return _pick(rng, forms)


def make_corpus(n, rng, noise=0.03):
    """n generated reviews: (texts, labels 0/1, template names); a fraction `noise` of the
    labels is flipped (real data is never clean)."""
    texts, labels, kinds = [], [], []
    for _ in range(n):
        kind = TEMPLATES[rng.choice(len(TEMPLATES), p=TEMPLATE_WEIGHTS)]
        positive = bool(rng.random() < 0.5)
        texts.append(review(rng, kind, positive))
        labels.append(int(positive) ^ int(rng.random() < noise))
        kinds.append(kind)
    return texts, np.array(labels, dtype=np.int64), kinds


def generated_data(n_train, n_test, rng, noise):
    """Train and test sets; test sentences never appear in the training set."""
    tr_x, tr_y, tr_k = make_corpus(n_train, rng, noise)
    seen = set(tr_x)
    te_x, te_y, te_k = [], [], []
    while len(te_x) < n_test:
        x, y, k = make_corpus(n_test, rng, noise)
        for xi, yi, ki in zip(x, y, k):
            if xi not in seen and len(te_x) < n_test:
                seen.add(xi)
                te_x.append(xi)
                te_y.append(yi)
                te_k.append(ki)
    return (tr_x, tr_y, tr_k), (te_x, np.array(te_y, dtype=np.int64), te_k), ["negative", "positive"]


def csv_data(path, rng, test_fraction=0.2):
    """Sentences from a CSV with columns text,label; labels are any strings (sorted into classes)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "text" not in rows[0] or "label" not in rows[0]:
        raise common.UserError(f"sentiment: {path} needs a header with columns 'text' and 'label', "
                         f"got {list(rows[0]) if rows else 'an empty file'}")
    names = sorted({r["label"].strip() for r in rows})
    if len(names) < 2:
        raise common.UserError(f"sentiment: {path} has only one label ({names}); need at least two classes")
    texts = [r["text"] for r in rows]
    labels = np.array([names.index(r["label"].strip()) for r in rows], dtype=np.int64)
    order = rng.permutation(len(texts))
    n_test = max(1, int(round(len(texts) * test_fraction)))
    te, tr = order[:n_test], order[n_test:]
    pick = lambda idx: ([texts[i] for i in idx], labels[idx], ["csv"] * len(idx))  # noqa: E731
    return pick(tr), pick(te), names


# ---------------------------------------------------------------- models
class LinearClassifier(nn.Module):
    """Logistic regression on a fixed document vector (bag of words or n-gram counts)."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x):
        return self.linear(x)


class TextCNN(nn.Module):
    """Kim (2014): word vectors -> Conv1d filters over windows of 3, 4, 5 words (shared weights
    across positions) -> ReLU -> max over time -> concat -> dropout -> linear."""

    def __init__(self, vocab_size, n_classes, emb=32, filters=16, windows=(3, 4, 5), dropout=0.5):
        super().__init__()
        self.windows = tuple(windows)
        self.embedding = nn.Embedding(vocab_size, emb, padding_idx=0)
        self.convs = nn.ModuleList([nn.Conv1d(emb, filters, k) for k in self.windows])
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(filters * len(self.windows), n_classes)

    def feature_maps(self, ids, lengths):
        """Per window size k: ReLU(conv) (B, filters, T-k+1), zeroed where a window starts past
        the sentence (so padding windows never win the max unless the sentence is shorter than k)."""
        x = self.embedding(ids).transpose(1, 2)               # (B, emb, T)
        maps = []
        for k, conv in zip(self.windows, self.convs):
            a = conv(x).relu()
            starts = np.arange(a.shape[2])[None, :]
            valid = starts <= np.maximum(np.asarray(lengths)[:, None] - k, 0)
            maps.append(a * tg.Tensor(valid[:, None, :].astype(np.float32), device=a.device))
        return maps

    def forward(self, ids, lengths):
        pooled = [self.pool(m).squeeze(2) for m in self.feature_maps(ids, lengths)]   # (B, filters) each
        return self.out(self.dropout(tg.cat(pooled, dim=1)))


class LSTMClassifier(nn.Module):
    """Many-to-one: the LSTM reads the words; its last valid hidden state (lengths= makes
    padding not count) goes through dropout to a linear layer."""

    def __init__(self, vocab_size, n_classes, emb=32, hidden=48, dropout=0.3):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb, padding_idx=0)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, ids, lengths):
        _, (h_n, _) = self.lstm(self.embedding(ids), lengths=np.asarray(lengths))
        return self.out(self.dropout(h_n[-1]))


# ---------------------------------------------------------------- training
def encode(texts, vocab, min_len):
    """Token ids padded with 0 to the longest sentence (at least min_len), and the lengths."""
    ids = [vocab.encode(tokenize(t)) or [vocab.unk_index] for t in texts]
    lengths = np.array([len(s) for s in ids], dtype=np.int64)
    out = np.zeros((len(ids), max(int(lengths.max()), min_len)), dtype=np.int64)
    for i, s in enumerate(ids):
        out[i, :len(s)] = s
    return out, lengths


class Features:
    """What a model is fed: a dense document matrix (linear models) or padded ids + lengths."""

    def __init__(self, dense=None, ids=None, lengths=None):
        self.dense, self.ids, self.lengths = dense, ids, lengths

    def __len__(self):
        return len(self.dense) if self.dense is not None else len(self.ids)

    def batch(self, idx, device):
        if self.dense is not None:
            return (tg.Tensor(self.dense[idx], device=device),)
        lens = self.lengths[idx]
        T = min(max(int(lens.max()), 5), self.ids.shape[1])   # trim the batch to its longest sentence
        return tg.Tensor(self.ids[idx, :T], device=device), lens


def predict(model, feats, device, batch=512):
    model.eval()
    preds = []
    with tg.no_grad():
        for s in range(0, len(feats), batch):
            idx = np.arange(s, min(s + batch, len(feats)))
            preds.append(model(*feats.batch(idx, device)).argmax(axis=1).numpy())
    model.train()
    return np.concatenate(preds)


def train(model, feats, y, epochs, lr, batch, device, bar, task, rng, weight_decay=0.0):
    """Adam over shuffled batches, gradients clipped at norm 5; returns the per-step losses."""
    opt = optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    def loss_of(idx):
        return F.cross_entropy(model(*feats.batch(idx, device)), tg.Tensor(y[idx], device=device))

    def show(losses):
        bar.update(task, advance=1, info=f"loss {np.mean(losses[-20:]):.3f}")

    return common.train_loop(opt, common.shuffled_batches(rng, len(feats), batch, epochs), loss_of,
                             clip=5.0, on_step=show)


# ---------------------------------------------------------------- the CNN's explanation
def explain(model, vocab, text, device="cpu", top=4):
    """For one sentence: the predicted class, and for the filters that pushed hardest toward it,
    which window of words won the max-over-time pooling."""
    toks = tokenize(text)
    ids, lengths = encode([text], vocab, max(model.windows))
    model.eval()
    with tg.no_grad():
        x = tg.Tensor(ids, device=device)
        maps = [m.numpy()[0] for m in model.feature_maps(x, lengths)]   # (filters, T-k+1) each
        logits = model(x, lengths).numpy()[0]
    model.train()
    pred = int(logits.argmax())
    W = model.out.weight.numpy()                                        # (classes, filters*len(windows))
    push = W[pred] - W.mean(axis=0)                                     # toward the prediction, vs the rest
    rows = []
    nf = maps[0].shape[0]
    for wi, (k, m) in enumerate(zip(model.windows, maps)):
        for f in range(nf):
            t = int(m[f].argmax())
            act = float(m[f, t])
            rows.append(dict(window=k, filter=f, start=t, act=act, contrib=act * float(push[wi * nf + f]),
                             words=toks[t:t + k]))
    rows.sort(key=lambda r: -r["contrib"])
    prob = np.exp(logits - logits.max())
    return pred, float(prob[pred] / prob.sum()), toks, rows[:top]


def highlighted(toks, start, k, style):
    """The sentence with the window [start, start+k) in `style` (and in brackets, for plain terminals)."""
    t = Text()
    last = min(start + k, len(toks)) - 1
    for i, w in enumerate(toks):
        inside = start <= i <= last
        t.append(("[" if i == start else "") + w + ("]" if i == last else ""), style=style if inside else "dim")
        t.append(" ")
    return t


# ---------------------------------------------------------------- main
def templates_table(tr_x, tr_y, tr_k, names):
    """One generated training review of every template."""
    ex = Table(title="generated reviews: the templates (word order and negation decide)")
    ex.add_column("template")
    ex.add_column("example")
    ex.add_column("label")
    for kind in TEMPLATES:
        i = tr_k.index(kind)
        ex.add_row(kind, tr_x[i], names[tr_y[i]])
    return ex


def accuracy_table(results, curves):
    """Train / test accuracy and the loss curve of every model."""
    table = Table(title="accuracy (BoW, n-grams, TF-IDF: logistic regression; test sentences unseen)")
    for col in ("model", "parameters", "train acc", "test acc", "loss"):
        table.add_column(col, justify="left" if col in ("model", "loss") else "right")
    best = max(r["test"] for r in results.values())
    for name, r in results.items():
        style = "bold green" if r["test"] == best else ""
        table.add_row(name, f"{r['params']:,}", f"{r['train']:.3f}", f"[{style}]{r['test']:.3f}[/]" if style
                      else f"{r['test']:.3f}", common.sparkline(curves[name], 30))
    return table


def per_template(results, preds, te_k, te_y, console):
    """Print and return every model's test accuracy per template of the generated reviews."""
    by_template = {}
    tt = Table(title="test accuracy per template: a bag of words cannot read order")
    tt.add_column("model")
    kinds = np.array(te_k)
    for kind in TEMPLATES:
        tt.add_column(f"{kind} ({int((kinds == kind).sum())})", justify="right")
    for name in results:
        accs = {kind: float((preds[name][kinds == kind] == te_y[kinds == kind]).mean()) for kind in TEMPLATES}
        by_template[name] = accs
        tt.add_row(name, *[f"{accs[k]:.3f}" for k in TEMPLATES])
    console.print(tt)
    return by_template


def explanation_table(toks, top):
    """The CNN filters that pushed hardest toward the prediction, each with its winning window."""
    et = Table(title="filters that pushed hardest toward the prediction: the window that won max-pooling")
    for col in ("window", "filter", "activation", "push", "winning window in the sentence"):
        et.add_column(col, justify="right" if col in ("activation", "push") else "left")
    for r in top:
        style = "bold black on yellow" if r["contrib"] > 0 else "bold white on red"
        et.add_row(f"{r['window']} words", f"#{r['filter']}", f"{r['act']:.2f}", f"{r['contrib']:+.2f}",
                   highlighted(toks, r["start"], r["window"], style))
    return et


def main(argv=None, console=None):
    p = common.parser("sentiment", __doc__)
    p.add_argument("--csv", help="your own sentences: a CSV file with columns text,label")
    p.add_argument("--train", type=int, help="generated training reviews (default 4000; quick 1500)")
    p.add_argument("--test", type=int, help="generated test reviews (default 1000; quick 400)")
    p.add_argument("--epochs", type=int, help="epochs for the CNN and the LSTM (default 10; quick 6)")
    p.add_argument("--noise", type=float, default=0.03, help="fraction of generated labels flipped")
    p.add_argument("--explain", help="the sentence whose CNN max-pool windows are shown")
    a = p.parse_args(argv)
    console = console or common.make_console()
    device = common.setup(a)
    rng = np.random.default_rng(a.seed)
    n_train = a.train or (1500 if a.quick else 4000)
    n_test = a.test or (400 if a.quick else 1000)
    epochs = a.epochs or (6 if a.quick else 10)

    if a.csv:
        (tr_x, tr_y, tr_k), (te_x, te_y, te_k), names = csv_data(a.csv, rng)
    else:
        (tr_x, tr_y, tr_k), (te_x, te_y, te_k), names = generated_data(n_train, n_test, rng, a.noise)
    C = len(names)
    console.print(f"[bold]{len(tr_x)}[/] training and [bold]{len(te_x)}[/] test sentences, "
                  f"classes: {', '.join(names)}")
    if not a.csv:
        console.print(templates_table(tr_x, tr_y, tr_k, names))

    vocab = WordVocab([tokenize(t) for t in tr_x], min_freq=1 if not a.csv else 2)
    max_k = 5
    tr_ids, tr_len = encode(tr_x, vocab, max_k)
    te_ids, te_len = encode(te_x, vocab, max_k)
    bow = BagOfWords(min_freq=1 if not a.csv else 2).fit(tr_x)            # keeps "not": no stop words
    ngr = NGramVectorizer(n=(1, 2), min_freq=1 if not a.csv else 2).fit(tr_x)
    # the same n-grams weighted by rarity (idf) and scaled to unit length
    tfidf = TfidfVectorizer(n=(1, 2), min_freq=1 if not a.csv else 2).fit(tr_x)
    # name: (training features, test features, model, epochs, learning rate, weight decay)
    data = {
        BOW: (Features(bow.transform(tr_x).numpy()), Features(bow.transform(te_x).numpy()),
              LinearClassifier(len(bow), C), 30, 0.01, 1e-3),
        NGRAM: (Features(ngr.transform(tr_x).numpy()), Features(ngr.transform(te_x).numpy()),
                LinearClassifier(len(ngr), C), 30, 0.01, 1e-3),
        TFIDF: (Features(tfidf.transform(tr_x).numpy()), Features(tfidf.transform(te_x).numpy()),
                LinearClassifier(len(tfidf), C), 30, 0.05, 1e-4),
        CNN: (Features(ids=tr_ids, lengths=tr_len), Features(ids=te_ids, lengths=te_len),
              TextCNN(len(vocab), C), epochs, 0.01, 0.0),
        LSTM: (Features(ids=tr_ids, lengths=tr_len), Features(ids=te_ids, lengths=te_len),
               LSTMClassifier(len(vocab), C), epochs, 0.01, 0.0),
    }
    batch = 64
    n_batches = -(-len(tr_x) // batch)
    results, curves, preds = {}, {}, {}
    with common.progress(console) as bar:
        for name, (ftr, fte, model, ep, lr, wd) in data.items():
            model.to(device)
            task = bar.add_task(name, total=ep * n_batches, info="")
            curves[name] = train(model, ftr, tr_y, ep, lr, batch, device, bar, task, rng, wd)
            p_tr, p_te = predict(model, ftr, device), predict(model, fte, device)
            preds[name] = p_te
            results[name] = {"train": float((p_tr == tr_y).mean()), "test": float((p_te == te_y).mean()),
                             "params": sum(int(np.prod(q.shape)) for q in model.parameters()),
                             "loss_first": float(np.mean(curves[name][:10])),
                             "loss_last": float(np.mean(curves[name][-10:]))}

    console.print(accuracy_table(results, curves))

    by_template = {}
    if not a.csv:
        by_template = per_template(results, preds, te_k, te_y, console)

    mats = []
    for name in results:
        t, cm = common.confusion_table(te_y, preds[name], names, title=name)
        results[name]["confusion"] = cm
        mats.append(t)
    console.print("[bold]confusion matrices on the test set[/] (rows: true, columns: predicted)")
    console.print(Columns(mats))

    # which windows won the CNN's max-pooling for one test sentence
    cnn = data[CNN][2]
    sentence = a.explain
    if sentence is None:
        # a short sentence where order decides, that the CNN gets right
        cands = [i for i in range(len(te_x)) if te_k[i] == "contrast" and preds[CNN][i] == te_y[i]] \
            or list(range(len(te_x)))
        sentence = te_x[min(cands, key=lambda i: len(te_x[i]))]
    pred, prob, toks, top = explain(cnn, vocab, sentence, device)
    console.print(f"\n[bold]why the CNN says {names[pred]}[/] ({prob:.0%}) for: [italic]{sentence}[/]")
    console.print(explanation_table(toks, top))

    return {"results": results, "by_template": by_template, "classes": names,
            "explained": {"sentence": sentence, "pred": names[pred], "windows": [r["words"] for r in top]},
            "n_train": len(tr_x), "n_test": len(te_x)}


if __name__ == "__main__":
    main()
