"""The composed (fused=False) path of nn.RNN / nn.LSTM, a little faster: the same cell
equations as rnn_cells, stepped over a sequence with the work that does not depend on the
previous step taken out of the loop.

W·[h_{t-1}, x_t] + b = (W_x x_t + b) + W_h h_{t-1}: the first part is known for every step
before the loop starts, so it is one matmul over the whole sequence (T, B, I) @ (I, G*H) and
one bias add, as the fused kernels do, instead of a matmul, a transpose and two adds per
step; W_h^T is transposed once. A step is then one matmul, one add and the cell's own
equations (`lstm_update`, `rnn_cell`'s nonlinearity). Tested equal to stepping
`lstm_cell` / `rnn_cell` (tests/test_rnn_steps.py).
"""
from .rnn_cells import lstm_update


class InputProjected:
    """step(t, state) -> new state list, for an RNN or a plain LSTM (no peepholes, not coupled)."""

    def __init__(self, mode, x, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh"):
        z = x @ w_ih.T                       # (T, B, G*H): W_x x_t for every t at once
        if b_ih is not None:
            z = z + (b_ih + b_hh)
        self.zx = z.unbind(0)                # one graph node for the T steps (see tensor.Split)
        self.w_hh_t = w_hh.T
        self.mode, self.nonlinearity = mode, nonlinearity

    def __call__(self, t, state):
        z = self.zx[t] + state[0] @ self.w_hh_t          # W·[h_{t-1}, x_t] + b
        if self.mode == "LSTM":
            return list(lstm_update(z, state[1]))
        return [z.tanh() if self.nonlinearity == "tanh" else z.relu()]

    @staticmethod
    def applies(mode, w_ci, w_cf, w_co, coupled):
        """Only the plain cells: peepholes and the coupled gate step lstm_variant_cell."""
        return mode == "RNN" or (mode == "LSTM" and w_ci is None and w_cf is None and w_co is None
                                 and not coupled)
