"""A 2D CNN that reads digits: Conv2d -> ReLU -> MaxPool2d -> Conv2d -> ReLU -> MaxPool2d ->
Dropout -> Linear, trained on digits it draws itself (or on MNIST).

    python -m demos conv [--quick] [--seed N] [--device cpu|cuda] [--mnist DIR]
                         [--train N] [--test N] [--epochs N] [--optim adam|sgd] [--lr LR]
                         [--channels C1 C2] [--kernel K] [--padding P] [--stride S]

The generated digits come from a 5x7 bitmap font (in this file), drawn on a 28x28
canvas at a random size, aspect, slant and position, with ink of random strength and
pixel noise. --mnist DIR reads the four MNIST IDX files (train-images-idx3-ubyte,
train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or
not) from DIR. Prints accuracy, the confusion matrix, a few test digits with their
predictions, and the learned first-layer filters.
"""
import gzip
from pathlib import Path

import numpy as np
from rich.columns import Columns
from rich.table import Table
from rich.text import Text

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import nn, optim

from demos import common, dist

DESCRIPTION = "2D CNN on digits it draws (or MNIST IDX): accuracy, confusion, digits and learned filters"

# ---------------------------------------------------------------- a 5x7 bitmap font
FONT = {
    0: [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
    1: ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
    2: [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
    3: ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."],
    4: ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
    5: ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
    6: ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
    7: ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
    8: [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
    9: [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
}
GLYPHS = np.array([[[c == "#" for c in row] for row in FONT[d]] for d in range(10)], dtype=np.float64)


def draw_digits(labels, rng, size=28, noise=0.15):
    """Images (N, size, size) in [0, 1] of the digits `labels`: each glyph is scaled to a
    random height (11-22 px) and aspect, slanted, placed at a random position, and sampled
    with bilinear interpolation (smooth strokes), then given random ink strength and noise."""
    labels = np.asarray(labels)
    N = len(labels)
    h = rng.uniform(11, 22, N)
    w = h * 5 / 7 * rng.uniform(0.75, 1.25, N)
    slant = rng.uniform(-0.25, 0.25, N)
    top = rng.uniform(0, 1, N) * (size - h)
    left = rng.uniform(0, 1, N) * np.maximum(size - w - np.abs(slant) * h, 0) + np.maximum(slant, 0) * h / 2
    yy, xx = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    # canvas pixel -> glyph coordinates (row u in [0, 7), column v in [0, 5))
    u = (yy[None] - top[:, None, None]) / h[:, None, None] * 7 - 0.5
    mid = (top + h / 2)[:, None, None]
    v = (xx[None] - left[:, None, None] + slant[:, None, None] * (yy[None] - mid)) / w[:, None, None] * 5 - 0.5
    padded = np.pad(GLYPHS, ((0, 0), (1, 1), (1, 1)))[labels]            # (N, 9, 7), a zero border
    u, v = np.clip(u + 1, 0, 7.999), np.clip(v + 1, 0, 5.999)             # into the padded glyph
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    fu, fv = u - u0, v - v0
    n = np.arange(N)[:, None, None]
    at = lambda a, b: padded[n, np.minimum(a, 8), np.minimum(b, 6)]       # noqa: E731
    img = ((1 - fu) * (1 - fv) * at(u0, v0) + (1 - fu) * fv * at(u0, v0 + 1) +
           fu * (1 - fv) * at(u0 + 1, v0) + fu * fv * at(u0 + 1, v0 + 1))
    img = np.clip(img * 1.6 - 0.2, 0, 1) * rng.uniform(0.6, 1.0, (N, 1, 1))   # sharper strokes, ink strength
    img = img + rng.normal(0, noise, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def generated_data(n_train, n_test, rng):
    ytr, yte = rng.integers(0, 10, n_train), rng.integers(0, 10, n_test)
    return draw_digits(ytr, rng), ytr.astype(np.int64), draw_digits(yte, rng), yte.astype(np.int64)


# ---------------------------------------------------------------- MNIST's IDX files
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """An IDX file as a NumPy array: two zero bytes, a type code, the number of dims, each dim
    as a big-endian uint32, then the data (big-endian). Gzipped files are recognised by
    their first two bytes, whatever their name."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise common.UserError(f"read_idx: {path} is not an IDX file (magic bytes {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise common.UserError(f"read_idx: {path} is truncated in its header ({len(raw)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    need = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - head != need:
        raise common.UserError(f"read_idx: {path} should hold {need} data bytes for shape {shape} "
                         f"{dtype.str}, found {len(raw) - head}")
    return np.frombuffer(raw, dtype=dtype, offset=head).reshape(shape).astype(dtype.newbyteorder("="))


def _find(directory, prefix, kind):
    hits = sorted(p for p in Path(directory).iterdir() if p.name.startswith(prefix) and kind in p.name)
    if not hits:
        raise FileNotFoundError(f"conv: no {prefix}*{kind}* file in {directory} (expected MNIST's "
                                "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                                "t10k-labels-idx1-ubyte, optionally .gz)")
    return hits[0]


def mnist_data(directory):
    d = Path(directory)
    if not d.is_dir():
        raise FileNotFoundError(f"conv: --mnist {directory} is not a directory")
    out = []
    for split in ("train", "t10k"):
        x = read_idx(_find(d, split, "idx3"))
        y = read_idx(_find(d, split, "idx1"))
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise common.UserError(f"conv: {split} images {x.shape} and labels {y.shape} do not match")
        out += [(x.astype(np.float32) / 255.0), y.astype(np.int64)]
    return tuple(out)


# ---------------------------------------------------------------- the network
class ConvNet(nn.Module):
    """Conv2d -> ReLU -> Pool(2) -> Conv2d -> ReLU -> Pool(2) -> Dropout -> Linear; Pool is
    MaxPool2d (pool='max') or AvgPool2d (pool='avg')."""

    def __init__(self, size=28, channels=(16, 32), kernel=5, padding=2, stride=1, dropout=0.25, n_classes=10,
                 pool="max"):
        super().__init__()
        c1, c2 = channels
        Pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pool]
        self.conv1 = nn.Conv2d(1, c1, kernel, stride=stride, padding=padding)
        self.pool1 = Pool(2)
        self.conv2 = nn.Conv2d(c1, c2, kernel, stride=stride, padding=padding)
        self.pool2 = Pool(2)
        self.dropout = nn.Dropout(dropout)
        side = size
        for _ in range(2):   # conv then pool, twice
            side = (side + 2 * padding - kernel) // stride + 1
            side //= 2
        if side < 1:
            raise ValueError(f"ConvNet: a {size}x{size} image shrinks to nothing with kernel={kernel}, "
                             f"padding={padding}, stride={stride} (two conv + 2x2 pool stages)")
        self.side = side
        self.fc = nn.Linear(c2 * side * side, n_classes)

    def forward(self, x):
        x = self.pool1(self.conv1(x).relu())
        x = self.pool2(self.conv2(x).relu())
        return self.fc(self.dropout(x.flatten(1)))


def predict(model, x, device, batch=500):
    model.eval()
    out = []
    with tg.no_grad():
        for s in range(0, len(x), batch):
            out.append(model(tg.Tensor(x[s:s + batch, None], device=device)).argmax(axis=1).numpy())
    model.train()
    return np.concatenate(out)


def small(img):
    """28x28 -> 14x14 by averaging 2x2 blocks (for drawing several side by side)."""
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    return img[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def main(argv=None, console=None):
    p = common.parser("conv", __doc__)
    p.add_argument("--mnist", help="directory with MNIST's IDX files (gzipped or not)")
    p.add_argument("--train", type=int, help="training images (default 12000; quick 1200)")
    p.add_argument("--test", type=int, help="test images (default 2000; quick 400)")
    p.add_argument("--epochs", type=int, help="default 5 (quick 4)")
    p.add_argument("--optim", choices=["adam", "sgd"], default="adam")
    p.add_argument("--lr", type=float, help="learning rate (adam 2e-3, quick 5e-3; sgd 0.05 with momentum 0.9)")
    p.add_argument("--channels", type=int, nargs=2, metavar=("C1", "C2"),
                   help="filters per conv (default 16 32; quick 6 12)")
    p.add_argument("--kernel", type=int, default=5)
    p.add_argument("--padding", type=int, default=2)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--pool", choices=["max", "avg"], default="max", help="2x2 max pooling or average pooling")
    p.add_argument("--batch", type=int, help="minibatch size (default 64; quick 32)")
    dist.add_flag(p)
    a = p.parse_args(argv)
    console = console or common.make_console()
    rank, world, console = dist.start(a, console)
    device = common.setup(a)
    rng = np.random.default_rng(a.seed)
    n_train = a.train or (1200 if a.quick else 12000)
    n_test = a.test or (400 if a.quick else 2000)
    epochs = a.epochs or (4 if a.quick else 5)
    batch = a.batch or (32 if a.quick else 64)
    channels = tuple(a.channels) if a.channels else ((6, 12) if a.quick else (16, 32))

    if a.mnist:
        xtr, ytr, xte, yte = mnist_data(a.mnist)
        pick = rng.permutation(len(xtr))[:n_train]
        xtr, ytr = xtr[pick], ytr[pick]
        xte, yte = xte[:n_test], yte[:n_test]
        source = f"MNIST from {a.mnist}"
    else:
        xtr, ytr, xte, yte = generated_data(n_train, n_test, rng)
        source = "digits drawn from the 5x7 font (random size, slant, position, noise)"
    size = xtr.shape[1]
    console.print(f"[bold]{len(xtr)}[/] training and [bold]{len(xte)}[/] test images ({size}x{size}): {source}")

    try:
        model = ConvNet(size, channels, a.kernel, a.padding, a.stride, pool=a.pool).to(device)
    except ValueError as e:     # flags that leave no image to classify
        raise common.UserError(str(e)) from None
    net = dist.wrap(model, world)   # DistributedDataParallel under --distributed
    console.print(f"[dim]{model}[/]")
    lr = a.lr or ((5e-3 if a.quick else 2e-3) if a.optim == "adam" else 0.05)
    opt = (optim.Adam(model.parameters(), lr=lr) if a.optim == "adam"
           else optim.SGD(model.parameters(), lr=lr, momentum=0.9))
    n_batches = -(-len(xtr) // batch)
    # this rank's part of each batch (all of it on one machine); None: too few items, every rank skips it
    parts = (dist.part(idx, rank, world) for idx in common.shuffled_batches(rng, len(xtr), batch, epochs))

    def loss_of(idx):
        return F.cross_entropy(net(tg.Tensor(xtr[idx, None], device=device)), tg.Tensor(ytr[idx], device=device))

    with common.progress(console) as bar:
        task = bar.add_task(f"training ({a.optim}, lr {lr:g})", total=epochs * n_batches, info="")

        def show(losses):
            losses[-1] = dist.mean_loss(losses[-1], world)   # the whole batch's loss, for the log
            bar.update(task, advance=1, info=f"loss {np.mean(losses[-20:]):.3f}")

        losses = common.train_loop(opt, (idx for idx in parts if idx is not None), loss_of, on_step=show)

    p_tr, p_te = predict(model, xtr, device), predict(model, xte, device)
    acc_tr, acc_te = float((p_tr == ytr).mean()), float((p_te == yte).mean())
    table = Table(title="accuracy")
    for col in ("set", "images", "accuracy", "loss over training"):
        table.add_column(col)
    table.add_row("train", str(len(xtr)), f"{acc_tr:.3f}", common.sparkline(losses, 40))
    table.add_row("test", str(len(xte)), f"[bold green]{acc_te:.3f}[/]", "")
    console.print(table)
    cm_table, cm = common.confusion_table(yte, p_te, list(range(10)))
    console.print(cm_table)

    # a few test digits: the first mistakes (if any), then correct ones
    wrong = list(np.flatnonzero(p_te != yte)[:3])
    shown = wrong + [i for i in range(len(xte)) if i not in wrong][:8 - len(wrong)]
    pics = []
    for i in shown:
        ok = p_te[i] == yte[i]
        t = Text(common.image_text(small(xte[i])) + "\n")
        t.append(f"pred {p_te[i]} " + ("✓" if ok else f"✗ (true {yte[i]})"), style="green" if ok else "bold red")
        pics.append(t)
    console.print("[bold]test digits and predictions[/]")
    console.print(Columns(pics, padding=(0, 2)))

    w = model.conv1.weight.numpy()[:, 0]              # (c1, k, k)
    console.print(f"[bold]learned first-layer filters[/] ({w.shape[0]} of {w.shape[1]}x{w.shape[2]}; "
                  "dark = negative weight, bright = positive)")
    filt = []
    for j, k in enumerate(w):
        t = Text(common.image_text(k) + "\n")
        t.append(f"filter {j}", style="bold")
        filt.append(t)
    console.print(Columns(filt, padding=(0, 2)))
    return {"train_acc": acc_tr, "test_acc": acc_te, "loss_first": float(np.mean(losses[:10])),
            "loss_last": float(np.mean(losses[-10:])), "confusion": cm, "filters": w.shape,
            "n_train": len(xtr), "n_test": len(xte)}


if __name__ == "__main__":
    main()
