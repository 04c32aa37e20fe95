"""Device choice (backend/devices.py): CuPy installed on a machine without a GPU or driver is
not a GPU; asking for one then gets one clear error, and a demo one line and exit status 2."""
import types

import pytest

import tinygrad_seq as tg
from tinygrad_seq.backend import devices


class _NoDriver(Exception):
    pass


def _cupy_without_gpu(count=None):
    """A stand-in for CuPy on a machine with no driver (getDeviceCount raises) or no GPU (0)."""
    def get_count():
        if count is None:
            raise _NoDriver("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
        return count
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_count)),
                                 ndarray=type("ndarray", (), {}))


@pytest.mark.parametrize("count, why", [(None, "CuPy finds no NVIDIA GPU (cudaErrorInsufficientDriver)"),
                                        (0, "CuPy finds no NVIDIA GPU")])
def test_cupy_without_a_gpu_is_not_a_gpu(monkeypatch, count, why):
    monkeypatch.setattr(devices, "_cupy", _cupy_without_gpu(count))
    assert not tg.cuda_available() and not tg.cuda.is_available()
    assert devices.cuda_unavailable_reason() == why
    with pytest.raises(RuntimeError, match=r"^device 'cuda' requested but " + why.replace("(", r"\(").replace(")", r"\)")):
        tg.zeros(2, device="cuda")
    assert tg.zeros(2, device="cpu").device == "cpu"


def test_without_cupy(monkeypatch):
    monkeypatch.setattr(devices, "_cupy", None)
    assert devices.cuda_unavailable_reason() == "CuPy is not installed"
    with pytest.raises(RuntimeError, match=r"CuPy is not installed: install CuPy with `pip install"):
        tg.Tensor([1.0], device="cuda:0")


@pytest.mark.parametrize("flag", [["--device", "cuda"], ["--device=cuda"]])
def test_demo_on_cuda_without_a_gpu_says_so_in_one_line(monkeypatch, capsys, flag):
    from demos.__main__ import main
    monkeypatch.setattr(devices, "_cupy", _cupy_without_gpu())
    assert main(["mlp", "--quick", *flag]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m demos mlp: error: ")
    assert "CuPy finds no NVIDIA GPU (cudaErrorInsufficientDriver)" in err and "Traceback" not in err
