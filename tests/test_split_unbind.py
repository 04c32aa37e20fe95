"""split / unbind as one graph node (tensor.Split), and the composed recurrent path built
on it: stepping through x_1 .. x_T must cost O(T) in backward, not the O(T^2) of slicing
x[t] per step (each slice's backward fills a zero array the size of x, and the engine adds
the T arrays). Gradchecks and torch parity of split/unbind/iteration are in test_ops.py."""
import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq.autograd import AutogradError, Node
from tests.conftest import rand64


def _nodes(parents):
    """The parent Nodes of a node (an edge (node, k) is output k of a node with several outputs)."""
    nodes = (p[0] if p.__class__ is tuple else p for p in parents)
    return [p for p in nodes if p.__class__ is Node]


def node_counts(t):
    """{op name: how many nodes} in the graph that produced t."""
    counts, seen, stack = {}, set(), [t._ctx]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        counts[n.fn.__name__] = counts.get(n.fn.__name__, 0) + 1
        stack.extend(_nodes(n.parents))
    return counts


def sequence_splits(t, seq_len):
    """The Split nodes whose input is a whole (T, ...) sequence."""
    found, seen, stack = [], set(), [t._ctx]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if n.fn.__name__ == "Split" and n.shapes[0][0] == seq_len and n.axis == 0:
            found.append(n)
        stack.extend(_nodes(n.parents))
    return found


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_composed_path_splits_the_sequence_once_per_layer_direction(mode):
    for T in (4, 16):
        m = getattr(nn, mode)(3, 5, num_layers=2, bidirectional=True, fused=False)
        out, _ = m(tg.randn(T, 2, 3, requires_grad=True))
        assert node_counts(out).get("GetItem", 0) == 0, "x[t] per step is back: O(T^2) backward"
        assert len(sequence_splits(out, T)) == 2 * 2          # layers x directions


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_composed_backward_fills_no_sequence_sized_zero_arrays(mode, monkeypatch):
    """The O(T^2) version allocates one zero array of the input's size per step and layer-direction."""
    T, B, I = 24, 2, 3
    m = getattr(nn, mode)(I, 4, num_layers=2, bidirectional=True, fused=False)
    x = tg.randn(T, B, I, requires_grad=True)
    out, _ = m(x, lengths=[T, T - 5])
    big, zeros = [], np.zeros

    def counting_zeros(shape, *args, **kwargs):
        a = zeros(shape, *args, **kwargs)
        if a.size >= T * B * I:
            big.append(a.shape)
        return a
    monkeypatch.setattr(np, "zeros", counting_zeros)
    out.sum().backward()
    monkeypatch.undo()
    assert len(big) <= 2, f"{len(big)} zero arrays the size of the sequence in one backward: {big[:4]}"
    assert x.grad is not None and x.grad.shape == (T, B, I)


def test_unbind_and_split_give_views_and_one_node():
    x = rand64(5, 3)
    rows = x.unbind(0)
    assert len(rows) == 5 and rows[2].shape == (3,) and np.shares_memory(rows[2].array, x.array)
    assert {r._ctx for r in rows} == {rows[0]._ctx} and rows[0]._ctx.n_out == 5   # one Split node
    assert [r._out for r in rows] == [0, 1, 2, 3, 4]
    assert [p.shape for p in x.split([1, 4])] == [(1, 3), (4, 3)]
    assert [p.shape for p in x.split(2, dim=-1)] == [(5, 2), (5, 1)]
    assert [p.shape for p in tg.unbind(x, 1)] == [(5,)] * 3
    assert [r.tolist() for r in x.detach()] == x.tolist()                     # iteration: unbind(0)
    with pytest.raises(ValueError, match=r"split: sizes \[1, 2\] do not add up to 5"):
        x.split([1, 2])
    with pytest.raises(ValueError, match="split: split_size must be positive"):
        x.split(0)
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(tg.Tensor(1.0))


def test_pieces_backpropagate_separately_like_slices():
    """Pieces of a leaf can go through separate backward passes (as x[t] could); each pass
    concatenates once, with zeros for the pieces it did not reach."""
    x = rand64(4, 2)
    a, b, c, d = x.unbind(0)
    (a * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2], [0, 0], [0, 0], [0, 0]])
    y = (b * c).sum()
    y.backward(retain_graph=True)
    y.backward()                                # twice through the same pieces: gradients add
    want = np.zeros((4, 2))
    want[0], want[1], want[2] = 2, 2 * x.numpy()[2], 2 * x.numpy()[1]
    np.testing.assert_allclose(x.grad.numpy(), want)
    (b * 3).sum().backward()                    # Split saved no arrays: it can run again, as in torch
    want[1] += 3
    np.testing.assert_allclose(x.grad.numpy(), want)
    e = x.exp()
    p, q = e.unbind(0)[:2]
    (p * q).sum().backward()
    with pytest.raises(AutogradError, match="backward through the graph a second time"):
        (p * 3).sum().backward()                # Exp saved its output: released by the last backward
    with tg.no_grad():
        assert all(not p.requires_grad and p._ctx is None for p in x.split(2))
