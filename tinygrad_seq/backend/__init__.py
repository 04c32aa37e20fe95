"""The array backend: NumPy on the CPU, CuPy on the GPU. One small module per job:

  devices         the one place choosing NumPy or CuPy for a device (xp, normalize_device, ...)
  copies          device-to-host copies: to_numpy, and the counter (host_copies)
  random_numbers  the seeded generators (manual_seed, rng, randn, ...)
  scatter         scatter_add (NumPy's add.at, cupyx.scatter_add), scatter_add_rows
  checks          deferred validity checks on data values (check, flush_checks)
  host_malloc     an explicit, process-wide malloc setting for training loops

`from tinygrad_seq import backend` then `backend.xp(device)`, `backend.rng()`, ... reach them all.
Importing the backend changes nothing outside the library.
"""
from . import checks, copies, devices, host_malloc, random_numbers, scatter  # noqa: F401
from .checks import MAX_PENDING_CHECKS, check, check_indices, flush_checks, pending_checks  # noqa: F401
from .copies import count_host_copies, host_copies, to_numpy  # noqa: F401
from .devices import (_CUDA_HINT, _cupy, cuda_available, device, device_of, is_array,  # noqa: F401
                      normalize_device, on_gpu, to_device, xp)
from .host_malloc import MMAP_MIN, TRIM_KEEP, set_host_malloc  # noqa: F401
from .random_numbers import (get_rng_state, manual_seed, permutation, rand, randn, rng,  # noqa: F401
                             set_rng_state, uniform)
from .scatter import scatter_add, scatter_add_rows  # noqa: F401
