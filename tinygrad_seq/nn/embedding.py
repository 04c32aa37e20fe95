"""Embedding: a lookup table of rows, with a scatter-add backward."""
import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from . import init
from .module import Module, Parameter


class EmbeddingFn(Function):
    """weight[indices]; the gradient adds each output row back onto its table row (repeated
    indices accumulate). The padding row gets no gradient."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx):
        ctx.indices, ctx.padding_idx, ctx.wshape = indices, padding_idx, weight.shape
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        V, D = ctx.wshape
        gw = xp.zeros((V * D,), dtype=g.dtype)
        # one flat scatter-add of every element (NumPy's add.at is several times faster on
        # a flat 1-D target than with row indices into a 2-D one)
        flat = (ctx.indices.reshape(-1, 1) * D + xp.arange(D)).reshape(-1)
        backend.scatter_add(xp, gw, flat, g.reshape(-1))
        gw = gw.reshape(V, D)
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None, None


def _padding_idx(padding_idx, num_embeddings, name):
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{name}: padding_idx {padding_idx} must be within num_embeddings={num_embeddings}")
    return padding_idx % num_embeddings


def embedding(input, weight, padding_idx=None, _name="embedding"):
    """torch.nn.functional.embedding: rows of weight (V, D) picked by the integer tensor input."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{_name}: expected an integer index Tensor, got {type(input).__name__}")
    if input.dtype.kind not in "iu":
        raise TypeError(f"{_name}: expected an integer (int64) index tensor, got dtype {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"{_name}: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    V = weight.shape[0]
    # on the GPU a deferred check: no wait for the device (backend.checks)
    backend.check_indices(backend.xp(input.device), input.data, V,
                          f"{_name}: index {{}} is out of range for num_embeddings={V} "
                          f"(valid indices are 0..{V - 1}); indices of shape {input.shape}")
    return EmbeddingFn.apply(weight, input, _padding_idx(padding_idx, V, _name))


class Embedding(Module):
    """Embedding(num_embeddings, embedding_dim, padding_idx=None): weight (V, D) drawn N(0, 1) as
    torch does; the padding_idx row starts at zero and is never updated by gradients."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, _weight=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding_idx(padding_idx, num_embeddings, "Embedding")
        if _weight is None:
            self.weight = init.parameter(num_embeddings, embedding_dim)
            init.normal_(self.weight)
            if self.padding_idx is not None:
                self.weight.data[self.padding_idx] = 0
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight shape {tuple(_weight.shape)} does not match "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding holding a copy of the 2-D tensor `embeddings`; frozen unless freeze=False."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got {embeddings.shape}")
        data = embeddings.data if isinstance(embeddings, Tensor) else embeddings
        data = data.copy() if backend.is_array(data) else np.array(data)   # a CuPy array stays on the GPU
        m = cls(data.shape[0], data.shape[1], padding_idx=padding_idx, _weight=data)
        m.weight.requires_grad = not freeze
        return m

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx, _name="Embedding")

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
