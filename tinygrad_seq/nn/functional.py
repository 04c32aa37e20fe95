"""Functional forms of the layers and losses (`import tinygrad_seq.nn.functional as F`),
with PyTorch's names and signatures. Each op lives next to its layer (conv.py, pooling.py,
loss.py, ...); this module gathers them in one namespace."""
from ..tensor import pad_ as _pad
from .activation import relu, tanh, sigmoid, leaky_relu, softmax, log_softmax  # noqa: F401
from .conv import conv1d, conv2d  # noqa: F401
from .dropout import dropout  # noqa: F401
from .embedding import embedding  # noqa: F401
from .linear import linear  # noqa: F401
from .loss import (cross_entropy, nll_loss, mse_loss, binary_cross_entropy_with_logits,  # noqa: F401
                   one_hot)
from .normalization import layer_norm  # noqa: F401
from .pooling import (max_pool1d, max_pool2d, avg_pool1d, avg_pool2d,  # noqa: F401
                      adaptive_max_pool1d)


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad, constant mode: `pad` lists (before, after) pairs from the last dim back."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    return _pad(input, pad, 0.0 if value is None else value)


__all__ = ["relu", "tanh", "sigmoid", "leaky_relu", "softmax", "log_softmax", "conv1d", "conv2d",
           "dropout", "embedding", "linear", "cross_entropy", "nll_loss", "mse_loss",
           "binary_cross_entropy_with_logits", "one_hot", "layer_norm", "max_pool1d", "max_pool2d",
           "avg_pool1d", "avg_pool2d", "adaptive_max_pool1d", "pad"]
