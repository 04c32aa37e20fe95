"""Pieces the models share: building the recurrent layer by name, and sampling."""
import numpy as np

from .. import backend
from ..nn.rnn import GRU, LSTM, RNN

_CELLS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}


def recurrent_layer(cell, input_size, hidden_size, **kwargs):
    """nn.RNN / nn.LSTM / nn.GRU by name ("LSTM", "gru", ...); kwargs go to the layer."""
    cls = _CELLS.get(str(cell).upper())
    if cls is None:
        raise ValueError(f"unknown cell {cell!r}: expected one of {sorted(_CELLS)}")
    return cls(input_size, hidden_size, **kwargs)


def final_hidden(rnn, state):
    """The last layer's final hidden state (B, H), both directions concatenated (B, 2H)."""
    h_n = state[0] if isinstance(state, tuple) else state
    if rnn.bidirectional:
        from ..factories import cat
        return cat([h_n[-2], h_n[-1]], dim=1)
    return h_n[-1]


def sample(logits, temperature):
    """One id per row of logits (B, V) (a NumPy array): argmax when temperature == 0, else a draw
    from softmax(logits / temperature) with the generator `manual_seed` seeds."""
    logits = np.asarray(logits, dtype=np.float64)
    if temperature < 0:
        raise ValueError(f"sample: temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(axis=-1)
    z = logits / temperature
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    u = backend.rng("cpu").random((p.shape[0], 1))
    # inverse CDF: the first id whose cumulative probability exceeds u
    return np.minimum((p.cumsum(axis=-1) < u).sum(axis=-1), p.shape[-1] - 1)
