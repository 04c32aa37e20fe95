"""Exercise: a backward that can itself be differentiated (second derivatives), softplus.

    python -m demos exercises softplus
"""
import tinygrad_seq as tg


class Softplus(tg.Function):
    """y = softplus(x) = log(1 + e^x), elementwise (computed stably as max(x, 0) + log(1 + e^-|x|))."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        ctx.save_for_backward(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, grad):
        """Return dL/dx, given grad = dL/dy.

        d softplus/dx = σ(x) = 1 / (1 + e^-x). The checker also runs gradgradcheck: this
        backward must itself be differentiable, its derivative σ(x)(1 - σ(x)). Under
        backward(create_graph=True) the saved x comes back as a Tensor with its graph and
        ctx.xp works on Tensors, so compute σ in backward from `x, = ctx.saved_tensors` with
        operators and ctx.xp functions (ctx.xp.exp); a value computed in forward and kept on
        ctx would be a constant there, and its second derivative wrong.
        """
        raise NotImplementedError("write Softplus.backward")
