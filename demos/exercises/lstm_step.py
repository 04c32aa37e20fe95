"""Exercise: the backward of one LSTM step (backpropagation through one time step).

    python -m demos exercises lstm_step
"""
import tinygrad_seq as tg


class LSTMStep(tg.Function):
    """One step of torch.nn.LSTMCell, gate rows in PyTorch's order i, f, g, o:

        z   = x W_ih^T + b_ih + h W_hh^T + b_hh          (B, 4H), split into z_i, z_f, z_g, z_o
        i   = σ(z_i)   f = σ(z_f)   g = tanh(z_g)   o = σ(z_o)
        c'  = f * c + i * g                              (C_t = f_t*C_{t-1} + i_t*C~_t)
        h'  = o * tanh(c')

    Inputs x (B, I), h (B, H), c (B, H), w_ih (4H, I), w_hh (4H, H), b_ih, b_hh (4H,).
    Output: h' and c' stacked, shape (2, B, H): out[0] = h', out[1] = c'.
    """

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh):
        xp = ctx.xp
        H = h.shape[1]
        z = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        sig = lambda a: 0.5 * (1 + xp.tanh(0.5 * a))   # noqa: E731  σ without overflow
        i, f = sig(z[:, :H]), sig(z[:, H:2 * H])
        g, o = xp.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
        c_new = f * c + i * g
        tc = xp.tanh(c_new)
        h_new = o * tc
        ctx.save_for_backward(x, h, c, w_ih, w_hh, i, f, g, o, tc)
        return xp.stack([h_new, c_new])

    @staticmethod
    def backward(ctx, grad):
        """Return the 7 gradients (dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh).

        grad[0] = dL/dh', grad[1] = dL/dc' (from the next step, or the loss).
        Go backwards through the forward, one line per equation:
          1. h' = o*tanh(c'): do = dh'*tanh(c'); and c' gets a second gradient,
             dc'_total = dc' + dh'*o*(1 - tanh²(c')).
          2. c' = f*c + i*g: df = dc'_total*c, dc = dc'_total*f, di = dc'_total*g, dg = dc'_total*i.
          3. through the gate nonlinearities: dz_i = di*i(1-i), dz_f = df*f(1-f),
             dz_g = dg*(1-g²), dz_o = do*o(1-o); concatenate to dz (B, 4H) in i, f, g, o order.
          4. z = x W_ih^T + h W_hh^T + b: dx = dz W_ih, dh = dz W_hh,
             dW_ih = dz^T x, dW_hh = dz^T h, db_ih = db_hh = Σ_batch dz.
        `x, h, c, w_ih, w_hh, i, f, g, o, tc = ctx.saved_tensors` (tc = tanh(c')).
        """
        raise NotImplementedError("write LSTMStep.backward")
