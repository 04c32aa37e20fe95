"""Functional forms of the layers and losses (`import tinygrad_seq.nn.functional as F`),
with PyTorch's names and signatures. Each op lives next to its layer (conv.py, pooling.py,
loss.py, ...); this module gathers them in one namespace."""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..tensor import pad_ as _pad
from .activation import (relu, tanh, sigmoid, leaky_relu, softmax, log_softmax,  # noqa: F401
                         gelu, elu, silu, softplus, glu, hardtanh, relu6, logsigmoid, selu)
from .attention import scaled_dot_product_attention  # noqa: F401
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401
from .dropout import dropout, dropout2d  # noqa: F401
from .embedding import embedding, embedding_bag  # noqa: F401
from .linear import linear  # noqa: F401
from .loss import (cross_entropy, nll_loss, mse_loss, binary_cross_entropy_with_logits,  # noqa: F401
                   one_hot, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy, kl_div)
from .normalization import layer_norm, batch_norm, group_norm  # noqa: F401
from .pooling import (max_pool1d, max_pool2d, avg_pool1d, avg_pool2d,  # noqa: F401
                      adaptive_max_pool1d, adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool2d)


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad, constant mode: `pad` lists (before, after) pairs from the last dim back."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    return _pad(input, pad, 0.0 if value is None else value)


__all__ = ["relu", "tanh", "sigmoid", "leaky_relu", "softmax", "log_softmax", "conv1d", "conv2d",
           "dropout", "embedding", "linear", "cross_entropy", "nll_loss", "mse_loss",
           "binary_cross_entropy_with_logits", "one_hot", "layer_norm", "max_pool1d", "max_pool2d",
           "avg_pool1d", "avg_pool2d", "adaptive_max_pool1d", "pad",
           "gelu", "elu", "silu", "softplus", "glu", "normalize", "cosine_similarity", "kl_div", "l1_loss",
           "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "interpolate", "scaled_dot_product_attention", "batch_norm", "group_norm",
           "conv_transpose1d", "conv_transpose2d", "embedding_bag", "dropout2d",
           "hardtanh", "relu6", "logsigmoid", "selu"]


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """torch.nn.functional.normalize: input / max(||input||_p along dim, eps)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"normalize: expected a Tensor input, got {type(input).__name__}")
    if input.ndim == 0 or not -input.ndim <= dim < input.ndim:
        raise IndexError(f"normalize: dim {dim} is out of range for input of shape {input.shape}")
    if p == 2:
        norm = (input * input).sum(dim, keepdims=True).sqrt()
    elif p == 1:
        norm = abs(input).sum(dim, keepdims=True)
    elif p == math.inf:
        norm = abs(input).amax(dim, keepdims=True)
    else:
        norm = (abs(input) ** p).sum(dim, keepdims=True) ** (1.0 / p)
    return input / norm.maximum(eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """torch.nn.functional.cosine_similarity: <x1, x2> / (max(||x1||, eps) max(||x2||, eps)) along dim,
    x1 and x2 broadcast against each other."""
    for what, t in (("x1", x1), ("x2", x2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"cosine_similarity: {what} must be a Tensor, got {type(t).__name__}")
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(f"cosine_similarity: x1 {x1.shape} and x2 {x2.shape} do not broadcast") from None
    if not shape or not -len(shape) <= dim < len(shape):
        raise IndexError(f"cosine_similarity: dim {dim} is out of range for shape {shape}")
    n1 = (x1 * x1).sum(dim, keepdims=True).sqrt().maximum(eps)
    n2 = (x2 * x2).sum(dim, keepdims=True).sqrt().maximum(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


# ---------------------------------------------------------------- interpolate
def _source_index(xp, n_in, n_out, scale_factor, align_corners, mode):
    """For each output position along one dim, where it reads the input, as torch computes it:
    nearest: floor(dst * scale) in float32 (scale = 1/scale_factor when given, else in/out);
    linear: (i0, i1, lam) with src = dst * (in-1)/(out-1) (align_corners) or (dst + 0.5) * scale - 0.5
    clamped at 0, i0 = floor(src), i1 = min(i0 + 1, in - 1), lam = src - i0."""
    dst = np.arange(n_out)
    if mode == "nearest":
        scale = np.float32(1.0 / scale_factor) if scale_factor else np.float32(n_in) / np.float32(n_out)
        idx = np.minimum(np.floor(dst.astype(np.float32) * scale).astype(np.int64), n_in - 1)
        return xp.asarray(idx)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        scale = 1.0 / scale_factor if scale_factor else n_in / n_out
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return xp.asarray(i0), xp.asarray(i1), src - i0


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """torch.nn.functional.interpolate for (N, C, L) with mode 'nearest' or 'linear' and (N, C, H, W)
    with 'nearest' or 'bilinear'; output size from `size` or floor(input size * scale_factor). Each
    spatial dim is resampled in turn (bilinear is linear along H, then along W)."""
    name = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__}")
    if antialias:
        raise NotImplementedError(f"{name}: antialias=True is not supported")
    modes = {3: ("nearest", "linear"), 4: ("nearest", "bilinear")}
    if input.ndim not in modes:
        raise NotImplementedError(f"{name}: supports 3-D (N, C, L) and 4-D (N, C, H, W) input, got shape "
                                  f"{input.shape}")
    if mode not in modes[input.ndim]:
        raise NotImplementedError(f"{name}: mode {mode!r} is not supported for {input.ndim}-D input "
                                  f"(use one of {modes[input.ndim]})")
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{name}: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got {input.dtype}")
    n = input.ndim - 2
    spatial = input.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: only one of size or scale_factor should be defined")
    if size is not None:
        out = (int(size),) * n if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
        if len(out) != n:
            raise ValueError(f"{name}: size {size!r} must have {n} entries for input of shape {input.shape}")
        scales = (None,) * n
    else:
        scales = (float(scale_factor),) * n if isinstance(scale_factor, (int, float, np.number)) else \
            tuple(float(s) for s in scale_factor)
        if len(scales) != n:
            raise ValueError(f"{name}: scale_factor {scale_factor!r} must have {n} entries for input of "
                             f"shape {input.shape}")
        out = tuple(int(math.floor(s * f)) for s, f in zip(spatial, scales))
        if recompute_scale_factor:
            scales = (None,) * n
    if min(out) < 1 or min(spatial) < 1:
        raise ValueError(f"{name}: input {input.shape} and output size {out} must be non-empty")
    xp = backend.xp(input.device)
    x = input
    for i in range(n):
        axis = 2 + i
        lead = (slice(None),) * axis
        if mode == "nearest":
            x = x[lead + (_source_index(xp, spatial[i], out[i], scales[i], None, mode),)]
            continue
        i0, i1, lam = _source_index(xp, spatial[i], out[i], scales[i], bool(align_corners), mode)
        lam = Tensor(xp.asarray(lam.astype(x.dtype)).reshape((-1,) + (1,) * (x.ndim - axis - 1)), device=x.device)
        x = x[lead + (i0,)] * (1.0 - lam) + x[lead + (i1,)] * lam
    return x
