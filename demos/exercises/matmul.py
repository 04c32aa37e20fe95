"""Exercise: the backward of a matrix product (every Linear layer and RNN step).

    python -m demos exercises matmul
"""
import tinygrad_seq as tg


class MatMul(tg.Function):
    """C = A @ B with A (N, K), B (K, M): C[n, m] = Σ_k A[n, k] B[k, m]."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        """Return (dL/dA, dL/dB), given grad = dL/dC of shape (N, M).

        dL/dA[n, k] = Σ_m grad[n, m] · dC[n, m]/dA[n, k], and dC[n, m]/dA[n, k] = B[k, m].
        Write both sums as matrix products; the shapes guide you: dL/dA must be
        (N, K) like A, dL/dB (K, M) like B. `a, b = ctx.saved_tensors`.
        """
        raise NotImplementedError("write MatMul.backward")
