"""Exercise: the backward of a 1-D convolution over word vectors (the text CNN's filter).

    python -m demos exercises conv1d
"""
import tinygrad_seq as tg


class Conv1d(tg.Function):
    """y[n, o, t] = b[o] + Σ_c Σ_j w[o, c, j] · x[n, c, t + j]

    x (N, C, L): a batch of sentences, C = word-vector size, L = words; w (O, C, k):
    O filters over windows of k words (the same weights at every position: shared
    weights); b (O,). No padding, stride 1: t = 0 .. L - k, so y is (N, O, L - k + 1).
    """

    @staticmethod
    def forward(ctx, x, w, b):
        xp = ctx.xp
        k = w.shape[2]
        T = x.shape[2] - k + 1
        y = xp.zeros((x.shape[0], w.shape[0], T), dtype=x.dtype)
        for j in range(k):   # kernel offset j reads words t + j for every output position t
            y += xp.einsum("nct,oc->not", x[:, :, j:j + T], w[:, :, j])
        ctx.save_for_backward(x, w)
        return y + b[None, :, None]

    @staticmethod
    def backward(ctx, grad):
        """Return (dL/dx, dL/dw, dL/db), given grad = dL/dy of shape (N, O, T).

        Follow the forward loop over kernel offsets j: offset j multiplied the slice
        x[:, :, j:j+T] by w[:, :, j], so
          dL/dw[:, :, j]       = Σ_n Σ_t grad[n, :, t] x[n, :, t + j]    (an einsum)
          dL/dx[:, :, j:j+T]  += Σ_o w[o, :, j] grad[:, o, t]           (accumulate: windows overlap)
          dL/db[o]             = Σ_n Σ_t grad[n, o, t]
        `x, w = ctx.saved_tensors`; `ctx.xp` is NumPy (or CuPy).
        """
        raise NotImplementedError("write Conv1d.backward")
