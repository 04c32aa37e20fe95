"""Recurrent cells, written like the slides: one line of autograd ops per equation.

These are the readable reference path. `nn.RNN` / `nn.LSTM` / `nn.GRU` step the
same functions (`rnn_cell`, `lstm_cell`, `gru_cell`) when `fused=False`, and the
fused sequence kernels in `rnn_fused.py` are tested equal to them.

Parameters have PyTorch's names, shapes and gate order, so weights move between
the two: `weight_ih` (G*H, I), `weight_hh` (G*H, H), `bias_ih`, `bias_hh` (G*H,)
with gate rows stacked as RNN: one block, LSTM: i, f, g, o, GRU: r, z, n.
W·[h_{t-1}, x_t] + b of the slides is `x_t @ W_ih^T + h_{t-1} @ W_hh^T + b_ih + b_hh`.
`lstm_cell` is the plain LSTM; `lstm_variant_cell` adds the slides' peepholes and coupled
gate. The GRU comes in PyTorch's form and, with reset_after=False, the slides' (see
`gru_cell`); `lstm_gates` / `gru_gates` (and the cells' `.gates`) return every intermediate
of a step.
"""
import math

from .. import backend
from ..tensor import Tensor
from . import init
from .module import Module

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _affine(x, h, w_ih, w_hh, b_ih, b_hh):
    """W·[h_{t-1}, x_t] + b for every gate at once: (B, G*H), gate blocks in PyTorch's order."""
    z = x @ w_ih.T + h @ w_hh.T
    if b_ih is not None:
        z = z + (b_ih + b_hh)
    return z


def rnn_cell(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """Elman RNN step:  h_t = tanh(W_x x_t + W_h h_{t-1} + b_h)  (or relu)."""
    z = _affine(x, h_prev, w_ih, w_hh, b_ih, b_hh)
    return z.tanh() if nonlinearity == "tanh" else z.relu()


def lstm_cell(x, state, w_ih, w_hh, b_ih=None, b_hh=None, w_ci=None, w_cf=None, w_co=None, coupled=False,
              gates=False):
    """LSTM step (Hochreiter & Schmidhuber 1997, with a forget gate), state = (h_{t-1}, C_{t-1}):
    the six equations of the slides, one line each. Returns (h_t, C_t), or with gates=True
    every intermediate (i_t, f_t, C~_t, C_t, o_t, h_t), each (B, H).

    Gate rows are PyTorch's i, f, g(=C~), o. Peephole weights (w_ci, w_cf, w_co) or
    coupled=True select the variants of `lstm_variant_cell`.
    """
    if coupled or w_ci is not None or w_cf is not None or w_co is not None:
        return lstm_variant_cell(x, state, w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co, coupled, gates)
    h_prev, c_prev = state
    return lstm_update(_affine(x, h_prev, w_ih, w_hh, b_ih, b_hh), c_prev, gates)


def lstm_update(z, c_prev, gates=False):
    """lstm_cell from z = W·[h_{t-1}, x_t] + b, the pre-activations of the four gates (B, 4H).
    (The x_t part of z does not depend on the previous step: a layer computes it for all steps
    in one matmul before stepping, see rnn_steps.)"""
    z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
    i = z_i.sigmoid()                # i_t  = σ(W_i·[h_{t-1}, x_t] + b_i)
    f = z_f.sigmoid()                # f_t  = σ(W_f·[h_{t-1}, x_t] + b_f)
    g = z_g.tanh()                   # C~_t = tanh(W_C·[h_{t-1}, x_t] + b_C)
    c = f * c_prev + i * g           # C_t  = f_t*C_{t-1} + i_t*C~_t
    o = z_o.sigmoid()                # o_t  = σ(W_o·[h_{t-1}, x_t] + b_o)
    h = o * c.tanh()                 # h_t  = o_t*tanh(C_t)
    return (i, f, g, c, o, h) if gates else (h, c)


def lstm_variant_cell(x, state, w_ih, w_hh, b_ih=None, b_hh=None, w_ci=None, w_cf=None, w_co=None,
                      coupled=False, gates=False):
    """The slides' LSTM variants: lstm_cell's six equations with two additions.

    Peepholes (Gers & Schmidhuber 2000), diagonal weights P (H,) that let the gates see the
    cell state:  i_t = σ(... + P_i∘C_{t-1}),  f_t = σ(... + P_f∘C_{t-1}),  o_t = σ(... + P_o∘C_t).
    Coupled input and forget gates:  i_t = 1 - f_t, so the weights have no input-gate rows
    (gate rows f, g, o).
    """
    h_prev, c_prev = state
    z = _affine(x, h_prev, w_ih, w_hh, b_ih, b_hh)
    if coupled:
        z_f, z_g, z_o = z.chunk(3, dim=1)
    else:
        z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
    if w_cf is not None:
        z_f = z_f + w_cf * c_prev                    # peephole: f_t sees C_{t-1}
    f = z_f.sigmoid()
    if coupled:
        i = 1 - f                                    # coupled: i_t = 1 - f_t
    else:
        if w_ci is not None:
            z_i = z_i + w_ci * c_prev                # peephole: i_t sees C_{t-1}
        i = z_i.sigmoid()
    g = z_g.tanh()
    c = f * c_prev + i * g
    if w_co is not None:
        z_o = z_o + w_co * c                         # peephole: o_t sees C_t
    o = z_o.sigmoid()
    h = o * c.tanh()
    return (i, f, g, c, o, h) if gates else (h, c)


def lstm_gates(x, state, w_ih, w_hh, b_ih=None, b_hh=None, w_ci=None, w_cf=None, w_co=None, coupled=False):
    """`lstm_cell` with every intermediate kept: (i_t, f_t, C~_t, C_t, o_t, h_t), each (B, H)
    (what a picture of the gates needs; a coupled cell's i_t is 1 - f_t)."""
    return lstm_cell(x, state, w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co, coupled, gates=True)


def gru_cell(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None, reset_after=True):
    """GRU step (Cho et al. 2014). reset_after=True (default) is PyTorch's form:

        r_t  = σ(W_r·[h_{t-1}, x_t] + b_r)
        z_t  = σ(W_z·[h_{t-1}, x_t] + b_z)
        h~_t = tanh(W_hx x_t + b_hx + r_t*(W_hh h_{t-1} + b_hh))
        h_t  = (1 - z_t)*h~_t + z_t*h_{t-1}

    r_t multiplies W_hh h_{t-1} + b_hh (after the matmul), so the x and h parts of the
    candidate stay separate, and z_t is the share of the OLD state that is kept.

    reset_after=False is the slides' form (Keras's reset_after=False), the same parameters:

        r_t  = σ(W_r·[h_{t-1}, x_t] + b_r)
        z_t  = σ(W_z·[h_{t-1}, x_t] + b_z)
        h~_t = tanh(W_hh (r_t*h_{t-1}) + W_hx x_t + b)          r_t before the matmul
        h_t  = (1 - z_t)*h_{t-1} + z_t*h~_t

    Here z_t (σ of the same z rows) is the update gate: the share of the NEW content let
    in. The two forms orient z oppositely: since 1 - σ(a) = σ(-a), the slides' z_t with
    z rows W_z, b_z equals 1 - PyTorch's z_t with z rows -W_z, -b_z.
    """
    r, z, n, h = gru_gates(x, h_prev, w_ih, w_hh, b_ih, b_hh, reset_after)
    return h


def gru_gates(x, h_prev, w_ih, w_hh, b_ih=None, b_hh=None, reset_after=True):
    """`gru_cell` with every intermediate kept: (r_t, z_t, h~_t, h_t), each (B, H)."""
    gx = x @ w_ih.T
    if b_ih is not None:
        gx = gx + b_ih
    x_r, x_z, x_n = gx.chunk(3, dim=1)
    if reset_after:
        gh = h_prev @ w_hh.T
        if b_hh is not None:
            gh = gh + b_hh
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = (x_r + h_r).sigmoid()                                # r_t = σ(W_r·[h_{t-1}, x_t] + b_r)
        z = (x_z + h_z).sigmoid()                                # z_t = σ(W_z·[h_{t-1}, x_t] + b_z)
        n = (x_n + r * h_n).tanh()                               # h~_t = tanh(W x_t + r_t*(W h_{t-1} + b))
        return r, z, n, (1 - z) * n + z * h_prev                 # h_t = (1 - z_t)*h~_t + z_t*h_{t-1}
    # the slides' form: the n rows of W_hh multiply r_t*h_{t-1}, so r_t comes first
    w_hr, w_hz, w_hn = w_hh.chunk(3, dim=0)
    h_r, h_z = h_prev @ w_hr.T, h_prev @ w_hz.T
    if b_hh is not None:
        b_hr, b_hz, b_hn = b_hh.chunk(3, dim=0)
        h_r, h_z, x_n = h_r + b_hr, h_z + b_hz, x_n + b_hn
    r = (x_r + h_r).sigmoid()                                    # r_t = σ(W_r·[h_{t-1}, x_t] + b_r)
    z = (x_z + h_z).sigmoid()                                    # z_t = σ(W_z·[h_{t-1}, x_t] + b_z)
    n = (x_n + (r * h_prev) @ w_hn.T).tanh()                     # h~_t = tanh(W·[r_t*h_{t-1}, x_t] + b)
    return r, z, n, (1 - z) * h_prev + z * n                     # h_t = (1 - z_t)*h_{t-1} + z_t*h~_t


# ---------------------------------------------------------------- checks shared with the sequence layers
def check_input(layer, x, input_size, weight):
    """Clear errors for the usual mistakes: wrong feature size, dtype or device."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__}")
    if x.shape[-1] != input_size:
        raise ValueError(f"{layer}: input has {x.shape[-1]} features (last dim of shape {x.shape}), "
                         f"expected input_size={input_size}")
    if x.dtype != weight.dtype:
        raise TypeError(f"{layer}: input dtype {x.dtype} does not match the weights' dtype {weight.dtype} "
                        "(use .double()/.float() on the module or the input)")
    if x.device != weight.device:
        raise RuntimeError(f"{layer}: input is on {x.device} but the weights are on {weight.device}")


def check_state(layer, name, h, shape, dtype):
    if not isinstance(h, Tensor):
        raise TypeError(f"{layer}: {name} must be a Tensor, got {type(h).__name__}")
    if h.shape != tuple(shape):
        raise ValueError(f"{layer}: expected {name} of shape {tuple(shape)}, got {h.shape}")
    if h.dtype != dtype:
        raise TypeError(f"{layer}: {name} dtype {h.dtype} does not match the input's dtype {dtype}")


# ---------------------------------------------------------------- cell modules
class _CellBase(Module):
    mode = "RNN"

    def __init__(self, input_size, hidden_size, bias=True, gates=None):
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"{type(self).__name__}: input_size and hidden_size must be positive, "
                             f"got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        G = (gates or _GATES[self.mode]) * hidden_size
        self.weight_ih = init.parameter(G, input_size)
        self.weight_hh = init.parameter(G, hidden_size)
        if bias:
            self.bias_ih = init.parameter(G)
            self.bias_hh = init.parameter(G)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self):
        """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, like torch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, x, hx, n_states):
        """Batch an unbatched input and build zero states; returns (x, states, unbatched)."""
        name = type(self).__name__
        check_input(name, x, self.input_size, self.weight_ih)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {x.shape}")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        B, H = x.shape[0], self.hidden_size
        if hx is None:
            xp = backend.xp(x.device)
            states = [Tensor._wrap(xp.zeros((B, H), dtype=x.dtype), x.device) for _ in range(n_states)]
        else:
            hs = list(hx) if n_states == 2 else [hx]
            if len(hs) != n_states:
                raise ValueError(f"{name}: expected the state as (h, c), got {len(hs)} tensors")
            states = []
            for k, h in enumerate(hs):
                state_name = ("h", "c")[k] if n_states == 2 else "hx"
                if unbatched and isinstance(h, Tensor) and h.ndim == 1:
                    h = h.unsqueeze(0)
                check_state(name, state_name, h, (B, H), x.dtype)
                states.append(h)
        return x, states, unbatched

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(_CellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu): `cell(x, h=None) -> h'`."""
    mode = "RNN"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}, expected 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, hx, 1)
        h = rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
        return h.squeeze(0) if unbatched else h

    def extra_repr(self):
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")


class LSTMCell(_CellBase):
    """One LSTM step: `cell(x, (h, c)=None) -> (h', c')`; see `lstm_cell` for the equations.

    peephole=True adds Gers & Schmidhuber's (2000) diagonal peepholes `weight_ci`,
    `weight_cf` (gates i, f see C_{t-1}) and `weight_co` (o sees C_t), each (H,).
    coupled=True ties the input gate to the forget gate, C_t = f_t*C_{t-1} + (1-f_t)*C~_t;
    the cell then has no input-gate rows: weights are (3H, ·) with gate rows f, g, o
    (no dead parameters), and no `weight_ci`. Without either option the cell is exactly
    torch.nn.LSTMCell.
    """
    mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, peephole=False, coupled=False):
        super().__init__(input_size, hidden_size, bias, gates=3 if coupled else 4)
        self.peephole, self.coupled = bool(peephole), bool(coupled)
        if peephole:
            if not coupled:
                self.weight_ci = init.parameter(hidden_size)
            self.weight_cf = init.parameter(hidden_size)
            self.weight_co = init.parameter(hidden_size)
        self.reset_parameters()

    def peepholes(self):
        """(w_ci, w_cf, w_co), None where absent."""
        get = self._parameters.get
        return get("weight_ci"), get("weight_cf"), get("weight_co")

    def gates(self, input, hx=None):
        """(i_t, f_t, C~_t, C_t, o_t, h_t) for a batch (B, I) of inputs: the gate values of one
        step (a coupled cell's i_t is 1 - f_t)."""
        x, (h, c), _ = self._prepare(input, hx, 2)
        return lstm_gates(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                          *self.peepholes(), coupled=self.coupled)

    def forward(self, input, hx=None):
        x, (h, c), unbatched = self._prepare(input, hx, 2)
        h, c = lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                         *self.peepholes(), coupled=self.coupled)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def extra_repr(self):
        s = super().extra_repr()
        s += ", peephole=True" if self.peephole else ""
        return s + (", coupled=True" if self.coupled else "")


class GRUCell(_CellBase):
    """One GRU step: `cell(x, h=None) -> h'`; see `gru_cell` for the equations.

    reset_after=True (default) is torch.nn.GRUCell; reset_after=False is the slides' form
    (reset gate before W_hh, and z_t weighting the new content), with the same parameters.
    """
    mode = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, reset_after=True):
        super().__init__(input_size, hidden_size, bias)
        self.reset_after = bool(reset_after)
        self.reset_parameters()

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, hx, 1)
        h = gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.reset_after)
        return h.squeeze(0) if unbatched else h

    def gates(self, input, hx=None):
        """(r_t, z_t, h~_t, h_t) for a batch (B, I) of inputs: the gate values of one step."""
        x, (h,), _ = self._prepare(input, hx, 1)
        return gru_gates(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.reset_after)

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")
