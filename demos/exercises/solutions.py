"""Solutions: the backward passes, as the library writes them (tinygrad_seq/ops.py,
nn/loss.py, nn/conv.py, nn/pooling.py, nn/rnn_fused.py). Each class reuses the
exercise's forward and adds the backward.

    python -m demos exercises all --solutions
"""
from tinygrad_seq import backend

from . import conv1d, gru_step, lstm_step, matmul, maxpool1d, sigmoid, softmax_ce, softplus, tanh


class Sigmoid(sigmoid.Sigmoid):
    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * y * (1 - y)                 # dσ/dx = σ(x)(1 - σ(x))


class Tanh(tanh.Tanh):
    @staticmethod
    def backward(ctx, grad):
        y, = ctx.saved_tensors
        return grad * (1 - y * y)                 # d tanh/dx = 1 - tanh²(x)


class SoftmaxCrossEntropy(softmax_ce.SoftmaxCrossEntropy):
    @staticmethod
    def backward(ctx, grad):
        p, target = ctx.saved_tensors
        N = p.shape[0]
        d = p.copy()
        d[ctx.xp.arange(N), target] -= 1          # p - onehot(y)
        return grad * d / N, None                 # the mean divides by N


class MatMul(matmul.MatMul):
    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad @ b.T, a.T @ grad             # (N, M)(M, K) and (K, N)(N, M)


class Conv1d(conv1d.Conv1d):
    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        x, w = ctx.saved_tensors
        k, T = w.shape[2], grad.shape[2]
        gx, gw = xp.zeros_like(x), xp.zeros_like(w)
        for j in range(k):                        # the forward loop, each product transposed
            gw[:, :, j] = xp.einsum("not,nct->oc", grad, x[:, :, j:j + T])
            gx[:, :, j:j + T] += xp.einsum("not,oc->nct", grad, w[:, :, j])
        return gx, gw, grad.sum(axis=(0, 2))


class MaxPool1d(maxpool1d.MaxPool1d):
    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        N, C, T = grad.shape
        gx = xp.zeros((N, C, ctx.length), dtype=grad.dtype)
        n = xp.arange(N)[:, None, None]
        c = xp.arange(C)[None, :, None]
        # only each window's winner gets its gradient; overlapping windows add up
        backend.scatter_add(xp, gx, (xp.broadcast_to(n, (N, C, T)), xp.broadcast_to(c, (N, C, T)), ctx.winner),
                            grad)
        return gx, None, None


class LSTMStep(lstm_step.LSTMStep):
    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        x, h, c, w_ih, w_hh, i, f, g, o, tc = ctx.saved_tensors
        dh_new, dc_new = grad[0], grad[1]
        do = dh_new * tc                                   # h' = o*tanh(c')
        dc_tot = dc_new + dh_new * o * (1 - tc * tc)       # c' reaches L directly and through h'
        df, dc, di, dg = dc_tot * c, dc_tot * f, dc_tot * g, dc_tot * i   # c' = f*c + i*g
        dz = xp.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], axis=1)
        db = dz.sum(axis=0)
        return dz @ w_ih, dz @ w_hh, dc, dz.T @ x, dz.T @ h, db, db.copy()


class GRUStep(gru_step.GRUStep):
    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        x, h, w_ih, w_hh, r, z, n, b_n = ctx.saved_tensors
        dn = grad * (1 - z)                                # h' = (1-z)*n + z*h
        dz = grad * (h - n)
        d_pre_n = dn * (1 - n * n)                         # n = tanh(a_n + r*b_n)
        dr = d_pre_n * b_n
        d_r = dr * r * (1 - r)
        d_z = dz * z * (1 - z)
        da = xp.concatenate([d_r, d_z, d_pre_n], axis=1)
        db = xp.concatenate([d_r, d_z, d_pre_n * r], axis=1)
        return (da @ w_ih, db @ w_hh + grad * z, da.T @ x, db.T @ h, da.sum(axis=0), db.sum(axis=0))


class Softplus(softplus.Softplus):
    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad / (1 + ctx.xp.exp(-x))        # σ(x), from the input: differentiable again
