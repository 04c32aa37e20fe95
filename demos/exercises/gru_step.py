"""Exercise: the backward of one GRU step.

    python -m demos exercises gru_step
"""
import tinygrad_seq as tg


class GRUStep(tg.Function):
    """One step of torch.nn.GRUCell, gate rows in PyTorch's order r, z, n:

        a = x W_ih^T + b_ih      b = h W_hh^T + b_hh     (B, 3H) each, split into r, z, n parts
        r  = σ(a_r + b_r)        z = σ(a_z + b_z)
        n  = tanh(a_n + r * b_n)                        (the candidate h~_t)
        h' = (1 - z) * n + z * h

    Inputs x (B, I), h (B, H), w_ih (3H, I), w_hh (3H, H), b_ih, b_hh (3H,). Output h' (B, H).
    """

    @staticmethod
    def forward(ctx, x, h, w_ih, w_hh, b_ih, b_hh):
        xp = ctx.xp
        H = h.shape[1]
        a = x @ w_ih.T + b_ih
        b = h @ w_hh.T + b_hh
        sig = lambda v: 0.5 * (1 + xp.tanh(0.5 * v))   # noqa: E731  σ without overflow
        r = sig(a[:, :H] + b[:, :H])
        z = sig(a[:, H:2 * H] + b[:, H:2 * H])
        n = xp.tanh(a[:, 2 * H:] + r * b[:, 2 * H:])
        ctx.save_for_backward(x, h, w_ih, w_hh, r, z, n, b[:, 2 * H:])
        return (1 - z) * n + z * h

    @staticmethod
    def backward(ctx, grad):
        """Return the 6 gradients (dx, dh, dw_ih, dw_hh, db_ih, db_hh), grad = dL/dh' (B, H).

          1. h' = (1-z)*n + z*h: dn = grad*(1-z), dz = grad*(h - n), and h gets grad*z directly.
          2. n = tanh(a_n + r*b_n): d(pre_n) = dn*(1 - n²); then da_n = d(pre_n),
             db_n = d(pre_n)*r, dr = d(pre_n)*b_n.
          3. da_r = db_r = dr*r(1-r); da_z = db_z = dz*z(1-z).
          4. da = [da_r, da_z, da_n], db = [db_r, db_z, db_n] (B, 3H):
             dx = da W_ih, dh += db W_hh, dW_ih = da^T x, dW_hh = db^T h,
             db_ih = Σ_batch da, db_hh = Σ_batch db.
        `x, h, w_ih, w_hh, r, z, n, b_n = ctx.saved_tensors` (b_n = h W_hn^T + b_hn).
        """
        raise NotImplementedError("write GRUStep.backward")
