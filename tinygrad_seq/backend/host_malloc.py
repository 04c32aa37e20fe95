"""Host malloc tuning for training loops: an explicit, process-wide choice the library never
makes on import (demos and benchmarks call set_host_malloc("cached") at start-up).

A train step frees and re-allocates the same few large arrays (im2col buffers, activations)
every step. glibc's malloc hands arrays of a few MB back to the kernel when they are freed
(mmap'd chunks, and trimming the top of the heap), so the next step takes a page fault on
every 4 KB it touches: about a third of a LeNet step on CPU. Keeping freed memory in the
process instead (as PyTorch's GPU allocator does) removes those faults; the cost is that up
to TRIM_KEEP bytes freed at the top of the heap stay with the process. Because this changes
malloc for the whole process (every library in it), only the program may decide it.
"""
import ctypes

MMAP_MIN = 32 << 20     # arrays below this come from the heap (glibc's largest allowed value)
TRIM_KEEP = 64 << 20    # free memory kept at the top of the heap before giving it back

_mode = "system"        # what set_host_malloc last applied


def set_host_malloc(mode="cached"):
    """'cached': keep freed host memory for reuse (see above); 'system': glibc's default
    thresholds, but fixed (glibc adapts them only in a process that never set them).
    True when applied (Linux with glibc), else False (nothing to tune, nothing changed)."""
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
    global _mode
    if ok:
        _mode = mode
    return ok


def host_malloc():
    """The mode set_host_malloc last applied: 'system' until a program calls it."""
    return _mode
