"""Inside the LSTM: gate and cell values of a character language model, step by step.

Loads the LSTM that `python -m demos charlm` saved (checkpoints/charlm.npz, its first layer)
or, without one, trains a small one here on the same text; a small GRU is trained too. Then
it reruns a held-out stretch of text through the slides' equations one step at a time
(nn.LSTMCell.gates / nn.GRUCell.gates with the layer's weights) and shows, as shade
characters under the text:

  - the forget gate f_t: the mean over units, and the unit that forgets most at sentence
    ends (the decks' "forget the gender of the old subject" when a new sentence starts);
  - the cells C_t most correlated with "inside double quotes", "inside brackets" and
    "position in the line" (Karpathy's interpretable cells, found by correlation);
  - the input gate i_t, against how surprising the character just read was;
  - for the GRU, 1 - z_t, the share of new content (the slides' z_t; see nn.GRUCell).

    python -m demos inside [--quick] [--cell lstm|gru|both] [--checkpoint PATH] [--steps N]
"""
import os

import numpy as np
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import nn, optim
from tinygrad_seq.data import CharVocab
from tinygrad_seq.models import CharRNN
from tinygrad_seq.nn.tbptt import detach_state
from demos.charlm import DEFAULT_CKPT, batchify, load_text
from demos.common import SHADES, make_console, parser, progress, setup, sparkline

DESCRIPTION = "inside the LSTM/GRU: forget, input and update gates and interpretable cells over text"

WIDTH = 80          # characters of text per picture row (label 13 + 80 < 100 columns)
LABEL = 13


# ---------------------------------------------------------------- the model
def train_model(cell, text, vocab, args, device, console):
    """A small CharRNN trained with truncated BPTT (as in charlm, without its extras)."""
    ids = np.array(vocab.encode(text), dtype=np.int64)
    streams = batchify(ids, args.batch)
    tg.manual_seed(args.seed)   # each model starts from the seed, whatever ran before it
    model = CharRNN(len(vocab), args.emb, args.hidden, cell=cell).to(device)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    T, pos, state, losses = args.seq_len, 0, None, []
    with progress(console) as bar:
        task = bar.add_task(f"training a {cell.upper()} ({args.hidden} units)", total=args.steps, info="")
        for _ in range(args.steps):
            if pos + T + 1 > streams.shape[0]:
                pos, state = 0, None
            x = tg.Tensor(streams[pos:pos + T], device=device)
            y = tg.Tensor(streams[pos + 1:pos + T + 1], device=device)
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            state = detach_state(state)
            pos += T
            losses.append(loss.item())
            bar.update(task, advance=1, info=f"loss {losses[-1]:.3f}")
    console.print(f"{cell.upper()} train loss {sparkline(losses, 40)} {losses[0]:.2f} -> {losses[-1]:.2f} nats/char")
    model.eval()
    return model


def load_checkpoint(path, device):
    """charlm's best weights, if the file holds a plain LSTM; else None."""
    ck = tg.load(path)
    cfg = ck["config"]
    if cfg["cell"] != "lstm" or cfg.get("peephole") or cfg.get("coupled"):
        return None, None
    vocab = CharVocab.from_itos(ck["vocab"])
    model = CharRNN(len(vocab), cfg["emb"], cfg["hidden"], num_layers=cfg["layers"], cell="lstm").to(device)
    best = ck.get("best")
    model.load_state_dict(best["model"] if best is not None else ck["model"])
    model.eval()
    return model, vocab


# ---------------------------------------------------------------- gates, one step at a time
def run_gates(model, ids, device):
    """Step the first layer's cell over ids with the layer's weights; every gate per step.
    Returns a dict of (T, H) arrays, the per-step surprise -log p(x_t | x_<t), and how far
    the stepped h_t is from the layer's own (fused) output."""
    rnn = model.rnn
    kind = rnn.mode
    first = {k: getattr(rnn, k + "_l0").numpy() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    cell = (nn.LSTMCell if kind == "LSTM" else nn.GRUCell)(rnn.input_size, rnn.hidden_size).to(device)
    cell.load_state_dict(first)
    layer = type(rnn)(rnn.input_size, rnn.hidden_size).to(device)    # the first layer alone, fused
    layer.load_state_dict({k + "_l0": v for k, v in first.items()})
    names = ("i", "f", "g", "c", "o", "h") if kind == "LSTM" else ("r", "z", "n", "h")
    out = {k: [] for k in names}
    x_ids = tg.Tensor(np.asarray(ids, dtype=np.int64)[:, None], device=device)
    with tg.no_grad():
        emb = model.embedding(x_ids)                    # (T, 1, E)
        state = None
        for x_t in emb.unbind(0):
            values = cell.gates(x_t, state)
            for k, v in zip(names, values):
                out[k].append(v.numpy()[0])
            state = (values[5], values[3]) if kind == "LSTM" else values[3]
        layer_out, _ = layer(emb)
        logits, _ = model(x_ids)
    arr = {k: np.stack(v) for k, v in out.items()}
    mismatch = float(np.abs(arr["h"] - layer_out.numpy()[:, 0]).max())
    logp = logits.numpy()[:, 0].astype(np.float64)
    logp = logp - logp.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    surprise = np.full(len(ids), np.nan)
    surprise[1:] = -logp[np.arange(len(ids) - 1), np.asarray(ids)[1:]]   # reading x_t after predicting it
    return arr, surprise, mismatch


# ---------------------------------------------------------------- what the text is doing
def features(text):
    """Per character: inside double quotes, inside brackets, position in the line,
    sentence end (the step that reads the space or newline after . ! ?), line end."""
    n = len(text)
    quote, bracket, col = np.zeros(n), np.zeros(n), np.zeros(n)
    inq, depth, c = False, 0, 0
    for t, ch in enumerate(text):
        if ch == '"':
            inq = not inq
        depth = depth + 1 if ch in "([{" else max(depth - 1, 0) if ch in ")]}" else depth
        quote[t], bracket[t], col[t] = inq, depth > 0, c
        c = 0 if ch == "\n" else c + 1
    sentence = np.array([t > 0 and text[t - 1] in ".!?" and ch in " \n" for t, ch in enumerate(text)])
    line = np.array([ch == "\n" for ch in text])
    return {"quote": quote, "bracket": bracket, "column": col, "sentence": sentence, "line": line}


def correlations(values, feature):
    """Pearson correlation of every unit (columns of values) with one feature."""
    v = values - values.mean(0)
    f = feature - feature.mean()
    den = np.sqrt((v ** 2).sum(0) * (f ** 2).sum()) + 1e-12
    return (v * f[:, None]).sum(0) / den


def pick_passage(text, length):
    """The held-out window of `length` characters with the most quotes, brackets and sentence ends."""
    best, best_score = 0, -1
    for start in range(0, max(1, len(text) - length), 20):
        w = text[start:start + length]
        score = min(w.count('"'), 6) + min(sum(w.count(b) for b in "()[]"), 6) + min(w.count(". "), 4) * 2
        if score > best_score:
            best, best_score = start, score
    return best


def shade_row(values):
    """Values in [0, 1] -> one shade character each (' ' < 0.2 <= '░' < 0.4 <= '▒' < 0.6 <= '▓' < 0.8 <= '█')."""
    idx = np.clip((np.asarray(values) * len(SHADES)).astype(int), 0, len(SHADES) - 1)
    return "".join(SHADES[i] for i in idx)


def visible(text):
    return text.replace("\n", "↵").replace("\t", "→")


def picture(text, rows, width=WIDTH):
    """The passage in rows of `width` characters, each with its shaded rows underneath."""
    lines = []
    for s in range(0, len(text), width):
        lines.append(f"{'text':<{LABEL}}" + visible(text[s:s + width]))
        for label, values in rows:
            lines.append(f"{label:<{LABEL}}" + shade_row(values[s:s + width]))
        lines.append("")
    return "\n".join(lines)


def normalise(v):
    lo, hi = float(np.min(v)), float(np.max(v))
    return (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)


# ---------------------------------------------------------------- the report for one model
def report(model, vocab, text, start, passage_len, device, console):
    kind = model.rnn.mode
    ids = vocab.encode(text)
    gates, surprise, mismatch = run_gates(model, ids, device)
    feat = features(text)
    out = {"mismatch": mismatch}
    sent, line = feat["sentence"], feat["line"]
    table = Table(title=f"{kind}, first layer, {len(text):,} held-out characters "
                        "(gate means over units; per step of the character read)")
    table.add_column("gate")
    moved = "unit that moves most there" + (" (f: drops most)" if kind == "LSTM" else "")
    for col in ("at sentence ends", "at line ends", "elsewhere", moved):
        table.add_column(col, justify="right")
    if kind == "LSTM":
        shown = [("f", "f (forget)", gates["f"]), ("i", "i (input)", gates["i"]), ("o", "o (output)", gates["o"])]
    else:
        shown = [("update", "1 - z (update)", 1 - gates["z"]), ("r", "r (reset)", gates["r"])]
    other = ~sent & ~line
    for key, name, g in shown:
        per_unit = g[sent].mean(0) - g[other].mean(0)
        # the forget gate's unit of interest is the one that lets go most at a sentence end
        u = int(np.argmin(per_unit) if key == "f" else np.argmax(np.abs(per_unit))) if sent.any() else 0
        mean = lambda where: f"{g[where].mean():.3f}" if where.any() else "-"   # noqa: E731
        table.add_row(name, mean(sent), mean(line), mean(other), f"unit {u}: {per_unit[u]:+.3f}" if sent.any() else "-")
        out[key] = dict(sentence=float(g[sent].mean()) if sent.any() else float("nan"),
                                    line=float(g[line].mean()) if line.any() else float("nan"),
                                    elsewhere=float(g[other].mean()), unit=u, shift=float(per_unit[u]))
    console.print(table)

    rows = []
    if kind == "LSTM":
        f_key = out["f"]
        rows.append(("f mean", gates["f"].mean(1)))
        rows.append((f"f unit {f_key['unit']}", gates["f"][:, f_key["unit"]]))
        cells = {}
        for what in ("quote", "bracket", "column"):
            if feat[what].std() == 0:
                continue
            r = correlations(gates["c"], feat[what])
            u = int(np.argmax(np.abs(r)))
            cells[what] = dict(unit=u, r=float(r[u]))
            label = {"quote": "quotes", "bracket": "brackets", "column": "column"}[what]
            rows.append((f"C{u} {label}", normalise(gates["c"][:, u] * np.sign(r[u]))))
        out["cells"] = cells
        rows.append(("i mean", gates["i"].mean(1)))
        s = surprise[1:]
        i_mean = gates["i"].mean(1)[1:]
        hi = s >= np.quantile(s, 0.8)
        out["input_surprise"] = dict(surprising=float(i_mean[hi].mean()), rest=float(i_mean[~hi].mean()),
                                     r=float(np.corrcoef(i_mean, s)[0, 1]))
    else:
        rows.append(("1-z mean", (1 - gates["z"]).mean(1)))
        u = out["update"]["unit"]
        rows.append((f"1-z unit {u}", 1 - gates["z"][:, u]))
        rows.append(("r mean", gates["r"].mean(1)))
    sl = slice(start, start + passage_len)
    console.print(f"[bold]{kind} over a held-out passage[/] (shade = value: ' ' <0.2 ░ <0.4 ▒ <0.6 ▓ <0.8 █"
                  + ("; gates as they are, C rows scaled to their min..max, signed so that high = the feature)"
                     if kind == "LSTM" else "; update 1 - z and reset r as they are)"))
    console.print(picture(text[sl], [(label, v[sl]) for label, v in rows]))
    if kind == "LSTM":
        for what, c in out["cells"].items():
            desc = {"quote": "inside double quotes", "bracket": "inside brackets", "column": "position in the line"}
            console.print(f"cell C{c['unit']} tracks {desc[what]}: correlation {c['r']:+.2f}")
        s = out["input_surprise"]
        console.print(f"input gate (mean over units) after the 20% most surprising characters {s['surprising']:.3f}, "
                      f"after the rest {s['rest']:.3f} (correlation with surprise {s['r']:+.2f})")
        f = out["f"]
        forgets = f["sentence"] < f["elsewhere"]
        console.print(f"forget gate (mean) at sentence ends {f['sentence']:.3f} vs elsewhere {f['elsewhere']:.3f}: "
                      + ("on average this model forgets more when a new sentence starts (the decks' 'forget the "
                         "gender of the old subject')" if forgets else
                         "on average this model does not forget more when a new sentence starts")
                      + f"; unit {f['unit']} drops most there ({f['shift']:+.3f}).")
    else:
        z = out["update"]
        console.print(f"GRU update 1 - z_t (share of new content) at sentence ends {z['sentence']:.3f} vs elsewhere "
                      f"{z['elsewhere']:.3f}; unit {z['unit']} moves most ({z['shift']:+.3f}).")
    console.print(f"(stepping the cell reproduces the layer's output to {mismatch:.1e})\n")
    return out


def main(argv=None, console=None):
    p = parser("inside", __doc__)
    p.add_argument("--cell", default="both", choices=["lstm", "gru", "both"])
    p.add_argument("--checkpoint", default=DEFAULT_CKPT, help="charlm's LSTM, used when the file exists")
    p.add_argument("--text", help="train on this UTF-8 file instead of the Python docs")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--emb", type=int, default=32)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--chars", type=int, default=6000, help="held-out characters to analyse")
    args = p.parse_args(argv)
    if args.text and not os.path.isfile(args.text):
        p.error(f"--text {args.text}: no such file")
    if args.quick:
        for k, v in dict(hidden=32, emb=16, steps=120, seq_len=32, batch=16, chars=1500).items():
            if getattr(args, k) == p.get_default(k):
                setattr(args, k, v)
    device = setup(args)
    console = console or make_console()
    text = load_text(args.text)
    if args.quick:
        text = text[:60_000]
    split = int(len(text) * 0.9)
    train_text, held = text[:split], text[split:]
    found = {}
    for cell in (("lstm", "gru") if args.cell == "both" else (args.cell,)):
        model = vocab = None
        if cell == "lstm" and os.path.exists(args.checkpoint):
            model, vocab = load_checkpoint(args.checkpoint, device)
            if model is not None:
                console.print(f"LSTM: charlm's weights from {args.checkpoint} ({model.rnn})")
        if model is None:
            vocab = CharVocab(text)
            model = train_model(cell, train_text, vocab, args, device, console)
        piece = "".join(ch for ch in held if ch in vocab)[: args.chars]
        passage_len = 4 * WIDTH if args.quick else 6 * WIDTH
        start = pick_passage(piece, passage_len)
        found[cell] = report(model, vocab, piece, start, passage_len, device, console)
    return found


if __name__ == "__main__":
    main()
