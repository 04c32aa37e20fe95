"""Feed-forward networks: why hidden layers matter.

Two interleaved spirals cannot be split by a line. A linear classifier (logistic
regression) gets little past chance; a multilayer perceptron (Linear -> ReLU -> Linear -> ReLU ->
Linear, with dropout) bends its decision boundary around them. Both decision regions are
drawn in the terminal.

    python -m demos mlp [--quick] [--hidden 64] [--epochs 300] [--dropout 0.1]
"""
import numpy as np
from rich.columns import Columns
from rich.table import Table
from rich.text import Text

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import nn, optim
from demos.common import make_console, parser, progress, setup, sparkline, train_loop

DESCRIPTION = "feed-forward nets: an MLP separates two spirals that a linear model cannot"


def spirals(n, noise, rng):
    """n points per class on two interleaved spirals, labels 0 / 1."""
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], 1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, noise, (2 * n, 2))
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.int64)
    return x.astype(np.float32), y


def mlp(hidden, dropout):
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))


def accuracy(model, x, y):
    model.eval()
    with tg.no_grad():
        pred = model(x).argmax(dim=1).numpy()
    model.train()
    return float((pred == y).mean()), pred


REGION = {0: "·", 1: "░"}   # each class's region drawn with its own character (and colour)
POINT = {0: "○", 1: "●"}


def regions(model, x, y, device, size=24):
    """The plane filled by predicted class (a character per class, and a background colour), with
    the data points drawn over it."""
    g = np.linspace(-1.2, 1.2, size)
    xx, yy = np.meshgrid(g, g[::-1])
    grid = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
    model.eval()
    with tg.no_grad():
        pred = model(tg.Tensor(grid, device=device)).argmax(dim=1).numpy().reshape(size, size)
    model.train()
    cells = np.full((size, size), -1)
    ij = np.clip(((x - -1.2) / 2.4 * (size - 1)).round().astype(int), 0, size - 1)
    cells[size - 1 - ij[:, 1], ij[:, 0]] = y
    text = Text()
    for r in range(size):
        for c in range(size):
            k = int(pred[r, c])
            bg = "on rgb(40,60,120)" if k == 0 else "on rgb(120,50,40)"
            point = int(cells[r, c])
            text.append((REGION[k] if point < 0 else POINT[point]) + REGION[k], style=bg)
        text.append("\n")
    return text


def train(model, x, y, epochs, lr, console, name):
    """Full-batch Adam for `epochs` steps with a progress bar; the loss of every step."""
    with progress(console) as bar:
        task = bar.add_task(name, total=epochs, info="")
        return train_loop(optim.Adam(model.parameters(), lr=lr), range(epochs),
                          lambda _: F.cross_entropy(model(x), y),
                          on_step=lambda losses: bar.update(task, advance=1, info=f"loss {losses[-1]:.3f}"))


def main(argv=None, console=None):
    p = parser("mlp", __doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=0.01)
    args = p.parse_args(argv)
    if args.quick and args.epochs == p.get_default("epochs"):
        args.epochs = 250
    device = setup(args)
    console = console or make_console()
    rng = np.random.default_rng(args.seed)
    x_np, y_np = spirals(300, 0.03, rng)
    xt_np, yt_np = spirals(200, 0.03, rng)
    x, y = tg.Tensor(x_np, device=device), tg.Tensor(y_np, device=device)
    xt = tg.Tensor(xt_np, device=device)
    models = {"linear (logistic regression)": nn.Linear(2, 2).to(device),
              f"MLP 2-{args.hidden}-{args.hidden}-2": mlp(args.hidden, args.dropout).to(device)}
    table = Table(title="two spirals: test accuracy (chance 0.50)")
    for col in ("model", "parameters", "train acc", "test acc", "loss curve"):
        table.add_column(col)
    found, pictures = {}, []
    for name, model in models.items():
        losses = train(model, x, y, args.epochs, args.lr, console, name)
        tr, _ = accuracy(model, x, y_np)
        te, _ = accuracy(model, xt, yt_np)
        found[name.split()[0]] = {"train_acc": tr, "test_acc": te, "losses": losses}
        table.add_row(name, str(sum(p.numel() for p in model.parameters())), f"{tr:.3f}", f"{te:.3f}",
                      sparkline(losses, 30))
        pic = regions(model, xt_np, yt_np, device)
        pictures.append(Text.assemble((name + "\n", "bold"), pic))
    console.print(table)
    console.print(Columns(pictures, padding=(0, 4)))
    console.print(f"{REGION[0]} predicted class 0 (its test points {POINT[0]}), "
                  f"{REGION[1]} predicted class 1 (its test points {POINT[1]})")
    return {"linear": found["linear"], "mlp": found["MLP"]}


if __name__ == "__main__":
    main()
