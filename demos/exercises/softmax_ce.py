"""Exercise: the backward of softmax + cross-entropy (the classifier's loss).

    python -m demos exercises softmax_ce
"""
import tinygrad_seq as tg


class SoftmaxCrossEntropy(tg.Function):
    """L = (1/N) Σ_n -log softmax(z_n)[y_n] for logits z (N, C) and integer targets y (N,).

    softmax(z)_c = e^{z_c} / Σ_k e^{z_k}; the loss is a scalar (a 0-d array).
    """

    @staticmethod
    def forward(ctx, logits, target):
        xp = ctx.xp
        N = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)   # same softmax, no overflow
        log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        ctx.save_for_backward(xp.exp(log_p), target)           # the probabilities p (N, C)
        return -log_p[xp.arange(N), target].mean()

    @staticmethod
    def backward(ctx, grad):
        """Return (dL/dlogits, None): targets are integers and get no gradient.

        For one row, -log softmax(z)[y] = -z_y + log Σ_k e^{z_k}. Differentiate with
        respect to every z_c: the log-sum-exp term gives softmax(z)_c = p_c, and the
        -z_y term gives -1 only at c = y. So the row gradient is p - onehot(y).
        Then remember the mean over the batch, and multiply by grad (a scalar).
        `p, target = ctx.saved_tensors`.
        """
        raise NotImplementedError("write SoftmaxCrossEntropy.backward")
