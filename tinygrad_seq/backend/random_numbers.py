"""The library's random numbers: one seeded generator per device, so manual_seed reaches
every draw (initialisation, dropout, shuffles) on CPU and GPU."""
import json

import numpy as np

from . import devices

_seed = None
_np_rng = np.random.default_rng()
_cp_rng = None


def manual_seed(seed):
    """Seed every random draw of the library (initialisation, dropout, shuffles) on CPU and GPU."""
    global _seed, _np_rng, _cp_rng
    _seed = int(seed)
    _np_rng = np.random.default_rng(_seed)
    _cp_rng = None   # made by rng("cuda") from _seed: creating it needs a GPU, which may not be there


def rng(device="cpu"):
    """The generator for a device: numpy.random.Generator on cpu, cupy RandomState on cuda
    (created on first use, from the last manual_seed)."""
    global _cp_rng
    if device == "cpu":
        return _np_rng
    if _cp_rng is None:
        _cp_rng = devices._cupy.random.RandomState(_seed)
    return _cp_rng


def randn(shape, dtype, device):
    if device == "cpu":
        return _np_rng.standard_normal(shape, dtype=dtype)
    return rng(device).standard_normal(shape, dtype=dtype)


def rand(shape, dtype, device):
    if device == "cpu":
        return _np_rng.random(shape, dtype=dtype)
    return rng(device).random_sample(shape, dtype=dtype)


def uniform(low, high, shape, dtype, device):
    return (rand(shape, dtype, device) * (high - low) + low).astype(dtype, copy=False)


def permutation(n, device):
    """A random permutation of 0..n-1 (int64) from the seeded generator of the device."""
    return rng(device).permutation(n).astype(np.int64, copy=False)


def get_rng_state():
    """The CPU generator's state as a JSON string (checkpoints store it without pickle)."""
    return json.dumps(_np_rng.bit_generator.state)


def set_rng_state(state):
    global _np_rng
    st = json.loads(state) if isinstance(state, str) else state
    g = np.random.default_rng()
    g.bit_generator.state = st
    _np_rng = g
