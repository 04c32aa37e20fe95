"""Shared test fixtures: float64 everywhere for gradchecks, PyTorch for parity
(skipped when it is not importable), GPU tests skipped without CuPy and a GPU."""
import numpy as np
import pytest

import tinygrad_seq as tg

try:
    import torch
    torch.set_num_threads(2)
except ImportError:  # parity tests skip; everything else still runs
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed (pip install torch==2.13.0)")
gpu = pytest.mark.skipif(not tg.cuda_available(), reason="needs CuPy and an NVIDIA GPU")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "gpu" in item.keywords and not tg.cuda_available():
            item.add_marker(pytest.mark.skip(reason="needs CuPy and an NVIDIA GPU"))


@pytest.fixture(autouse=True)
def _seed():
    tg.manual_seed(0)
    np.random.seed(0)
    if torch is not None:
        torch.manual_seed(0)


def rand64(*shape, requires_grad=True, low=None, high=None, rng=None):
    """A float64 leaf tensor of standard normals (or uniform in [low, high))."""
    rng = rng or np.random.default_rng(abs(hash(shape)) % 2**32)
    a = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return tg.Tensor(a, requires_grad=requires_grad)


def to_torch(t, requires_grad=None):
    """A torch leaf with the same values as a tinygrad_seq tensor."""
    rg = t.requires_grad if requires_grad is None else requires_grad
    return torch.tensor(t.numpy(), requires_grad=rg)


def assert_close(ours, theirs, rtol=1e-6, atol=1e-8, what=""):
    a = ours.numpy() if isinstance(ours, tg.Tensor) else np.asarray(ours)
    b = theirs.detach().cpu().numpy() if torch is not None and isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)
