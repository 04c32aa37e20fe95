"""Exercise: the backward of the logistic sigmoid.

    python -m demos exercises sigmoid          # check your backward
    python -m demos exercises sigmoid --solutions
"""
import tinygrad_seq as tg


class Sigmoid(tg.Function):
    """y = σ(x) = 1 / (1 + e^-x), elementwise; x has any shape."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        # 0.5 * (1 + tanh(x/2)) is σ(x) without overflow in e^-x for very negative x
        y = 0.5 * (1 + xp.tanh(0.5 * x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        """Return dL/dx, given grad = dL/dy (same shape as x).

        Derive dσ/dx: write σ(x) = (1 + e^-x)^-1 and use the chain rule, then
        express the result with σ(x) itself (forward saved y = σ(x) for this:
        `y, = ctx.saved_tensors`). Each output depends only on its own input, so
        the Jacobian is diagonal and dL/dx is grad times dσ/dx, elementwise.
        """
        raise NotImplementedError("write Sigmoid.backward")
