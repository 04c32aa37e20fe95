"""The autograd graph and Python's cyclic garbage collector: a recorded op leaves few objects
for the collector to walk, and backward restores the collector's state, even on error."""
import gc

import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq.autograd import AutogradError, collector_paused


def _chain(x, n):
    y = x
    for i in range(n):
        k = i % 3
        y = y + 0.5 if k == 0 else (y * 0.9 if k == 1 else y.tanh())   # tanh saves its output
    return y


def _tracked_ids():
    return {id(o) for o in gc.get_objects()}


def test_recorded_ops_leave_at_most_two_tracked_objects_each():
    x = tg.Tensor(np.random.default_rng(0).standard_normal(8).astype(np.float32), requires_grad=True)
    _chain(x, 30)
    gc.collect()
    before = _tracked_ids()
    n = 3000
    y = _chain(x, n)
    gc.collect()   # a pass untracks the tuples that hold only untracked objects
    new = [o for o in gc.get_objects() if id(o) not in before]
    # the node and its tuple of parents; nothing else per op (needs_input_grad, shapes, the
    # version counters of saved outputs and the node's (counter, version) pairs are untracked)
    assert len(new) <= 2.1 * n, sorted({type(o).__name__ for o in new})
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


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
