"""The autograd graph and Python's cyclic garbage collector: a recorded op leaves few objects
for the collector to walk, and backward restores the collector's state, even on error."""
import collections
import gc

import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq.autograd import AutogradError, Node, collector_paused


def _chain(x, n):
    y = x
    for i in range(n):
        k = i % 3
        y = y + 0.5 if k == 0 else (y * 0.9 if k == 1 else y.tanh())   # tanh saves its output
    return y


def _tracked_ids():
    return {id(o) for o in gc.get_objects()}


def _new_tracked_per_op(make, n=3000):
    """gc-tracked objects left alive per recorded op by `make(n)` (which returns what keeps
    its graph alive), counted by gc.get_objects() after a collection."""
    gc.collect()
    before = _tracked_ids()
    keep = make(n)
    for _ in range(3):   # a pass untracks the tuples (one level of nesting each time) and
        gc.collect()     # the dicts that hold only untracked objects
    new = [o for o in gc.get_objects() if id(o) not in before]
    nodes = sum(type(o) is Node for o in new)
    others = [type(o).__name__ for o in new if type(o) is not Node]
    return nodes / n, others, keep


def test_a_recorded_elementwise_op_leaves_one_tracked_object():
    """add, mul and tanh (which saves its output, so it has a version counter): the node
    alone. Its edges to the inputs sit in its own slots, and the small tuples it keeps
    (needs_input_grad, input shapes, saved arrays, version pairs) are untracked or shared."""
    x = tg.Tensor(np.random.default_rng(0).standard_normal(8).astype(np.float32), requires_grad=True)
    _chain(x, 30)
    nodes_per_op, others, y = _new_tracked_per_op(lambda n: _chain(x, n))
    assert nodes_per_op == 1
    assert len(others) <= 5, collections.Counter(others)   # the result tensor, the test's own few
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_two_tensor_ops_and_multi_output_edges_leave_one_tracked_object():
    """Binary ops whose inputs both require grad (they save both inputs) and consumers of a
    multi-output node (chunk pieces: the output index is a slot, not a (node, k) tuple)."""
    w = tg.Tensor(np.random.default_rng(1).standard_normal((2, 8)).astype(np.float32), requires_grad=True)

    def make(n):
        y = w
        for _ in range(n // 2):
            a, b = y.chunk(2, dim=0)        # one Split node, two outputs
            y = tg.cat([a * b, b], dim=0)
        return y
    nodes_per_op, others, y = _new_tracked_per_op(make, 600)
    assert nodes_per_op == 1.5   # per step of two: Split, Mul, Cat
    assert len(others) <= 5, collections.Counter(others)
    y.sum().backward()
    assert np.isfinite(w.grad.numpy()).all()


def test_version_counter_still_catches_in_place_change():
    x = tg.Tensor(np.ones(4, dtype=np.float32), requires_grad=True)
    y = x.tanh()          # saves its output
    with tg.no_grad():
        y.add_(1.0)
    assert y._version == 1 and isinstance(y._version, int)
    with pytest.raises(AutogradError, match="modified in place"):
        y.sum().backward()


@pytest.mark.parametrize("enabled", [True, False])
def test_backward_restores_collector_state(enabled):
    x = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        _chain(x, 10).sum().backward()
        assert gc.isenabled() is enabled
        y = x * 2.0
        y.sum().backward()
        with pytest.raises(AutogradError):   # a second backward through a released graph
            z = x.tanh()
            s = z.sum()
            s.backward()
            s.backward()
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_collector_paused_is_scoped():
    was = gc.isenabled()
    try:
        gc.enable()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        with pytest.raises(ZeroDivisionError):
            with collector_paused():
                1 / 0
        assert gc.isenabled()
        gc.disable()
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
