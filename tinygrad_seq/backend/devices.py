"""The one place that chooses between NumPy (device "cpu") and CuPy (device "cuda").

Ops never import numpy for tensor data: they get the array module for a device from here
(``xp(device)``), so the same code runs unchanged on the GPU. Every other backend module asks
this one which array module an array belongs to.
"""
import numpy as np

try:  # CuPy is optional: `pip install tinygrad-seq[cuda12]` (or [cuda13])
    import cupy as _cupy
except Exception:  # ImportError, or a CuPy that finds no CUDA driver
    _cupy = None

_CUDA_HINT = "install CuPy with `pip install \"tinygrad-seq[cuda12]\"` (or [cuda13] for CUDA 13) on a machine with an NVIDIA GPU"


def cuda_available():
    """True when CuPy is installed AND a CUDA driver reports a GPU (CuPy alone is not enough:
    it imports fine on a machine without a GPU or driver)."""
    return cuda_unavailable_reason() is None


def cuda_unavailable_reason():
    """None when device 'cuda' can be used, else why not, in a few words."""
    if _cupy is None:
        return "CuPy is not installed"
    try:
        if _cupy.cuda.runtime.getDeviceCount() > 0:
            return None
        return "CuPy finds no NVIDIA GPU"
    except Exception as e:   # no driver, or no device: CUDA's error name says which
        return f"CuPy finds no NVIDIA GPU ({str(e).split(':')[0] or type(e).__name__})"


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
        why = cuda_unavailable_reason()
        if why is not None:
            raise RuntimeError(f"device 'cuda' requested but {why}: {_CUDA_HINT}")
        return _CUDA
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")


def xp(device):
    """The array module (numpy or cupy) for a normalized device."""
    return np if device == "cpu" else _cupy


def on_gpu(xp_):
    """True when the array module xp_ is CuPy (say, to pick a fused GPU kernel)."""
    return _cupy is not None and xp_ is _cupy


def is_array(a):
    return isinstance(a, np.ndarray) or (_cupy is not None and isinstance(a, _cupy.ndarray))


def is_device_array(a):
    """A CuPy array (data on the GPU)."""
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def device_of(array):
    return "cpu" if isinstance(array, (np.ndarray, np.generic)) else "cuda"


def to_device(array, device):
    """Move a backend array to `device` (no copy if it is already there); to the host through
    copies.to_numpy, which counts the copy and raises failed deferred checks first."""
    if device == "cpu":
        from .copies import to_numpy
        return to_numpy(array)
    return _cupy.asarray(array)
