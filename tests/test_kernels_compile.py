"""Every fused GPU kernel compiles, for float32 and float64, on a machine without a GPU.

kernels.source(name, dtype) is the exact CUDA text the library hands to cupy.RawKernel; here
NVRTC (CUDA's runtime compiler, which needs no GPU and no driver) compiles it to PTX, so a
kernel that does not compile fails CI with the compiler's own message. Needs the [kernels]
extra (cupy-cuda12x and nvidia-cuda-nvrtc-cu12); skipped without it.
"""
import numpy as np
import pytest

from tinygrad_seq import kernels

nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc", reason="pip install -e '.[kernels]'")

# oldest and newest architectures the CUDA 12 toolkit's NVRTC targets that CuPy 13 supports
ARCHS = ("compute_70", "compute_90")


def compile_ptx(src, name, arch):
    """PTX of src, or an AssertionError carrying NVRTC's log (the error lines)."""
    try:
        prog = nvrtc.createProgram(src, name + ".cu", [], [])
    except Exception as e:   # libnvrtc itself missing: the extra is only half installed
        pytest.skip(f"NVRTC not loadable ({e}); pip install nvidia-cuda-nvrtc-cu12")
    try:
        nvrtc.compileProgram(prog, [f"--gpu-architecture={arch}"])
    except nvrtc.NVRTCError as e:
        raise AssertionError(f"kernel {name} does not compile for {arch}: {e}\n{nvrtc.getProgramLog(prog)}") from None
    return nvrtc.getPTX(prog)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", kernels.DTYPES, ids=str)
@pytest.mark.parametrize("name", kernels.NAMES)
def test_kernel_compiles(name, dtype, arch):
    ptx = compile_ptx(kernels.source(name, dtype), name, arch)
    assert f".entry tinygrad_seq_{name}(".encode() in ptx   # extern "C": the name RawKernel looks up
    if dtype == np.float32 and name != "adam":   # float math stays float (Adam's scalars are double)
        assert b".f64" not in ptx, f"{name} float32 computes in double"


def test_a_broken_kernel_fails_with_the_compiler_message():
    src = kernels.source("lstm_fwd", np.float32).replace("sigmoid_f(zr[H])", "sigmoid_ff(zr[H])")
    with pytest.raises(AssertionError, match=r"(?s)lstm_fwd does not compile.*sigmoid_ff.*undefined"):
        compile_ptx(src, "lstm_fwd", ARCHS[0])

