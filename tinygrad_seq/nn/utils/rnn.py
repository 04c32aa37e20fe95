"""Variable-length batches (torch.nn.utils.rnn): padding, and packed sequences.

A PackedSequence stores a batch of sequences sorted by decreasing length, time step by
time step: data holds the rows of step 0 for every sequence, then step 1 for the
sequences that are that long, ...; batch_sizes[t] says how many rows step t has.
sorted_indices[j] is the batch position of the j-th longest sequence (None when the
input was already sorted), unsorted_indices its inverse. All of it is torch's layout,
so RNN/LSTM/GRU take a PackedSequence exactly as in torch.

Packing and unpacking are single gathers (a differentiable index into the flattened
batch), so gradients flow back to the padded input."""
from collections import namedtuple

import numpy as np

from ... import backend
from ...factories import stack, cat
from ...tensor import Tensor


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """(data (N, *), batch_sizes (T,) int64 on cpu, sorted_indices, unsorted_indices (B,) int64 or None)."""
    __slots__ = ()

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    @property
    def is_cuda(self):
        return self.data.device != "cpu"

    def to(self, *args, **kwargs):
        """The same packing with `data` moved / cast by Tensor.to (the indices stay on cpu)."""
        return type(self)(self.data.to(*args, **kwargs), self.batch_sizes, self.sorted_indices,
                          self.unsorted_indices)


def _as_int64(v, what):
    if isinstance(v, Tensor):
        v = v.numpy()
    elif backend.is_array(v):
        v = backend.to_numpy(v)
    arr = np.asarray(v)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{what} must be a 1-D list or tensor of integers, got {arr.dtype} of shape {arr.shape}")
    return arr.astype(np.int64)


def _invert_permutation(perm):
    p = _as_int64(perm, "sorted_indices")
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return Tensor(inv)


def _index(arr, device):
    return Tensor._wrap(backend.to_device(arr, device), device)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """A list of (T_i, *) tensors -> one (T_max, B, *) tensor (or (B, T_max, *) with
    batch_first), padded with padding_value after each sequence (padding_side='left':
    before it); differentiable. Pair it with `lengths=[T_i ...]` in the recurrent layers."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    trailing = {tuple(s.shape[1:]) for s in sequences}
    if any(s.ndim == 0 for s in sequences) or len(trailing) != 1:
        raise ValueError(f"pad_sequence: the sequences must share their trailing dims, got shapes "
                         f"{[tuple(s.shape) for s in sequences]}")
    T = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        gap = T - s.shape[0]
        widths = [0, 0] * (s.ndim - 1) + ([0, gap] if padding_side == "right" else [gap, 0])
        padded.append(s.pad(widths, padding_value) if gap else s)
    return stack(padded, dim=0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The inverse of pad_sequence: a list of the B sequences, each cut to its length."""
    lens = _as_int64(lengths, "unpad_sequence: lengths")
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(lens)]


def _pack(x, batch_sizes, sorted_indices):
    """Rows of the time-major (T, B, *) x in packed order: for each step t, the first
    batch_sizes[t] sequences of the sorted order."""
    T, B = x.shape[0], x.shape[1]
    order = np.arange(B) if sorted_indices is None else _as_int64(sorted_indices, "sorted_indices")
    flat = np.concatenate([t * B + order[:n] for t, n in enumerate(batch_sizes)])
    return x.reshape(T * B, *x.shape[2:])[_index(flat, x.device)]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *)) whose sequence b has length lengths[b].
    enforce_sorted=True needs lengths in decreasing order; otherwise the batch is sorted
    (stably) and the permutation kept in sorted_indices."""
    lens = _as_int64(lengths, "pack_padded_sequence: lengths")
    x = input.transpose(0, 1) if batch_first else input
    if x.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected a padded batch of at least 2 dims, got {input.shape}")
    T, B = x.shape[0], x.shape[1]
    if lens.size != B:
        raise RuntimeError(f"pack_padded_sequence: expected len(lengths) to be equal to batch_size, but got "
                         f"{lens.size} (batch_size={B})")
    if B == 0 or lens.min() <= 0:
        raise RuntimeError("pack_padded_sequence: every length must be greater than 0, got "
                           f"{lens.tolist()}")
    if lens.max() > T:
        raise RuntimeError(f"pack_padded_sequence: a length ({lens.max()}) exceeds the padded length ({T})")
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError("pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True; pass enforce_sorted=False to sort the batch, got "
                               f"{lens.tolist()}")
        sorted_indices = None
        sorted_lens = lens
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_indices, sorted_lens = Tensor(order), lens[order]
    batch_sizes = (sorted_lens[None, :] > np.arange(sorted_lens[0])[:, None]).sum(axis=1).astype(np.int64)
    data = _pack(x, batch_sizes, sorted_indices)
    return PackedSequence(data, Tensor(batch_sizes), sorted_indices)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (T_i, *) tensors (pad_sequence, then pack_padded_sequence)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths int64),
    in the batch's original order; T is the longest length, or total_length."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data = sequence.data
    batch_sizes = _as_int64(sequence.batch_sizes, "batch_sizes")
    T_max, B = batch_sizes.size, int(batch_sizes[0])
    T = T_max
    if total_length is not None:
        if total_length < T_max:
            raise ValueError("pad_packed_sequence: expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max sequence length "
                             f"being {T_max}")
        T = int(total_length)
    unsorted = (np.arange(B) if sequence.unsorted_indices is None
                else _as_int64(sequence.unsorted_indices, "unsorted_indices"))
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    N = data.shape[0]
    pos = unsorted[None, :]                       # where each original sequence sits in sorted order
    sizes = np.concatenate([batch_sizes, np.zeros(T - T_max, np.int64)])[:, None]
    offs = np.concatenate([offsets, np.zeros(T - T_max, np.int64)])[:, None]
    flat = np.where(pos < sizes, offs + pos, N).reshape(-1)   # row N: the padding row
    xp = backend.xp(data.device)
    pad_row = Tensor._wrap(xp.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype), data.device)
    padded = cat([data, pad_row], dim=0)[_index(flat, data.device)].reshape(T, B, *data.shape[1:])
    sorted_lens = (batch_sizes[None, :] > np.arange(B)[:, None]).sum(axis=1)
    lengths = Tensor(sorted_lens[unsorted].astype(np.int64))
    return (padded.transpose(0, 1) if batch_first else padded), lengths


def unpack_sequence(packed_sequences):
    """The inverse of pack_sequence: the list of sequences, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
