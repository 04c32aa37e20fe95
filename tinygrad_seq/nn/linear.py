"""Linear: y = x W^T + b, as one fused op (one node instead of transpose, matmul and add)."""
import math

from ..autograd import Function
from ..tensor import Tensor
from . import init
from .module import Module, check_size


class LinearFn(Function):
    """x (..., in) @ weight (out, in)^T + bias (out,): one matmul each way, leading dims
    folded into the rows so the weight gradient is a single (out, rows) @ (rows, in)."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        y = x @ w.T
        if b is not None:
            y = y + b if b.dtype != y.dtype else ctx.xp.add(y, b, out=y)  # in place: no extra array
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        rows = math.prod(g.shape[:-1])   # (not -1: ambiguous when a size is 0)
        g2 = g.reshape(rows, g.shape[-1])
        gx = (g @ w) if nx else None
        gw = (g2.T @ x.reshape(rows, x.shape[-1])) if nw else None
        gb = g2.sum(axis=0) if nb else None
        return gx, gw, gb


def linear(input, weight, bias=None, _name="linear"):
    """torch.nn.functional.linear: input (..., in_features), weight (out, in), bias (out,)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{_name}: expected a Tensor input, got {type(input).__name__}")
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"{_name}: expected input (*, {weight.shape[-1]}) for weight {weight.shape} "
                         f"(in_features={weight.shape[-1]}), got shape {input.shape}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"{_name}: bias of shape {bias.shape} does not match weight {weight.shape}")
    # no silent promotion (float64 input x float32 weight would give float64), as in torch
    if input.dtype != weight.dtype:
        raise TypeError(f"{_name}: input dtype {input.dtype} does not match the weight's dtype {weight.dtype} "
                        "(use .double()/.float() on the module or the input)")
    if bias is not None and bias.dtype != weight.dtype:
        raise TypeError(f"{_name}: bias dtype {bias.dtype} does not match the weight's dtype {weight.dtype}")
    return LinearFn.apply(input, weight, bias)


class Linear(Module):
    """Linear(in_features, out_features, bias=True): weight (out, in) with PyTorch's default
    initialisation (kaiming_uniform_(a=sqrt(5)), bias U(-1/sqrt(in), 1/sqrt(in)))."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        in_features = check_size("Linear", "in_features", in_features)
        out_features = check_size("Linear", "out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = init.parameter(out_features, in_features)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            self.bias = init.parameter(out_features)
            init.fan_in_uniform_(self.bias, in_features)
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return linear(x, self.weight, self.bias, _name="Linear")

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
