"""Device-to-host copies: the one door (to_numpy) and its counter.

Every copy from the GPU waits for the device: a training step should make none. All of them
go through to_numpy (Tensor.numpy/item/tolist/float/bool too), which counts them, and which
first raises any failed deferred check (see checks.py) so that no bad value is ever read.
"""
import contextlib

import numpy as np

from . import checks, devices

_host_copies = 0


def to_numpy(array):
    """A NumPy array; copied from the GPU (and counted, see host_copies) when it is a CuPy
    array, after raising any failed deferred check."""
    if checks._pending:
        checks.before_host_read(isinstance(array, np.ndarray))
    if isinstance(array, np.ndarray):
        return array
    global _host_copies
    _host_copies += 1
    return devices._cupy.asnumpy(array)


def host_copies():
    """How many arrays have been copied from the GPU to the host since the program started."""
    return _host_copies


class _HostCopyCount:
    def __init__(self):
        self.start, self.end = _host_copies, None

    @property
    def count(self):
        return (_host_copies if self.end is None else self.end) - self.start


@contextlib.contextmanager
def count_host_copies():
    """`with count_host_copies() as c: ...` then `c.count`: the device-to-host copies made inside."""
    c = _HostCopyCount()
    try:
        yield c
    finally:
        c.end = _host_copies
