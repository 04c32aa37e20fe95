"""nn.RNN, nn.LSTM, nn.GRU: PyTorch's constructor, parameters and call contract.

    lstm = nn.LSTM(input_size=5, hidden_size=2)           # repr: LSTM(5, 2)
    output, (h_n, c_n) = lstm(x)                           # x: (T, B, 5) -> output (T, B, 2)
    output, (h_n, c_n) = lstm(x, (h0, c0), lengths=[7, 3]) # variable-length batch

Parameters per layer k and direction (suffix `_reverse`): weight_ih_l{k} (G*H, I_k),
weight_hh_l{k} (G*H, H), bias_ih_l{k}, bias_hh_l{k} (G*H,), in torch's order, so a
torch state_dict (converted to NumPy) loads with `load_state_dict` and gives the same
outputs and gradients. LSTM also takes the slides' variants: peephole=True adds
weight_ci/cf/co_l{k} (H,), coupled=True drops the input gate (weights (3H, ·), rows f, g, o).
GRU takes reset_after=False, the slides' GRU (rnn_cells.gru_cell), same parameter shapes;
it runs on the composed path (fused= is ignored for it).

Two paths, one semantics:
  fused=True (default)  one autograd Function per layer-direction for the whole sequence
                        (rnn_fused.py): fast, and what training uses;
  fused=False           the cells of rnn_cells.py stepped in Python: the readable reference,
                        and the path that can record dL/dh_t (record_hidden_grads=True).

`lengths=` (list / array / int tensor, one per batch element, 1 <= length <= T) does what
torch's packed sequences do: padded steps leave the state unchanged and get no gradient,
h_n is each sequence's state at its last valid step, the reverse direction starts at
each sequence's last valid step, and output is zero at padded positions (like
pad_packed_sequence).
"""
import math

import numpy as np

from .. import backend
from ..autograd import collector_paused
from ..factories import stack, cat
from ..tensor import Tensor, where
from . import init
from .dropout import dropout as _dropout
from .module import Module
from .rnn_cells import _GATES, check_input, check_state, gru_cell, lstm_cell, rnn_cell
from .rnn_fused import GRUSequence, LSTMSequence, RNNSequence
from .rnn_steps import InputProjected
from .tbptt import hidden_grad_norms
from .utils.rnn import PackedSequence, pad_packed_sequence, pad_sequence, _pack  # noqa: F401 (pad_sequence)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, argument checks, the layer/direction loop."""
    mode = "RNN"
    fused = True   # class-wide default; the constructor's `fused=` overrides it per layer

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, nonlinearity="tanh", peephole=False, coupled=False,
                 fused=None, record_hidden_grads=False, reset_after=True):
        super().__init__()
        name = type(self).__name__
        if int(input_size) <= 0 or int(hidden_size) <= 0:
            raise ValueError(f"{name}: input_size and hidden_size must be positive, got {input_size}, {hidden_size}")
        if int(num_layers) < 1 or int(num_layers) != num_layers:
            raise ValueError(f"{name}: num_layers must be an integer >= 1, got {num_layers}")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout <= 1):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{name}: unknown nonlinearity {nonlinearity!r}, expected 'tanh' or 'relu'")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.nonlinearity = bool(bidirectional), nonlinearity
        self.peephole, self.coupled = bool(peephole), bool(coupled)
        self.reset_after = bool(reset_after)
        if fused is not None:
            self.fused = bool(fused)
        self.record_hidden_grads = bool(record_hidden_grads)
        self.recorded_hidden = {}   # (layer, direction) -> [h_t for t in time order], when recording
        G = (3 if self.coupled else _GATES[self.mode]) * self.hidden_size
        H, D = self.hidden_size, self.num_directions
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else H * D
            for direction in range(D):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                setattr(self, "weight_ih" + sfx, init.parameter(G, in_size))
                setattr(self, "weight_hh" + sfx, init.parameter(G, H))
                if self.bias:
                    setattr(self, "bias_ih" + sfx, init.parameter(G))
                    setattr(self, "bias_hh" + sfx, init.parameter(G))
                if self.peephole:
                    if not self.coupled:
                        setattr(self, "weight_ci" + sfx, init.parameter(H))
                    setattr(self, "weight_cf" + sfx, init.parameter(H))
                    setattr(self, "weight_co" + sfx, init.parameter(H))
        self.reset_parameters()

    num_directions = property(lambda self: 2 if self.bidirectional else 1)

    def reset_parameters(self):
        """Every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), like torch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self):
        """torch API compatibility (cuDNN weight packing): nothing to do here."""

    def layer_weights(self, layer, direction):
        """(w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co) of one layer-direction, None where absent."""
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        get = self._parameters.get
        return tuple(get(n + sfx) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                            "weight_ci", "weight_cf", "weight_co"))

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        if self.peephole:
            s += ", peephole=True"
        if self.coupled:
            s += ", coupled=True"
        if not self.reset_after:
            s += ", reset_after=False"
        return s

    # ------------------------------------------------------------ argument handling
    def _check_args(self, input, hx, lengths):
        name = type(self).__name__
        check_input(name, input, self.input_size, self.weight_ih_l0)
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input of shape (T, B, {self.input_size}) "
                             f"({'batch_first: (B, T, ·)' if self.batch_first else 'or (B, T, ·) with batch_first'})"
                             f" or unbatched (T, {self.input_size}), got {input.shape}")
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        T, B = x.shape[0], x.shape[1]
        if T == 0:
            raise ValueError(f"{name}: got an empty sequence (input of shape {input.shape})")
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        n_states = 2 if self.mode == "LSTM" else 1
        states = [None] * n_states
        if hx is not None:
            given = list(hx) if n_states == 2 else [hx]
            if len(given) != n_states:
                raise ValueError(f"{name}: expected the initial state as (h_0, c_0), got {len(given)} tensors")
            for k, h in enumerate(given):
                sname = ("h_0", "c_0")[k] if n_states == 2 else "h_0"
                if unbatched and isinstance(h, Tensor) and h.ndim == 2:
                    h = h.unsqueeze(1)
                check_state(name, sname, h, (LD, B, H), x.dtype)
                if h.device != x.device:
                    raise RuntimeError(f"{name}: {sname} is on {h.device} but the input is on {x.device}")
                states[k] = h
        mask = None
        if lengths is not None:
            if isinstance(lengths, Tensor):
                lengths = lengths.numpy()
            lens = np.asarray(backend.to_numpy(lengths) if backend.is_array(lengths) else lengths)
            if lens.size == 0 and lens.ndim == 1:   # an empty batch: [] reads as float64
                lens = lens.astype(np.int64)
            if lens.ndim != 1 or lens.shape[0] != B or lens.dtype.kind not in "iu":
                raise ValueError(f"{name}: lengths must be {B} integers (one per batch element), "
                                 f"got {lens.dtype} array of shape {lens.shape}")
            if lens.size and (lens.min() < 1 or lens.max() > T):
                raise ValueError(f"{name}: lengths must lie in [1, {T}] (the padded length), "
                                 f"got min {lens.min()} and max {lens.max()}")
            if lens.size and lens.min() < T:   # all full length (or no sequence): nothing to mask
                m = np.arange(T)[:, None, None] < lens[None, :, None]
                mask = backend.to_device(m, x.device)
        return x, states, mask, unbatched

    # ------------------------------------------------------------ forward
    def forward(self, input, hx=None, lengths=None):
        """input (T, B, I), (B, T, I) with batch_first, or unbatched (T, I); hx optional
        (num_layers*num_directions, B, H) [and c_0 for LSTM]. Returns output, h_n
        (LSTM: output, (h_n, c_n)) with torch's shapes. A PackedSequence input gives a
        PackedSequence output (same packing); hx and h_n are then in the batch's original order."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, lengths)
        x, states, mask, unbatched = self._check_args(input, hx, lengths)
        D = self.num_directions
        # the slides' GRU (reset_after=False) has no fused kernel: it steps the cells
        fused = self.fused and not self.record_hidden_grads and self.reset_after
        finals = [[] for _ in states]   # per state kind, one (B, H) tensor per layer-direction
        if self.record_hidden_grads:
            self.recorded_hidden = {}
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                init = [None if s is None else s[k] for s in states]
                run = self._run_fused if fused else self._run_composed
                out, last = run(x, init, layer, d, mask)
                outs.append(out)
                for lst, s in zip(finals, last):
                    lst.append(s)
            x = outs[0] if D == 1 else cat(outs, dim=2)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, training=True)   # between layers, not after the last
        output = x
        if mask is not None:   # zero at padded positions, like pad_packed_sequence
            output = output * Tensor._wrap(mask.astype(output.dtype), output.device)
        if self.batch_first and not unbatched:
            output = output.transpose(0, 1)
        h_n = [stack(f, dim=0) for f in finals]
        if unbatched:
            output = output.squeeze(1)
            h_n = [h.squeeze(1) for h in h_n]
        return (output, (h_n[0], h_n[1])) if self.mode == "LSTM" else (output, h_n[0])

    def _forward_packed(self, packed, hx, lengths):
        """torch's packed call, on top of the lengths= path: unpack to a padded batch in the
        original order, run it, pack the output with the input's packing."""
        if lengths is not None:
            raise ValueError(f"{type(self).__name__}: pass lengths= or a PackedSequence, not both")
        padded, lens = pad_packed_sequence(packed, batch_first=self.batch_first)
        output, h = self.forward(padded, hx, lengths=lens)
        data = _pack(output.transpose(0, 1) if self.batch_first else output, packed.batch_sizes.numpy(),
                     packed.sorted_indices)
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), h

    def _run_fused(self, x, init, layer, d, mask):
        """One layer-direction as one Function. Returns (output (T, B, H), [h_n(, c_n)])."""
        w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co = self.layer_weights(layer, d)
        reverse = d == 1
        if self.mode == "LSTM":
            out, *last = LSTMSequence.apply(x, init[0], init[1], w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co,
                                            mask, reverse, self.coupled)
        elif self.mode == "GRU":
            out, *last = GRUSequence.apply(x, init[0], w_ih, w_hh, b_ih, b_hh, mask, reverse)
        else:
            out, *last = RNNSequence.apply(x, init[0], w_ih, w_hh, b_ih, b_hh, mask, reverse, self.nonlinearity)
        return out, last

    def _run_composed(self, x, init, layer, d, mask):
        """One layer-direction by stepping the cell in Python (the reference path)."""
        w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co = self.layer_weights(layer, d)
        T, B = x.shape[0], x.shape[1]
        xp = backend.xp(x.device)
        zeros = lambda: Tensor._wrap(xp.zeros((B, self.hidden_size), dtype=x.dtype), x.device)  # noqa: E731
        state = [s if s is not None else zeros() for s in init]
        outs = [None] * T
        recorded = [None] * T
        # x_1 .. x_T in one split (one graph node), not x[t] per step: each x[t]'s backward
        # would fill a zero array the size of x, O(T^2) for the sequence (see tensor.Split)
        projected = xs = None
        # recording hidden gradients (the pictures of the slides' cells) steps the cells exactly
        # as written; otherwise the input projection is hoisted (same math, other rounding)
        if not self.record_hidden_grads and InputProjected.applies(self.mode, w_ci, w_cf, w_co,
                                                                   self.coupled):
            projected = InputProjected(self.mode, x, w_ih, w_hh, b_ih, b_hh, self.nonlinearity)
        else:
            xs = x.unbind(0)
        # the collector paused for the loop (see autograd.collector_paused): the steps make no
        # reference cycles, but each records about a dozen graph nodes that stay alive until
        # backward, and over a long sequence each full collection would walk that growing
        # graph (and all else the program holds) again
        with collector_paused():
            for t in (range(T - 1, -1, -1) if d == 1 else range(T)):
                if projected is not None:   # the same cell equations, W_x x_t + b computed up front
                    new = projected(t, state)
                elif self.mode == "LSTM":
                    new = list(lstm_cell(xs[t], tuple(state), w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co,
                                         coupled=self.coupled))
                elif self.mode == "GRU":
                    new = [gru_cell(xs[t], state[0], w_ih, w_hh, b_ih, b_hh, self.reset_after)]
                else:
                    new = [rnn_cell(xs[t], state[0], w_ih, w_hh, b_ih, b_hh, self.nonlinearity)]
                if mask is not None:   # padded steps keep the previous state
                    state = [where(mask[t], n, s) for n, s in zip(new, state)]
                else:
                    state = new
                outs[t] = state[0]
                if self.record_hidden_grads:
                    recorded[t] = state[0].retain_grad()
        if self.record_hidden_grads:
            self.recorded_hidden[(layer, d)] = recorded
        return stack(outs, dim=0), state

    def hidden_grad_norms(self, layer=-1, direction=0):
        """||dL/dh_t|| for every time step t of one layer-direction (a NumPy array), after
        a backward through a forward run with record_hidden_grads=True (composed path)."""
        layer = layer % self.num_layers
        hs = self.recorded_hidden.get((layer, direction))
        if not hs:
            raise RuntimeError(f"{type(self).__name__}: no hidden states recorded; construct with "
                               "record_hidden_grads=True (or set the attribute) and run forward and backward")
        return hidden_grad_norms(hs)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (nonlinearity='relu' for relu)."""
    mode = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, fused=None, record_hidden_grads=False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         nonlinearity=nonlinearity, fused=fused, record_hidden_grads=record_hidden_grads)


class LSTM(RNNBase):
    """Long short-term memory; the equations are in rnn_cells.lstm_cell. Returns output, (h_n, c_n)."""
    mode = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, peephole=False, coupled=False, fused=None, record_hidden_grads=False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         peephole=peephole, coupled=coupled, fused=fused,
                         record_hidden_grads=record_hidden_grads)


class GRU(RNNBase):
    """Gated recurrent unit; the equations are in rnn_cells.gru_cell. Returns output, h_n.
    reset_after=True (default) is torch.nn.GRU; reset_after=False is the slides' GRU."""
    mode = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, fused=None, record_hidden_grads=False, reset_after=True):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         fused=fused, record_hidden_grads=record_hidden_grads, reset_after=reset_after)
