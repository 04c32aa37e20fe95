"""Adam's host update of a big parameter runs as two halves at once (optim/adam.py in_halves):
the same numbers to the bit as the one-pass update, and torch's numbers."""
import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq import optim
from tinygrad_seq.optim import adam
from tests.conftest import torch, requires_torch, assert_close

OPTIONS = [("Adam", {}), ("Adam", dict(weight_decay=0.1, amsgrad=True)), ("AdamW", {}),
           ("AdamW", dict(weight_decay=0.3, maximize=True)), ("Adam", dict(maximize=True, betas=(0.5, 0.9)))]


def _run(name, kw, shapes, split, monkeypatch, steps=4):
    monkeypatch.setattr(adam, "SPLIT_SIZE", 1 if split else 1 << 62)
    monkeypatch.setattr(adam, "_POOL_THREADS", 2)
    rng = np.random.default_rng(7)
    ps = [tg.Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
    o = getattr(optim, name)(ps, lr=0.01, **kw)
    for _ in range(steps):
        for p in ps:
            p.grad = tg.Tensor(rng.standard_normal(p.shape).astype(np.float32))
        o.step()
    return ps, o


@pytest.mark.parametrize("name,kw", OPTIONS)
def test_halves_match_one_pass_bit_for_bit(name, kw, monkeypatch):
    shapes = [(7, 5), (33,), (1,), (4, 3, 2)]   # odd sizes: unequal halves; one element: an empty half
    one, o1 = _run(name, kw, shapes, False, monkeypatch)
    two, o2 = _run(name, kw, shapes, True, monkeypatch)
    for a, b in zip(one, two):
        assert np.array_equal(a.numpy(), b.numpy())
        for k, v in o1.state[a].items():
            assert np.array_equal(np.asarray(v), np.asarray(o2.state[b][k])), k


def test_non_contiguous_parameter_takes_the_one_pass_path(monkeypatch):
    monkeypatch.setattr(adam, "SPLIT_SIZE", 1)
    monkeypatch.setattr(adam, "_POOL_THREADS", 2)
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    p = tg.Tensor(base, requires_grad=True)
    p.array = base[:, ::2]             # a strided view: halves of a flattened copy would be lost
    p.grad = tg.Tensor(np.ones((4, 3), dtype=np.float32))
    optim.Adam([p], lr=0.5).step()
    assert np.allclose(base[:, ::2], np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2] - 0.5, atol=1e-5)
    assert np.array_equal(base[:, 1::2], np.arange(24, dtype=np.float32).reshape(4, 6)[:, 1::2])


@requires_torch
@pytest.mark.parametrize("name,kw", OPTIONS[:4])
def test_halves_match_torch(name, kw, monkeypatch):
    shapes = [(300, 500), (65,)]
    ours, _ = _run(name, kw, shapes, True, monkeypatch, steps=0)
    theirs = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in ours]
    o = getattr(optim, name)(ours, lr=0.01, **kw)
    t = getattr(torch.optim, name)(theirs, lr=0.01, **kw)
    rng = np.random.default_rng(3)
    for s in range(5):
        for a, b in zip(ours, theirs):
            g = rng.standard_normal(a.shape).astype(np.float32)
            a.grad, b.grad = tg.Tensor(g), torch.tensor(g)
        o.step()
        t.step()
        for a, b in zip(ours, theirs):
            assert_close(a, b, rtol=1e-5, atol=1e-6, what=f"{name} {kw} after step {s + 1}")
