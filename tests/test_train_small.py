"""Tiny problems trained end to end with the layers and losses, to a stated accuracy.

The update is a hand-written SGD step (p -= lr * grad under no_grad), so these tests depend
only on nn and autograd. Everything is seeded (conftest seeds tg.manual_seed(0))."""
import numpy as np

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F


def sgd_step(model, lr):
    with tg.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p.array -= lr * p.grad.array
            p.grad = None


def accuracy(logits, y):
    return float((logits.numpy().argmax(axis=1) == y).mean())


def test_xor_mlp_reaches_100_percent():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    xt, yt = tg.Tensor(x), tg.Tensor(y)
    for _ in range(400):
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        sgd_step(model, 0.5)
    assert accuracy(model(xt), y) == 1.0
    assert loss.item() < 0.05


def bars(n, rng, size=8, noise=0.35):
    """Images with one horizontal (class 0) or vertical (class 1) bar at a random position,
    plus Gaussian noise."""
    y = rng.integers(0, 2, n)
    x = rng.normal(0, noise, (n, 1, size, size)).astype(np.float32)
    pos = rng.integers(0, size, n)
    for i in range(n):
        if y[i] == 0:
            x[i, 0, pos[i], :] += 1
        else:
            x[i, 0, :, pos[i]] += 1
    return x, y


def test_small_conv_net_learns_bars_above_95_percent():
    rng = np.random.default_rng(0)
    x_train, y_train = bars(512, rng)
    x_test, y_test = bars(400, rng)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3), nn.ReLU(), nn.Flatten(), nn.Dropout(0.2), nn.Linear(8 * 2 * 2, 2))
    model.train()
    for epoch in range(15):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 32):
            b = order[start:start + 32]
            loss = F.cross_entropy(model(tg.Tensor(x_train[b])), tg.Tensor(y_train[b]))
            loss.backward()
            sgd_step(model, 0.1)
    model.eval()
    with tg.no_grad():
        acc = accuracy(model(tg.Tensor(x_test)), y_test)
    assert acc > 0.95, f"test accuracy {acc:.3f}"


def test_text_cnn_learns_keyword_classification():
    """Embedding -> Conv1d -> ReLU -> max over time -> Linear: label 1 iff token 3 appears."""
    rng = np.random.default_rng(1)
    V, L = 20, 12

    def data(n):
        x = rng.integers(4, V, (n, L))
        y = rng.integers(0, 2, n)
        x[y == 1, rng.integers(0, L, int(y.sum()))] = 3
        return x, y
    x_train, y_train = data(384)
    x_test, y_test = data(300)
    emb, conv, fc = nn.Embedding(V, 8, padding_idx=0), nn.Conv1d(8, 6, 3, padding=1), nn.Linear(6, 2)
    model = nn.ModuleList([emb, conv, fc])

    def forward(x):
        h = conv(emb(tg.Tensor(x)).transpose(1, 2)).relu()
        return fc(F.adaptive_max_pool1d(h, 1).squeeze(-1))
    for epoch in range(8):
        for start in range(0, len(x_train), 32):
            loss = F.cross_entropy(forward(x_train[start:start + 32]), tg.Tensor(y_train[start:start + 32]))
            loss.backward()
            sgd_step(model, 0.2)
    with tg.no_grad():
        acc = accuracy(forward(x_test), y_test)
    assert acc > 0.95, f"test accuracy {acc:.3f}"
