"""Embedding: a lookup table of rows, with a scatter-add backward."""
import numpy as np

from .. import backend
from ..autograd import Function
from ..factories import cat
from ..tensor import Tensor, where
from . import init
from .module import Module, Parameter, check_size


class EmbeddingFn(Function):
    """weight[indices]; the gradient adds each output row back onto its table row (repeated
    indices accumulate). The padding row gets no gradient."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx):
        # saved: backward checks the index tensor was not changed in place since (as torch)
        ctx.save_for_backward(indices)
        ctx.padding_idx, ctx.wshape = padding_idx, weight.shape
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        V, D = ctx.wshape
        gw = xp.zeros((V, D), dtype=g.dtype)
        backend.scatter_add_rows(xp, gw, ctx.saved_tensors[0].reshape(-1), g.reshape(-1, D))
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None, None

    @staticmethod
    def composed(weight, indices, padding_idx):
        """The same lookup from differentiable ops: rows of the table (the padding row's
        copies detached, so it gets no gradient)."""
        idx = indices.array if isinstance(indices, Tensor) else indices
        rows = weight[idx]
        if padding_idx is None:
            return rows
        return where(Tensor._wrap((idx != padding_idx)[..., None], weight.device), rows, rows.detach())


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
    if input.dtype not in (np.int64, np.int32):   # as torch: Long or Int only (no uint8, no int16)
        kind = "an integer (int64)" if input.dtype.kind not in "iu" else "an int64 or int32"
        raise TypeError(f"{_name}: expected {kind} index tensor, got dtype {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"{_name}: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    V = weight.shape[0]
    # on the GPU a deferred check: no wait for the device (backend.checks)
    backend.check_indices(backend.xp(input.device), input.array, V,
                          f"{_name}: index {{}} is out of range for num_embeddings={V} "
                          f"(valid indices are 0..{V - 1}); indices of shape {input.shape}")
    return EmbeddingFn.apply(weight, input, _padding_idx(padding_idx, V, _name))


class Embedding(Module):
    """Embedding(num_embeddings, embedding_dim, padding_idx=None): weight (V, D) drawn N(0, 1) as
    torch does; the padding_idx row starts at zero and is never updated by gradients."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, _weight=None):
        super().__init__()
        num_embeddings = check_size("Embedding", "num_embeddings", num_embeddings)
        embedding_dim = check_size("Embedding", "embedding_dim", embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding_idx(padding_idx, num_embeddings, "Embedding")
        if _weight is None:
            self.weight = init.parameter(num_embeddings, embedding_dim)
            init.normal_(self.weight)
            if self.padding_idx is not None:
                self.weight.array[self.padding_idx] = 0
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
        data = embeddings.array if isinstance(embeddings, Tensor) else embeddings
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


# ---------------------------------------------------------------- EmbeddingBag
def _bags(input, offsets, include_last_offset, name):
    """(flat indices, starts, ends) of every bag: a 2-D input is one bag per row; a 1-D input is
    cut at `offsets` (bag b is input[offsets[b]:offsets[b + 1]], the last one to the end unless
    include_last_offset, where offsets also holds the last bag's end)."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{name}: offsets must be None when input is 2-D (one bag per row), "
                             f"got input {input.shape}")
        B, L = input.shape
        starts = np.arange(B) * L
        return input.reshape(-1), starts, starts + L
    if input.ndim != 1:
        raise ValueError(f"{name}: input must be 1-D (with offsets) or 2-D (B, L), got shape {input.shape}")
    if offsets is None or not isinstance(offsets, Tensor) or offsets.ndim != 1:
        raise ValueError(f"{name}: offsets has to be a 1-D Tensor for a 1-D input, got "
                         f"{None if offsets is None else getattr(offsets, 'shape', type(offsets).__name__)}")
    if offsets.dtype.kind not in "iu":
        raise TypeError(f"{name}: offsets must hold integers, got dtype {offsets.dtype}")
    o = backend.to_numpy(offsets.array).astype(np.int64)   # small: bag boundaries, read on the host
    M = input.shape[0]
    if include_last_offset:
        if o.size < 1:
            raise ValueError(f"{name}: include_last_offset needs at least one offset")
        starts, ends = o[:-1], o[1:]
    else:
        starts, ends = o, np.append(o[1:], M)
    if o.size and o[0] != 0:
        raise ValueError(f"{name}: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has "
                         f"to start from position 0. However, got {o[0]}")
    if (np.diff(o) < 0).any() or (o.size and (o[-1] > M)):
        raise ValueError(f"{name}: offsets {o.tolist()} must be non-decreasing and at most the input "
                         f"length {M}")
    return input, starts, ends


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None, _name="embedding_bag"):
    """torch.nn.functional.embedding_bag: the sum, mean or max of each bag's embedding rows
    (entries equal to padding_idx left out; an empty bag gives zeros). Each bag's rows are gathered
    into a padded (B, Lmax, D) block, a zero row filling the short bags, and reduced along the bag;
    the gradient reaches the table through embedding's scatter-add."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{_name}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{_name}: max_norm, scale_grad_by_freq and sparse are not supported")
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        raise TypeError(f"{_name}: expected an integer (int64) index Tensor, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"{_name}: per_sample_weights is only supported for mode='sum' "
                                      f"(got mode={mode!r})")
        if tuple(per_sample_weights.shape) != input.shape:
            raise ValueError(f"{_name}: per_sample_weights of shape {tuple(per_sample_weights.shape)} must "
                             f"match the input's shape {input.shape}")
    flat, starts, ends = _bags(input, offsets, include_last_offset, _name)
    V, D = weight.shape
    pad = _padding_idx(padding_idx, V, _name)
    xp = backend.xp(weight.device)
    M, B = flat.shape[0], len(starts)
    Lmax = max(int((ends - starts).max()) if B else 0, 1)
    pos = starts[:, None] + np.arange(Lmax)[None, :]
    pos = xp.asarray(np.where(pos < ends[:, None], pos, M))          # M: the filler row
    rows = embedding(flat, weight, None, _name=_name)                 # (M, D)
    keep = Tensor(xp.ones(M, dtype=weight.dtype), device=weight.device)
    if pad is not None:
        keep = Tensor((flat.array != pad).astype(weight.dtype), device=weight.device)
    zero_row = Tensor(xp.zeros((1, D), dtype=weight.dtype), device=weight.device)
    zero = Tensor(xp.zeros(1, dtype=weight.dtype), device=weight.device)
    block = cat([rows, zero_row])[pos]                               # (B, Lmax, D)
    mask = cat([keep, zero])[pos]                                     # (B, Lmax): 1 for a counted entry
    if mode == "max":
        best = block.where(mask.unsqueeze(-1) > 0, -np.inf).amax(1)
        return best.where(mask.sum(1, keepdims=True) > 0, 0.0)
    w = mask
    if per_sample_weights is not None:
        w = w * cat([per_sample_weights.reshape(-1), zero])[pos]
    total = (block * w.unsqueeze(-1)).sum(1)
    if mode == "sum":
        return total
    return total / mask.sum(1, keepdims=True).maximum(1.0)


class EmbeddingBag(Module):
    """EmbeddingBag(num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
    mode='mean', sparse=False, _weight=None, include_last_offset=False, padding_idx=None): weight (V, D)
    drawn N(0, 1) as torch; forward(input, offsets=None, per_sample_weights=None)."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("EmbeddingBag: max_norm, scale_grad_by_freq and sparse are not supported")
        self.num_embeddings, self.embedding_dim, self.mode = num_embeddings, embedding_dim, mode
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = max_norm, norm_type, False, False
        self.include_last_offset = include_last_offset
        self.padding_idx = _padding_idx(padding_idx, num_embeddings, "EmbeddingBag")
        if _weight is None:
            self.weight = init.parameter(num_embeddings, embedding_dim)
            init.normal_(self.weight)
            if self.padding_idx is not None:
                self.weight.array[self.padding_idx] = 0
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"EmbeddingBag: _weight shape {tuple(_weight.shape)} does not match "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, self.weight, offsets, mode=self.mode, per_sample_weights=per_sample_weights,
                             include_last_offset=self.include_last_offset, padding_idx=self.padding_idx,
                             _name="EmbeddingBag")

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
