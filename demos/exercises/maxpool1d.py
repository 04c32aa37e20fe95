"""Exercise: the backward of 1-D max pooling.

    python -m demos exercises maxpool1d
"""
import tinygrad_seq as tg


class MaxPool1d(tg.Function):
    """y[n, c, t] = max_{j < k} x[n, c, t·stride + j]: windows of kernel_size k, moved by stride.

    x (N, C, L) -> y (N, C, T) with T = (L - k) // stride + 1. With stride < k the
    windows overlap, and one input element can be the maximum of several windows.
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride):
        xp = ctx.xp
        N, C, L = x.shape
        T = (L - kernel_size) // stride + 1
        # windows (N, C, T, k) as fancy indexing: position t·stride + j
        pos = (xp.arange(T) * stride)[:, None] + xp.arange(kernel_size)[None, :]   # (T, k)
        win = x[:, :, pos]
        arg = win.argmax(axis=3)                                 # winner's offset in its window
        ctx.winner = pos[xp.arange(T)[None, None, :], arg]       # (N, C, T): winner's position in L
        ctx.length = L
        return xp.take_along_axis(win, arg[..., None], axis=3)[..., 0]

    @staticmethod
    def backward(ctx, grad):
        """Return (dL/dx, None, None), given grad = dL/dy (N, C, T); the kernel size and
        the stride are not tensors and get None.

        The max passes its input through unchanged, so dy/dx is 1 for the window's
        winner and 0 for the others: route grad[n, c, t] to x[n, c, ctx.winner[n, c, t]].
        Where windows overlap the same element may win several times: the gradients
        must add up, not overwrite each other: `gx[idx] = g` keeps only one of them;
        `tinygrad_seq.backend.scatter_add(xp, gx, idx, g)` (NumPy's add.at, on CuPy
        too) adds them all. Length of x: ctx.length.
        """
        raise NotImplementedError("write MaxPool1d.backward")
