"""Deferred validity checks on data values.

Checks on data values (an embedding index in range, a class target in bounds) must read those
values. On NumPy that is free, so they raise at once. On the GPU, reading a value
(int(idx.max())) waits for every queued kernel: a train step would stall on its own checks.
So, like CUDA's device-side asserts, a check on CuPy computes its flag on the device and only
records it; the error is raised at the next host read - Tensor.item / numpy / tolist / float /
print, anything that goes through copies.to_numpy - or by flush_checks(). The op itself still
runs (CuPy wraps out-of-range indices around), but its result can never be read without the
error.

Reading the flags is one small extra device-to-host copy, made only inside a to_numpy that
copies from the GPU anyway. host_copies() does not count it: it counts the points where the
host waits for the device, and a flush adds none.

The pending list stays small: past MAX_PENDING_CHECKS entries, the entries with the same
message are merged on the device (flags or-ed, the first failing entry's values kept),
leaving one per distinct message; the limit doubles while that is still more.
"""
import numpy as np

from . import devices

MAX_PENDING_CHECKS = 64
_pending = []                 # (xp, bad, message, values, error), oldest first
_pending_limit = MAX_PENDING_CHECKS
_DEFERRED_NOTE = " (found by a deferred device-side check, raised at the first host read after the op)"


def _deferred(xp_):
    """Does a check on arrays of xp_ wait for a host read? Only on the GPU, where reading the
    flag now would stall the device. (Tests monkeypatch this to run the deferred path on NumPy.)"""
    return xp_ is not np


def check(xp_, bad, message, values=(), error=ValueError):
    """Raise error(message.format(*values)) when the 0-d boolean array `bad` is true: at once
    on NumPy; on CuPy at the next host read, without waiting for the device now.

    `values` fill the message's {} fields (say, the offending index): 0-d arrays computed on
    the device, or a function returning them (on NumPy called only when the check fails).
    """
    if not _deferred(xp_):
        if bad:
            raise error(_format(message, values() if callable(values) else values))
        return
    global _pending_limit
    _pending.append((xp_, bad, message, tuple(values() if callable(values) else values), error))
    if len(_pending) > _pending_limit:
        _merge_pending()
        _pending_limit = max(MAX_PENDING_CHECKS, 2 * len(_pending))


def check_indices(xp_, idx, n, message, error=IndexError):
    """The index-range check: every value of the integer array idx in [0, n). `message` has one
    {} field, filled with an offending index (the lowest when one is negative, else the highest)."""
    if idx.size:
        lo, hi = idx.min(), idx.max()
        check(xp_, (lo < 0) | (hi >= n), message, lambda: (xp_.where(lo < 0, lo, hi),), error=error)


def pending_checks():
    """How many deferred checks wait for the next host read (0 on the CPU)."""
    return len(_pending)


def before_host_read(host_array):
    """Called by to_numpy while checks are pending: a copy from the GPU raises the failed
    checks first; a NumPy array only when NumPy checks are pending (in tests)."""
    if not host_array or any(e[0] is np for e in _pending):
        flush_checks()


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
        cp = devices._cupy
        for i, f in zip(on_gpu, cp.asnumpy(cp.stack([pending[i][1] for i in on_gpu]))):
            failed[i] = bool(f)
    for (_, _, message, values, error), f in zip(pending, failed):
        if f:
            raise error(_format(message, values) + _DEFERRED_NOTE)


def _format(message, values):
    cp = devices._cupy
    host = (cp.asnumpy(v).item() if cp is not None and isinstance(v, cp.ndarray) else np.asarray(v).item()
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
