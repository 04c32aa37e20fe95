"""Why tanh, and why deep: the activation function and the depth of a network.

(0) The deck's picture: the same inputs (5, 0.01, -0.5) pushed through a recurrent step
    (times 3, again and again) without a squashing function, with tanh, with sigmoid.
(a) The same network (2-32-32-2, same initial weights, same data: the two spirals of
    `python -m demos mlp`) trained with tanh, sigmoid, relu and identity.
(b) Deep against shallow. One hidden layer can compute any function, but some functions
    need exponentially many hidden units: the sawtooth tent^k(x) (k teeth-doublings) is
    exactly k narrow layers, while one hidden layer needs 2^k - 1 units. Built, not trained,
    and its linear pieces counted from the networks' own outputs; then a deep and a
    shallow network with the same parameter budget trained on the spirals.

    python -m demos activations [--quick] [--epochs 300] [--seed 0]
"""
import numpy as np
from rich.table import Table

import tinygrad_seq as tg
import tinygrad_seq.nn.functional as F
from tinygrad_seq import nn, optim
from demos.common import make_console, parser, progress, setup, sparkline, train_loop
from demos.mlp import spirals

DESCRIPTION = "why tanh (vs sigmoid, relu, identity) and why deep (vs shallow, same parameter budget)"

ACTIVATIONS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "identity": nn.Identity}
NUMPY_ACT = {"identity": lambda v: v, "tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
             "relu": lambda v: np.maximum(v, 0)}
MAX_SLOPE = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0, "identity": 1.0}


# ---------------------------------------------------------------- (0) the deck's numbers
def squashing_table(steps=4):
    """The deck's 'why tanh' vector, multiplied by 3 each step, with and without a squash."""
    v0 = np.array([5.0, 0.01, -0.5])
    table = Table(title="(0) the deck's vector (5, 0.01, -0.5), h <- f(3 h) step after step")
    table.add_column("f")
    for t in range(1, steps + 1):
        table.add_column(f"step {t}", justify="right")
    found = {}
    for name in ("identity", "tanh", "sigmoid"):
        v, row = v0.copy(), []
        for _ in range(steps):
            v = NUMPY_ACT[name](3 * v)
            row.append(" ".join(f"{a:.2g}" for a in v))
        found[name] = v
        table.add_row(name, *row)
    return table, found


# ---------------------------------------------------------------- (a) one net, four activations
def net(act, hidden=32):
    A = ACTIVATIONS[act]
    return nn.Sequential(nn.Linear(2, hidden), A(), nn.Linear(hidden, hidden), A(), nn.Linear(hidden, 2))


def fit(model, x, y, epochs, lr, bar, name):
    """Full-batch Adam for `epochs` steps on a progress bar; the loss of every step."""
    task = bar.add_task(name, total=epochs, info="")
    return train_loop(optim.Adam(model.parameters(), lr=lr), range(epochs), lambda _: F.cross_entropy(model(x), y),
                      on_step=lambda losses: bar.update(task, advance=1, info=f"loss {losses[-1]:.3f}"))


def accuracy(model, x, y):
    with tg.no_grad():
        return float((model(x).argmax(dim=1).numpy() == y).mean())


def first_layer_grad(model, x, y):
    """Mean |dL/dW| of the first layer at the initial weights: how much signal gets back."""
    loss = F.cross_entropy(model(x), y)
    model.zero_grad()
    loss.backward()
    g = float(np.abs(model[0].weight.grad.numpy()).mean())
    model.zero_grad()
    return g


# ---------------------------------------------------------------- (b) depth: the sawtooth
def tent(v):
    return np.where(v < 0.5, 2 * v, 2 - 2 * v)


def sawtooth(v, k):
    for _ in range(k):
        v = tent(v)
    return v


def set_linear(layer, w, b):
    with tg.no_grad():
        layer.weight.array[...] = np.asarray(w, dtype=np.float64)
        layer.bias.array[...] = np.asarray(b, dtype=np.float64)


def deep_sawtooth(k):
    """k hidden layers of 2 ReLUs: each layer computes tent(u) = 2 relu(u) - 4 relu(u - 1/2)
    of the previous layer's output u (folded into the next layer's weights)."""
    layers = []
    for j in range(k):
        lin = nn.Linear(1 if j == 0 else 2, 2).double()
        if j == 0:
            set_linear(lin, [[1.0], [1.0]], [0.0, -0.5])            # relu(x), relu(x - 1/2)
        else:   # u = 2 a - 4 b from the layer below, then relu(u), relu(u - 1/2)
            set_linear(lin, [[2.0, -4.0], [2.0, -4.0]], [0.0, -0.5])
        layers += [lin, nn.ReLU()]
    out = nn.Linear(2, 1).double()
    set_linear(out, [[2.0, -4.0]], [0.0])
    return nn.Sequential(*layers, out)


def shallow_sawtooth(k):
    """One hidden layer with one ReLU per kink: f(x) = s_0 relu(x) + sum_j (s_j - s_{j-1}) relu(x - j/2^k)."""
    n = 2 ** k
    kinks = np.arange(1, n) / n
    slopes = np.where(np.arange(n) % 2 == 0, float(n), -float(n))   # +2^k, -2^k, ... on each piece
    hidden = nn.Linear(1, n).double()
    set_linear(hidden, np.ones((n, 1)), np.concatenate([[0.0], -kinks]))
    out = nn.Linear(n, 1).double()
    set_linear(out, [np.concatenate([[slopes[0]], np.diff(slopes)])], [0.0])
    return nn.Sequential(hidden, nn.ReLU(), out)


def linear_pieces(f, grid):
    """Number of linear pieces of f on the grid: slope changes between neighbouring cells, + 1."""
    slope = np.diff(f) / np.diff(grid)
    return int((np.abs(np.diff(slope)) > 1e-6 * np.abs(slope).max()).sum()) + 1


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def depth_table(ks, device):
    grid = np.linspace(0, 1, 2 ** (max(ks) + 4) + 1)   # kinks fall on grid points
    x = tg.Tensor(grid[:, None], device=device)
    table = Table(title="(b) the sawtooth tent^k(x), built exactly: deep-and-narrow vs one hidden layer")
    for col in ("k", "linear pieces", "deep: layers x units", "deep params", "shallow: units (>= 2^k - 1)",
                "shallow params", "max error (both)"):
        table.add_column(col, justify="right")
    rows = []
    for k in ks:
        deep, shallow = deep_sawtooth(k).to(device), shallow_sawtooth(k).to(device)
        with tg.no_grad():
            fd, fs = deep(x).numpy().ravel(), shallow(x).numpy().ravel()
        target = sawtooth(grid, k)
        err = max(np.abs(fd - target).max(), np.abs(fs - target).max())
        row = dict(k=k, pieces=linear_pieces(fd, grid), pieces_shallow=linear_pieces(fs, grid),
                   deep_params=n_params(deep), shallow_units=2 ** k, shallow_params=n_params(shallow), err=err)
        rows.append(row)
        table.add_row(str(k), str(row["pieces"]), f"{k} x 2", str(row["deep_params"]), str(2 ** k),
                      str(row["shallow_params"]), f"{err:.1e}")
    return table, rows


def plot(curves, width=64, height=8):
    """A small line plot of functions on [0, 1], one character per column per curve."""
    canvas = [[" "] * width for _ in range(height)]
    for mark, f in curves:
        v = np.interp(np.linspace(0, 1, width), np.linspace(0, 1, len(f)), f)
        for c, val in enumerate(v):
            r = height - 1 - int(round(np.clip(val, 0, 1) * (height - 1)))
            canvas[r][c] = mark
    return "\n".join("  |" + "".join(row) for row in canvas) + "\n  +" + "-" * width


# ---------------------------------------------------------------- main
def main(argv=None, console=None):
    p = parser("activations", __doc__)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--lr", type=float, default=0.01)
    args = p.parse_args(argv)
    if args.quick and args.epochs == p.get_default("epochs"):
        args.epochs = 200
    device = setup(args)
    console = console or make_console()

    table0, squashed = squashing_table()
    console.print(table0)
    console.print("Without a squashing function the values grow by 3x a step (5 -> 405 in four steps) and "
                  "drown the small ones; tanh keeps every value in (-1, 1) with its sign, sigmoid in "
                  "(0, 1) without it.\n")

    rng = np.random.default_rng(args.seed)
    x_np, y_np = spirals(300, 0.03, rng)
    xt_np, yt_np = spirals(200, 0.03, rng)
    x, y, xt = (tg.Tensor(a, device=device) for a in (x_np, y_np, xt_np))
    results = {}
    with progress(console) as bar:
        for act in ACTIVATIONS:
            tg.manual_seed(args.seed)   # the same initial weights for every activation
            model = net(act).to(device)
            g0 = first_layer_grad(model, x, y)
            losses = fit(model, x, y, args.epochs, args.lr, bar, act)
            results[act] = dict(loss=losses[-1], train_acc=accuracy(model, x, y_np),
                                test_acc=accuracy(model, xt, yt_np), grad0=g0, losses=losses)
    table = Table(title=f"(a) 2-32-32-2 on the two spirals, {args.epochs} Adam steps, same initial weights")
    for col in ("activation", "max f'", "|dL/dW1| at init", "final loss", "train acc", "test acc", "loss curve"):
        table.add_column(col)
    for act, r in results.items():
        table.add_row(act, f"{MAX_SLOPE[act]:g}", f"{r['grad0']:.2e}", f"{r['loss']:.3f}", f"{r['train_acc']:.3f}",
                      f"{r['test_acc']:.3f}", sparkline(r["losses"], 24))
    console.print(table)
    console.print("identity: a product of linear maps is one linear map, so the three layers are a linear "
                  "classifier and cannot split the spirals. sigmoid: its slope is at most 0.25, so each layer "
                  "shrinks the gradient by 4x or more, and its outputs are all positive (not zero-centred), "
                  "so a layer's weight gradients share one sign per unit; it learns far more slowly. tanh "
                  "(slope 1 at 0, zero-centred) and relu train in the same steps.\n")

    ks = [2, 3, 4] if args.quick else [2, 3, 4, 5, 6]
    table_b, rows = depth_table(ks, device)
    console.print(table_b)
    grid = np.linspace(0, 1, 2 ** 7 + 1)
    console.print("tent^3(x) on [0, 1], the output of the 3-layer net (the 8-unit shallow net draws the same):")
    with tg.no_grad():
        fd = deep_sawtooth(3).to(device)(tg.Tensor(grid[:, None], device=device)).numpy().ravel()
    console.print(plot([("*", fd)], width=72))
    k = ks[-1]
    console.print(f"Each extra layer doubles the pieces for 6 more parameters. One hidden layer needs a unit "
                  f"per kink (n ReLUs make at most n kinks), so at least 2^k - 1 units: for k={k}, "
                  f"{rows[-1]['deep_params']} parameters deep against {rows[-1]['shallow_params']} shallow. That "
                  "is the deck's 'some problems require an exponential number of hidden units'.\n")

    # the same budget, trained: 3 hidden layers of 16 against 1 hidden layer of the same size
    deep_w = 16
    budget = n_params(nn.Sequential(nn.Linear(2, deep_w), nn.Linear(deep_w, deep_w), nn.Linear(deep_w, deep_w),
                                    nn.Linear(deep_w, 2)))
    wide = (budget - 2) // 5    # 2*H + H + 2*H + 2 parameters
    trained = {}
    seeds = [args.seed] if args.quick else [args.seed + s for s in range(3)]
    steps = 100
    with progress(console) as bar:
        for s in seeds:
            for name in ("deep", "shallow"):
                tg.manual_seed(s)
                if name == "deep":
                    model = nn.Sequential(nn.Linear(2, deep_w), nn.ReLU(), nn.Linear(deep_w, deep_w), nn.ReLU(),
                                          nn.Linear(deep_w, deep_w), nn.ReLU(), nn.Linear(deep_w, 2))
                else:
                    model = nn.Sequential(nn.Linear(2, wide), nn.ReLU(), nn.Linear(wide, 2))
                model = model.to(device)
                losses = fit(model, x, y, steps, args.lr, bar, f"{name} seed {s}")
                trained.setdefault(name, []).append(dict(params=n_params(model), losses=losses,
                                                         test_acc=accuracy(model, xt, yt_np)))
    table_c = Table(title=f"(b) same budget, trained on the spirals for {steps} Adam steps "
                          f"(mean of {len(seeds)} seed{'s' if len(seeds) > 1 else ''})")
    for col in ("network", "parameters", "final loss", "test acc", "loss curve (first seed)"):
        table_c.add_column(col)
    for name, label in (("deep", f"3 hidden layers x {deep_w}"), ("shallow", f"1 hidden layer x {wide}")):
        runs = trained[name]
        table_c.add_row(label, str(runs[0]["params"]), f"{np.mean([r['losses'][-1] for r in runs]):.3f}",
                        f"{np.mean([r['test_acc'] for r in runs]):.3f}", sparkline(runs[0]["losses"], 24))
    console.print(table_c)
    mean = {k: (np.mean([r["losses"][-1] for r in v]), np.mean([r["test_acc"] for r in v]))
            for k, v in trained.items()}
    console.print(f"With the same budget the deep net ends at loss {mean['deep'][0]:.3f} (test acc "
                  f"{mean['deep'][1]:.3f}), the shallow one at {mean['shallow'][0]:.3f} ({mean['shallow'][1]:.3f}). "
                  "The sawtooth is what depth can represent; gradient descent does not always find such "
                  "weights, so trained gaps are smaller than the construction's.")
    return {"squashed": squashed, "activations": results, "depth": rows,
            "trained": {k: dict(loss=float(np.mean([r["losses"][-1] for r in v])),
                                test_acc=float(np.mean([r["test_acc"] for r in v])), params=v[0]["params"])
                        for k, v in trained.items()}}


if __name__ == "__main__":
    main()
