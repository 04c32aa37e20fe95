"""Attention: scaled_dot_product_attention and MultiheadAttention, with torch's signatures,
parameter names (in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias) and mask rules.

    softmax(q k^T * scale + mask) v

Mask conventions differ between the two, as in torch: for scaled_dot_product_attention a boolean
attn_mask is True where attention is ALLOWED; for MultiheadAttention a boolean attn_mask or
key_padding_mask is True where it is NOT allowed. A float mask is added to the scores.
"""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import init
from .dropout import dropout
from .linear import Linear, linear
from .module import Module


def _additive(mask, dtype, masked_when, name, what):
    """A mask as a float Tensor to add to the scores: a boolean mask becomes -inf where it equals
    `masked_when` and 0 elsewhere; a float mask is used as it is."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(mask).__name__}")
    if mask.dtype == np.bool_:
        xp = backend.xp(mask.device)
        blocked = mask.array if masked_when else ~mask.array
        return Tensor(xp.where(blocked, -np.inf, 0.0).astype(dtype), device=mask.device)
    if mask.dtype.kind != "f":
        raise TypeError(f"{name}: {what} must be bool or floating point, got dtype {mask.dtype}")
    return mask


def _causal(L, S, dtype, device):
    """0 on and below the diagonal, -inf above it: position i sees keys 0..i."""
    xp = backend.xp(device)
    return Tensor(xp.where(xp.tril(xp.ones((L, S), dtype=bool)), 0.0, -np.inf).astype(dtype), device=device)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """torch.nn.functional.scaled_dot_product_attention: query (..., L, E), key (..., S, E),
    value (..., S, Ev) -> (..., L, Ev). attn_mask: bool (True = may attend) or float (added),
    broadcast against (..., L, S); is_causal: each query sees keys up to its own position;
    dropout_p: dropout on the attention weights; scale: 1/sqrt(E) by default."""
    name = "scaled_dot_product_attention"
    for what, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{name}: {what} must have at least 2 dims (..., seq, features), got {t.shape}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{name}: expected query (..., L, E), key (..., S, E), value (..., S, Ev), got "
                         f"{query.shape}, {key.shape}, {value.shape}")
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{name}: explicit attn_mask should not be set when is_causal=True")
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        scores = scores + _causal(L, S, scores.dtype, scores.device)
    if attn_mask is not None:
        m = _additive(attn_mask, scores.dtype, False, name, "attn_mask")
        try:
            np.broadcast_shapes(m.shape, scores.shape)
        except ValueError:
            raise ValueError(f"{name}: attn_mask of shape {m.shape} does not broadcast against the "
                             f"attention scores {scores.shape}") from None
        scores = scores + m
    weights = scores.softmax(-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


class MultiheadAttention(Module):
    """MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
    add_zero_attn=False, kdim=None, vdim=None, batch_first=False).

    Inputs are (L, N, E) (or (N, L, E) with batch_first, or unbatched (L, E)); forward returns
    (output, weights): weights (N, L, S) averaged over heads, (N, H, L, S) with
    average_attn_weights=False, or None with need_weights=False."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got "
                             f"{embed_dim} and {num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        E = embed_dim
        if self._qkv_same_embed_dim:   # one packed (3E, E) projection, as torch
            self.in_proj_weight = init.parameter(3 * E, E)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = init.parameter(E, E)
            self.k_proj_weight = init.parameter(E, self.kdim)
            self.v_proj_weight = init.parameter(E, self.vdim)
        if bias:
            self.in_proj_bias = init.zeros_(init.parameter(3 * E))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias)
        self._reset_parameters()

    def _reset_parameters(self):
        """torch's: xavier-uniform projections, zero biases (out_proj keeps Linear's weight init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self):
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            W = self.in_proj_weight
            ws = (W[:E], W[E:2 * E], W[2 * E:])
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        bs = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        return ws, bs

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        name = "MultiheadAttention"
        for what, t, d in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {what} must be a Tensor, got {type(t).__name__}")
            if t.ndim not in (2, 3) or t.shape[-1] != d:
                raise ValueError(f"{name}: expected {what} (L, N, {d}), (N, L, {d}) with batch_first, or "
                                 f"unbatched (L, {d}), got shape {t.shape}")
        if not query.ndim == key.ndim == value.ndim:
            raise ValueError(f"{name}: query, key and value must all be batched or all unbatched, got "
                             f"{query.shape}, {key.shape}, {value.shape}")
        if is_causal and attn_mask is None:
            raise RuntimeError(f"{name}: need attn_mask if specifying the is_causal hint")
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:   # work in (L, N, E), torch's native layout
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        L, N, E = query.shape
        S = key.shape[0]
        if key.shape[:2] != value.shape[:2] or key.shape[1] != N:
            raise ValueError(f"{name}: key and value must have the same length and batch as the query, "
                             f"got query {query.shape}, key {key.shape}, value {value.shape} (as (L, N, E))")
        H, hd = self.num_heads, self.head_dim
        (wq, wk, wv), (bq, bk, bv) = self._projections()

        def heads(x, w, b):   # (T, N, E_in) -> (N, H, T, hd)
            return linear(x, w, b, _name=name).reshape(x.shape[0], N, H, hd).permute(1, 2, 0, 3)

        q, k, v = heads(query, wq, bq), heads(key, wk, bk), heads(value, wv, bv)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))        # (N, H, L, S)
        if attn_mask is not None:
            m = _additive(attn_mask, scores.dtype, True, name, "attn_mask")
            if m.shape == (L, S):
                scores = scores + m
            elif m.shape == (N * H, L, S):
                scores = scores + m.reshape(N, H, L, S)
            else:
                raise ValueError(f"{name}: attn_mask must have shape ({L}, {S}) or ({N * H}, {L}, {S}), "
                                 f"got {m.shape}")
        if key_padding_mask is not None:
            m = _additive(key_padding_mask, scores.dtype, True, name, "key_padding_mask")
            if m.shape != (N, S):
                raise ValueError(f"{name}: key_padding_mask must have shape ({N}, {S}) (batch, key length), "
                                 f"got {m.shape}")
            scores = scores + m.reshape(N, 1, 1, S)
        weights = scores.softmax(-1)
        if self.dropout > 0.0:
            weights = dropout(weights, self.dropout, self.training)
        out = (weights @ v).permute(2, 0, 1, 3).reshape(L, N, E)          # heads side by side again
        out = self.out_proj(out)
        if unbatched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        if unbatched:
            weights = weights.squeeze(0)
        return out, weights

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
