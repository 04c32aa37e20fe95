"""The one place that chooses between NumPy (device "cpu") and CuPy (device "cuda").

Ops never import numpy for tensor data: they get the array module for a device
from here (``xp(device)``), so the same code runs unchanged on the GPU.
Random numbers live here too, so ``manual_seed`` reaches every draw.
"""
import contextlib
import ctypes
import json
import os

import numpy as np

try:  # CuPy is optional: `pip install tinygrad-seq[cuda12]` (or [cuda13])
    import cupy as _cupy
except Exception:  # ImportError, or a CuPy that finds no CUDA driver
    _cupy = None

_CUDA_HINT = "install CuPy with `pip install \"tinygrad-seq[cuda12]\"` (or [cuda13] for CUDA 13) on a machine with an NVIDIA GPU"


# ---------------------------------------------------------------- host memory
# A train step frees and re-allocates the same few large arrays (im2col buffers, activations)
# every step. glibc's malloc hands arrays of a few MB back to the kernel when they are freed
# (mmap'd chunks, and trimming the top of the heap), so the next step takes a page fault on
# every 4 KB it touches: about a third of a LeNet step on CPU. Keeping freed memory in the
# process instead (as PyTorch's GPU allocator does) removes those faults; the cost is that
# up to TRIM_KEEP bytes freed at the top of the heap stay with the process. It changes malloc
# for the whole process, so it can be turned off: TINYGRAD_SEQ_MALLOC=system in the
# environment, or set_host_malloc("system").
MMAP_MIN = 32 << 20     # arrays below this come from the heap (glibc's largest allowed value)
TRIM_KEEP = 64 << 20    # free memory kept at the top of the heap before giving it back


def set_host_malloc(mode="cached"):
    """'cached': keep freed host memory for reuse (the default, see above); 'system': glibc's
    default thresholds, but fixed (glibc adapts them only in a process that never set them:
    TINYGRAD_SEQ_MALLOC=system gives that). True when applied (Linux with glibc), else False."""
    if mode not in ("cached", "system"):
        raise ValueError(f"set_host_malloc: mode must be 'cached' or 'system', got {mode!r}")
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # not glibc (macOS, Windows, musl): nothing to tune
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    # glibc's defaults: 128 KB for both (then adapted as the program frees large chunks)
    mmap_min, trim_keep = (MMAP_MIN, TRIM_KEEP) if mode == "cached" else (128 << 10, 128 << 10)
    # both are needed: fixing only one also switches off glibc's adaptive thresholds
    ok = bool(mallopt(M_MMAP_THRESHOLD, mmap_min)) and bool(mallopt(M_TRIM_THRESHOLD, trim_keep))
    global _HOST_MALLOC
    if ok:
        _HOST_MALLOC = mode
    return ok


_HOST_MALLOC = "system"    # what set_host_malloc last applied
if os.environ.get("TINYGRAD_SEQ_MALLOC", "cached") != "system":
    set_host_malloc("cached")


def cuda_available():
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


class device(str):
    """torch.device: device("cpu"), device("cuda"), device("cuda:0"), device("cuda", 0). It is a
    str, so it goes wherever a device string does and compares equal to one ("cpu"); .type is
    "cpu" or "cuda" and .index the GPU number (None when not given)."""

    def __new__(cls, type, index=None):
        if isinstance(type, device) and index is None:
            return type
        name = str(type)
        if index is not None:
            if ":" in name:
                raise ValueError(f"device: {name!r} already names an index; do not pass index={index}")
            name = f"{name}:{int(index)}"
        kind, _, num = name.partition(":")
        if kind not in ("cpu", "cuda") or (num and not num.isdigit()):
            raise ValueError(f"unknown device {name!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        d = super().__new__(cls, name)
        d.type, d.index = kind, int(num) if num else None
        return d

    def __reduce__(self):   # pickle as the plain string
        return (str, (str(self),))


_CPU, _CUDA = device("cpu"), device("cuda")


def normalize_device(device):
    """'cpu', 'cuda', 'cuda:0', a device object (or None for cpu) -> device('cpu') | device('cuda');
    a clear error for anything else."""
    if device is None:
        return _CPU
    d = str(device)
    if d == "cpu":
        return _CPU
    if d == "cuda" or d.startswith("cuda:"):
        if not cuda_available():
            why = "CuPy is not installed" if _cupy is None else "CuPy found no CUDA GPU"
            raise RuntimeError(f"device 'cuda' requested but {why}: {_CUDA_HINT}")
        return _CUDA
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")


def xp(device):
    """The array module (numpy or cupy) for a normalized device."""
    return np if device == "cpu" else _cupy


def is_array(a):
    return isinstance(a, np.ndarray) or (_cupy is not None and isinstance(a, _cupy.ndarray))


def device_of(array):
    return "cpu" if isinstance(array, (np.ndarray, np.generic)) else "cuda"


def to_device(array, device):
    """Move a backend array to `device` (no copy if it is already there)."""
    if device == "cpu":
        return to_numpy(array)
    return _cupy.asarray(array)


def to_numpy(array):
    """A NumPy array; copied from the GPU (and counted, see host_copies) when it is a CuPy
    array, after raising any failed deferred check (see "deferred checks" below)."""
    if _pending and (not isinstance(array, np.ndarray) or any(e[0] is np for e in _pending)):
        flush_checks()
    if isinstance(array, np.ndarray):
        return array
    global _host_copies
    _host_copies += 1
    return _cupy.asnumpy(array)


# ---------------------------------------------------------------- device -> host copies
# Every copy from the GPU waits for the device: a training step should make none. All of
# them go through to_numpy (Tensor.numpy/item/tolist/float/bool too), which counts them.
_host_copies = 0


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


def scatter_add(xp_, target, index, values):
    """target[index] += values, adding repeated indices (unlike plain assignment)."""
    if xp_ is np:
        np.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target


# ---------------------------------------------------------------- random numbers
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
        _cp_rng = _cupy.random.RandomState(_seed)
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


# ================================================================ deferred checks
# Checks on data values (an embedding index in range, a class target in bounds) must read
# those values. On NumPy that is free, so they raise at once. On the GPU, reading a value
# (int(idx.max())) waits for every queued kernel: a train step would stall on its own
# checks. So, like CUDA's device-side asserts, a check on CuPy computes its flag on the
# device and only records it; the error is raised at the next host read - Tensor.item /
# numpy / tolist / float / print, anything that goes through to_numpy - or by
# flush_checks(). The op itself still runs (CuPy wraps out-of-range indices around), but
# its result can never be read without the error.
#
# Reading the flags is one small extra device-to-host copy, made only inside a to_numpy
# that copies from the GPU anyway. host_copies() does not count it: it counts the points
# where the host waits for the device, and a flush adds none.
#
# The pending list stays small: past MAX_PENDING_CHECKS entries, the entries with the same
# message are merged on the device (flags or-ed, the first failing entry's values kept),
# leaving one per distinct message; the limit doubles while that is still more.
MAX_PENDING_CHECKS = 64
DEFER_CHECKS_ON_CPU = False   # True: NumPy takes the GPU's deferred path too (for tests); then
                              # every to_numpy flushes, making a CPU tensor from an array included
_pending = []                 # (xp, bad, message, values, error), oldest first
_pending_limit = MAX_PENDING_CHECKS
_DEFERRED_NOTE = " (found by a deferred device-side check, raised at the first host read after the op)"


def check(xp_, bad, message, values=(), error=ValueError):
    """Raise error(message.format(*values)) when the 0-d boolean array `bad` is true: at once
    on NumPy; on CuPy at the next host read, without waiting for the device now.

    `values` fill the message's {} fields (say, the offending index): 0-d arrays computed on
    the device, or a function returning them (on NumPy called only when the check fails).
    """
    if xp_ is np and not DEFER_CHECKS_ON_CPU:
        if bad:
            raise error(_format(message, values() if callable(values) else values))
        return
    global _pending_limit
    _pending.append((xp_, bad, message, tuple(values() if callable(values) else values), error))
    if len(_pending) > _pending_limit:
        _merge_pending()
        _pending_limit = max(MAX_PENDING_CHECKS, 2 * len(_pending))


def pending_checks():
    """How many deferred checks wait for the next host read (0 on the CPU by default)."""
    return len(_pending)


def flush_checks():
    """Raise the error of the first failed deferred check, if any, and forget them all.
    On the GPU this waits for the device; every to_numpy of GPU data calls it first."""
    global _pending, _pending_limit
    if not _pending:
        return
    pending, _pending, _pending_limit = _pending, [], MAX_PENDING_CHECKS
    on_gpu = [i for i, e in enumerate(pending) if e[0] is not np]
    failed = [bool(e[1]) if e[0] is np else False for e in pending]
    if on_gpu:   # one copy for all the GPU flags
        for i, f in zip(on_gpu, _cupy.asnumpy(_cupy.stack([pending[i][1] for i in on_gpu]))):
            failed[i] = bool(f)
    for (_, _, message, values, error), f in zip(pending, failed):
        if f:
            raise error(_format(message, values) + _DEFERRED_NOTE)


def _format(message, values):
    host = (_cupy.asnumpy(v).item() if _cupy is not None and isinstance(v, _cupy.ndarray) else np.asarray(v).item()
            for v in values)
    return message.format(*host)


def _merge_pending():
    """One entry per (device, message, error): flags or-ed, values of the first failing entry."""
    global _pending
    groups = {}
    for e in _pending:
        groups.setdefault((e[0], e[2], e[4]), []).append(e)
    merged = []
    for (xp_, message, error), entries in groups.items():
        if len(entries) == 1:
            merged.append(entries[0])
            continue
        flags = xp_.stack([e[1] for e in entries])
        first = flags.argmax()   # the first failing entry (0 when none fails)
        values = tuple(xp_.stack([e[3][k] for e in entries])[first] for k in range(len(entries[0][3])))
        merged.append((xp_, flags.any(), message, values, error))
    _pending = merged
