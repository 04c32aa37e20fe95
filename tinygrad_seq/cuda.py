"""torch.cuda's everyday calls (tg.cuda.is_available() and friends), on CuPy."""
from . import backend


def is_available():
    """True when CuPy is installed and sees a CUDA GPU."""
    return backend.cuda_available()


def device_count():
    if not is_available():
        return 0
    return backend._cupy.cuda.runtime.getDeviceCount()


def current_device():
    if not is_available():
        raise RuntimeError(f"cuda.current_device: no CUDA GPU: {backend._CUDA_HINT}")
    return backend._cupy.cuda.runtime.getDevice()


def synchronize():
    """Wait for every queued GPU kernel (a no-op without a GPU)."""
    if is_available():
        backend._cupy.cuda.runtime.deviceSynchronize()


def manual_seed(seed):
    """Seeds the one library generator (CPU and GPU draws alike), as tg.manual_seed."""
    backend.manual_seed(seed)


manual_seed_all = manual_seed
