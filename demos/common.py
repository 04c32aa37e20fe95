"""What every demo shares: the standard flags, the training loop, a progress bar with live
loss, and small terminal pictures (sparkline, heat map, confusion matrix, image)."""
import argparse
import io

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

import tinygrad_seq as tg

SPARK = "▁▂▃▄▅▆▇█"
SHADES = " ░▒▓█"


class UserError(Exception):
    """A mistake in how a demo was called: a missing file, no GPU, flags that do not go together.
    `python -m demos` prints its message as one line and exits with status 2, no traceback."""


# what `python -m demos` reports as a user error (the library's own clear errors about files)
USER_ERRORS = (UserError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line (no usage block): 'prog: error: message (see --help)'."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser(prog, doc):
    """argparse with the flags every demo has: --quick, --seed, --device."""
    p = ArgumentParser(prog=f"python -m demos {prog}", description=doc,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a few seconds: tiny sizes (used by the tests)")
    p.add_argument("--seed", type=int, default=0, help="random seed (runs repeat exactly)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    return p


def check_device(device):
    """The device, or a UserError saying why it cannot be used (e.g. CuPy is not installed)."""
    try:
        tg.backend.normalize_device(device)
    except RuntimeError as e:       # the backend's one clear message about CuPy / the GPU
        raise UserError(str(e)) from None
    return device


def setup(args):
    check_device(args.device)
    tg.backend.set_host_malloc("cached")   # keep freed host memory: fewer page faults per step
    tg.manual_seed(args.seed)
    return args.device


# ---------------------------------------------------------------- training
def train_step(opt, loss, clip=None):
    """One optimizer step on `loss`: clear the last step's gradients, backpropagate, clip the
    gradients' global norm at `clip` (when given), update. Returns the loss as a float."""
    opt.zero_grad()
    loss.backward()
    if clip:
        tg.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], clip)
    opt.step()
    return loss.item()


def train_loop(opt, batches, loss_of, clip=None, losses=None, on_step=None):
    """The demos' training loop: for each batch, one train_step on loss_of(batch), then
    on_step(losses) (e.g. a progress bar's update). Appends each step's loss to `losses` (a new
    list when None) and returns it."""
    losses = [] if losses is None else losses
    for batch in batches:
        losses.append(train_step(opt, loss_of(batch), clip))
        if on_step is not None:
            on_step(losses)
    return losses


def shuffled_batches(rng, n, size, epochs=1):
    """Index batches for `epochs` passes over n examples, each pass in a new random order."""
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, size):
            yield order[s:s + size]


# ---------------------------------------------------------------- terminal output
WIDTH = 100   # the most columns a demo's output needs


def make_console(record=False, file=None):
    """The demo's console, at most 100 columns wide (a narrower terminal keeps its width);
    record=True keeps what was printed (tests read it back)."""
    console = Console(record=record, file=file if file is not None else (io.StringIO() if record else None),
                      width=WIDTH if record else None)
    if not record and console.width > WIDTH:
        console.width = WIDTH
    return console


def progress(console, **fields):
    """A progress bar whose description shows live fields (e.g. loss=...)."""
    cols = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn()]
    return Progress(*cols, console=console, transient=False, **fields)


def sparkline(values, width=60):
    """A one-line picture of a curve (loss over steps)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return ""
    if v.size > width:  # average into `width` buckets
        v = np.array([c.mean() for c in np.array_split(v, width)])
    lo, hi = np.nanmin(v), np.nanmax(v)
    idx = np.zeros(v.size, int) if hi - lo < 1e-12 else ((v - lo) / (hi - lo) * (len(SPARK) - 1)).round().astype(int)
    return "".join(SPARK[i] for i in idx)


def heatmap(matrix, row_labels=None, title=None, log=False):
    """A Text block shading each cell by value (rows x columns), e.g. ||dL/dh_t|| over t."""
    m = np.asarray(matrix, dtype=float)
    if log:
        m = np.log10(np.maximum(m, 1e-30))
    lo, hi = np.nanmin(m), np.nanmax(m)
    scale = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
    text = Text()
    if title:
        text.append(title + "\n", style="bold")
    width = max((len(str(r)) for r in row_labels), default=0) if row_labels is not None else 0
    for i, row in enumerate(scale):
        if row_labels is not None:
            text.append(str(row_labels[i]).rjust(width) + " ")
        for s in row:
            level = int(round(s * (len(SHADES) - 1)))
            text.append(SHADES[level] * 2, style=f"rgb({int(60 + 195 * s)},{int(80 + 60 * s)},{int(200 - 150 * s)})")
        text.append("\n")
    return text


def confusion_table(y_true, y_pred, labels, title="confusion matrix (rows: true, columns: predicted)"):
    n = len(labels)
    cm = np.zeros((n, n), dtype=int)
    for t, p in zip(np.asarray(y_true), np.asarray(y_pred)):
        cm[int(t), int(p)] += 1
    table = Table(title=title)
    table.add_column("")
    for lab in labels:
        table.add_column(str(lab), justify="right")
    for i, lab in enumerate(labels):
        table.add_row(str(lab), *[f"[bold green]{c}[/]" if i == j else str(c) for j, c in enumerate(cm[i])])
    return table, cm


def image_text(img):
    """A small grayscale image (H, W) drawn with shade characters, two per pixel."""
    a = np.asarray(img, dtype=float)
    a = (a - a.min()) / (a.max() - a.min() + 1e-12)
    return "\n".join("".join(SHADES[int(round(v * (len(SHADES) - 1)))] * 2 for v in row) for row in a)
