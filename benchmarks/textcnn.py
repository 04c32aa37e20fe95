"""Text CNN (Kim 2014) train step, ours vs PyTorch in the same process.

    python -m benchmarks.textcnn [--steps 30] [--warmup 3] [--device cpu|cuda] [--threads N] [--json PATH] [--profile]

Workload: vocabulary 5000, embedding 128, sequences of 64 tokens, batch 64; 100 filters
each of widths 3, 4 and 5 (Conv1d over the embedding channels), ReLU, max-over-time
pooling, dropout 0.5, linear to 2 classes, cross-entropy, Adam (lr 1e-3). Both models
start from the same weights. Target: <= 1.0x PyTorch per step.
"""
import argparse

import numpy as np

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tinygrad_seq.optim import Adam
from benchmarks.common import (add_common_args, device_sync, machine_info, measure_pair, pin_threads, report, torch,
                               torch_train_step)

TARGET = 1.0
V, E, L, B, WIDTHS, FILTERS, CLASSES = 5000, 128, 64, 64, (3, 4, 5), 100, 2


class TextCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.convs = nn.ModuleList([nn.Conv1d(E, FILTERS, k) for k in WIDTHS])
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(FILTERS * len(WIDTHS), CLASSES)

    def forward(self, tokens):
        e = self.embedding(tokens).transpose(1, 2)                  # (B, E, L): embedding dims as channels
        pooled = [F.adaptive_max_pool1d(F.relu(conv(e)), 1).squeeze(-1) for conv in self.convs]
        return self.fc(self.dropout(tg.cat(pooled, dim=1)))


def torch_textcnn():
    TF = torch.nn.functional

    class TorchTextCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(V, E)
            self.convs = torch.nn.ModuleList([torch.nn.Conv1d(E, FILTERS, k) for k in WIDTHS])
            self.dropout = torch.nn.Dropout(0.5)
            self.fc = torch.nn.Linear(FILTERS * len(WIDTHS), CLASSES)

        def forward(self, tokens):
            e = self.embedding(tokens).transpose(1, 2)
            pooled = [TF.adaptive_max_pool1d(TF.relu(conv(e)), 1).squeeze(-1) for conv in self.convs]
            return self.fc(self.dropout(torch.cat(pooled, dim=1)))
    return TorchTextCNN()


def run(device="cpu", steps=30, warmup=3, memory=False, profile_step=False):
    """Rows (ours, then torch when importable) for the TextCNN train step, for the suite and main."""
    rng = np.random.default_rng(0)
    xs, ys = rng.integers(0, V, (B, L)), rng.integers(0, CLASSES, B)
    tg.manual_seed(0)
    ours = TextCNN()
    tm = None
    if torch is not None:
        torch.manual_seed(0)
        tm = torch_textcnn()
        ours.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    ours.to(device)
    opt = Adam(ours.parameters(), lr=1e-3)
    x, y = tg.Tensor(xs, device=device), tg.Tensor(ys, device=device)
    sync = device_sync(device)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(ours(x), y)
        loss.backward()
        opt.step()
        return loss

    tstep = tsync = None
    if tm is not None:
        ours.eval()
        tm.eval()
        with torch.no_grad():   # same weights, same batch, no dropout: the losses must agree
            tl = torch.nn.functional.cross_entropy(tm(torch.tensor(xs)), torch.tensor(ys)).item()
        ol = F.cross_entropy(ours(x), y).item()
        assert abs(tl - ol) < 1e-4, f"TextCNN: our loss {ol} differs from torch's {tl}"
        ours.train()
        tm.train()
        tstep, tsync = torch_train_step(tm, lambda ps: torch.optim.Adam(ps, lr=1e-3), xs, ys, device)

    return measure_pair("TextCNN train step", step, tstep, sync, tsync, device, steps, warmup, TARGET,
                        memory, profile_step)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(ap, steps=30, warmup=3)
    args = ap.parse_args(argv)
    threads = pin_threads(args.threads, "benchmarks.textcnn")

    report(f"Text CNN: ours vs PyTorch (ms per train step, batch 64 x 64 tokens, {threads})",
           run(args.device, args.steps, args.warmup, profile_step=args.profile), args.json, machine_info())


if __name__ == "__main__":
    main()
