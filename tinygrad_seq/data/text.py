"""Text to integer tensors: a tokenizer, character and word vocabularies,
training windows for next-token prediction, and padding of ragged batches."""
import json
import re
from collections import Counter

import numpy as np

from .. import backend
from ..tensor import Tensor

PAD, UNK = "<pad>", "<unk>"
_TOKEN_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text):
    """Lowercase, then split into words (keeping inner apostrophes: "don't") and single
    punctuation marks: tokenize("Hello, world!") == ['hello', ',', 'world', '!']."""
    return _TOKEN_RE.findall(text.lower())


class Vocab:
    """Token <-> id maps. Ids 0 and 1 are the specials '<pad>' and '<unk>' (then any
    extra `specials`), then tokens by decreasing frequency (ties: first seen first).

    min_freq drops rarer tokens; max_size keeps at most that many tokens besides the
    specials. Unknown tokens encode to the '<unk>' id.
    """
    kind = "Vocab"

    def __init__(self, tokens=(), min_freq=1, max_size=None, specials=()):
        if min_freq < 1:
            raise ValueError(f"{self.kind}: min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"{self.kind}: max_size must be >= 0 or None, got {max_size}")
        self.specials = [PAD, UNK] + [s for s in specials if s not in (PAD, UNK)]
        counts = Counter(tokens)
        kept = [t for t, c in sorted(counts.items(), key=lambda tc: -tc[1])  # stable: ties keep first-seen order
                if c >= min_freq and t not in self.specials]
        self._set_itos(self.specials + kept[:max_size])

    def _set_itos(self, itos):
        self.itos = list(itos)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError(f"{self.kind}: duplicate tokens in the vocabulary")

    @classmethod
    def from_itos(cls, itos, specials=(PAD, UNK)):
        """The vocabulary whose id i is itos[i], e.g. one kept as list(vocab.itos) in a
        checkpoint; `specials` (default '<pad>', '<unk>') must be among the tokens."""
        v = cls.__new__(cls)
        v.specials = list(specials)
        v._set_itos(itos)
        missing = [s for s in v.specials if s not in v.stoi]
        if missing:
            raise ValueError(f"{cls.kind}.from_itos: the special tokens {missing} are not in the vocabulary")
        return v

    pad_index = property(lambda self: self.stoi[PAD])
    unk_index = property(lambda self: self.stoi[UNK])

    def __len__(self):
        return len(self.itos)

    def __contains__(self, token):
        return token in self.stoi

    def __getitem__(self, token):
        return self.stoi.get(token, self.unk_index)

    def __repr__(self):
        return f"{self.kind}(size={len(self)}, first={self.itos[:8]})"

    def lookup_indices(self, tokens):
        unk = self.unk_index
        return [self.stoi.get(t, unk) for t in tokens]

    def lookup_tokens(self, ids):
        """The tokens of `ids` (ints, or a list / array / Tensor of them)."""
        ids = _id_list(ids)
        n = len(self.itos)
        for i in ids:
            if not 0 <= i < n:
                raise IndexError(f"{self.kind}.decode: id {i} out of range for a vocabulary of {n} tokens")
        return [self.itos[i] for i in ids]

    # ------------------------------------------------------------ files
    def save(self, path):
        """Write the vocabulary as JSON (atomically)."""
        from ..serialization import atomic_write
        doc = json.dumps({"type": self.kind, "itos": self.itos, "specials": self.specials}, ensure_ascii=False)
        atomic_write(path, lambda f: f.write(doc.encode("utf-8")))

    @classmethod
    def load(cls, path):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            kind, itos, specials = doc["type"], doc["itos"], doc["specials"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{cls.kind}.load: '{path}' is not a saved vocabulary ({type(e).__name__}: {e})") from e
        if kind != cls.kind:
            raise ValueError(f"{cls.kind}.load: '{path}' holds a {kind}, not a {cls.kind}")
        return cls.from_itos(itos, specials)


class CharVocab(Vocab):
    """Characters of a text: CharVocab("hello world").encode("hold") -> list of ids."""
    kind = "CharVocab"

    def __init__(self, text="", min_freq=1, max_size=None, specials=()):
        super().__init__(iter(text), min_freq, max_size, specials)

    def encode(self, text):
        return self.lookup_indices(text)

    def decode(self, ids, skip_specials=False):
        toks = self.lookup_tokens(ids)
        return "".join(t for t in toks if not (skip_specials and t in self.specials))


class WordVocab(Vocab):
    """Words: built from a text (run through `tokenize`) or an iterable of tokens
    (or of token lists, e.g. one per sentence)."""
    kind = "WordVocab"

    def __init__(self, text_or_tokens=(), min_freq=1, max_size=None, specials=()):
        super().__init__(_tokens(text_or_tokens), min_freq, max_size, specials)

    def encode(self, text_or_tokens):
        return self.lookup_indices(tokenize(text_or_tokens) if isinstance(text_or_tokens, str) else text_or_tokens)

    def decode(self, ids, skip_specials=False):
        """The tokens of `ids` joined by spaces."""
        toks = self.lookup_tokens(ids)
        return " ".join(t for t in toks if not (skip_specials and t in self.specials))


def _tokens(src):
    if isinstance(src, str):
        return tokenize(src)
    out = []
    for item in src:
        if isinstance(item, str):
            out.append(item)
        else:
            out.extend(item)  # a sentence given as a token list
    return out


def _host(a):
    """Tensors and CuPy arrays as NumPy arrays (np.asarray refuses CuPy arrays); lists as they are."""
    if isinstance(a, Tensor):
        return a.numpy()
    return backend.to_numpy(a) if backend.is_array(a) else a


def _id_list(ids):
    arr = np.asarray(_host(ids))
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"decode: ids must be integers, got dtype {arr.dtype}")
    return [int(i) for i in arr.reshape(-1)]


# ------------------------------------------------------------------ training windows
def _ids_array(ids, what):
    arr = np.asarray(_host(ids))
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{what}: expected a 1-d sequence of integer ids, got shape {arr.shape} dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _windows(arr, width, stride, what):
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"{what}: stride must be a positive integer, got {stride!r}")
    if len(arr) < width:
        raise ValueError(f"{what}: {len(arr)} ids are too few for one window of {width} ids")
    return np.lib.stride_tricks.sliding_window_view(arr, width)[::stride].copy()


def next_token_windows(ids, window, stride=1):
    """Pairs ([x_s+1 .. x_s+window], x_s+window+1) for s = 0, stride, 2*stride, ...:
    each row of X holds `window` consecutive ids and y the id that follows.
    Returns (X int64 (N, window), y int64 (N,)) Tensors."""
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"next_token_windows: window must be a positive integer, got {window!r}")
    w = _windows(_ids_array(ids, "next_token_windows"), window + 1, stride, "next_token_windows")
    return Tensor(w[:, :-1].copy()), Tensor(w[:, -1].copy())


def sequence_windows(ids, seq_len, stride=None):
    """Language-model chunks: inputs ids[s:s+seq_len] and targets ids[s+1:s+seq_len+1]
    (the same ids shifted by one), for s = 0, stride, ... (stride defaults to seq_len:
    non-overlapping). Returns (inputs, targets) int64 Tensors of shape (N, seq_len)."""
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"sequence_windows: seq_len must be a positive integer, got {seq_len!r}")
    w = _windows(_ids_array(ids, "sequence_windows"), seq_len + 1, seq_len if stride is None else stride,
                 "sequence_windows")
    return Tensor(w[:, :-1].copy()), Tensor(w[:, 1:].copy())


def pad_sequences(seqs, padding_value=0, batch_first=True):
    """Pad variable-length sequences (lists of ids, arrays or Tensors of shape (T, *))
    to the longest: returns (padded, lengths) with padded (B, T_max, *) if batch_first
    else (T_max, B, *), and lengths an int64 Tensor (B,). Integer input gives int64.
    padded is on the first sequence's device; lengths stay on the CPU, where the recurrent
    layers read them (on the GPU, reading them would wait for the device in every forward)."""
    seqs = list(seqs)
    if not seqs:
        raise ValueError("pad_sequences: got no sequences")
    arrays = [_seq_array(s, i) for i, s in enumerate(seqs)]
    tails = {a.shape[1:] for a in arrays}
    if len(tails) != 1:
        raise ValueError(f"pad_sequences: sequences differ beyond the time dim: {sorted(tails)}")
    dtype = np.result_type(*([a for a in arrays if a.size] or arrays))  # an empty [] has no say
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    out = np.full((len(arrays), int(lengths.max())) + arrays[0].shape[1:], padding_value, dtype=dtype)
    for i, a in enumerate(arrays):
        out[i, :len(a)] = a
    if not batch_first:
        out = np.ascontiguousarray(np.swapaxes(out, 0, 1))
    first = seqs[0]
    device = (first.device if isinstance(first, Tensor) else
              backend.device_of(first) if backend.is_array(first) else "cpu")
    return Tensor(out, device=device), Tensor(lengths)


def _seq_array(s, i):
    """One sequence as a NumPy array: integers become int64; Python floats float32 (the
    library default); arrays and Tensors otherwise keep their dtype."""
    if isinstance(s, Tensor) or backend.is_array(s):
        a = _host(s)
    else:
        a = np.asarray(s)
        if a.dtype == np.float64:
            a = a.astype(np.int64 if a.size == 0 else np.float32)  # [] is an empty id list
    if a.ndim == 0:
        raise ValueError(f"pad_sequences: sequence {i} is a scalar, expected shape (T, *)")
    return a.astype(np.int64) if a.dtype.kind in "iu" else a
