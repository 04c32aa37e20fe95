"""LayerNorm as one fused op: statistics, normalisation and affine in a single node; GroupNorm on
the same op; BatchNorm1d / BatchNorm2d composed of Tensor ops, with torch's running statistics."""
import numpy as np

from ..autograd import Function
from ..tensor import Tensor, get_default_dtype
from . import init
from .module import Module, check_size


class LayerNormFn(Function):
    """Normalise x over its last `nd` dims (biased variance, as torch), then * weight + bias."""

    @staticmethod
    def forward(ctx, x, weight, bias, nd, eps):
        xp = ctx.xp
        axes = tuple(range(x.ndim - nd, x.ndim))
        mu = x.mean(axis=axes, keepdims=True)
        d = x - mu
        rstd = 1.0 / xp.sqrt((d * d).mean(axis=axes, keepdims=True) + eps)
        xhat = d * rstd
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.axes = axes
        y = xhat
        if weight is not None:
            y = y * weight
        if bias is not None:
            y = y + bias
        return y

    @staticmethod
    def backward(ctx, g):
        xhat, rstd, weight = ctx.saved_tensors
        axes = ctx.axes
        lead = tuple(range(g.ndim - len(axes)))
        nx, nw, nb = ctx.needs_input_grad[:3]
        gw = (g * xhat).sum(axis=lead) if nw else None
        gb = g.sum(axis=lead) if nb else None
        gx = None
        if nx:
            gh = g * weight if weight is not None else g
            # d xhat / d x: remove the mean of gh and its projection on xhat, scale by 1/std
            gx = rstd * (gh - gh.mean(axis=axes, keepdims=True)
                         - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
        return gx, gw, gb, None, None

    @staticmethod
    def composed(x, weight, bias, nd, eps):
        """The same normalisation from differentiable ops (what create_graph differentiates)."""
        axes = tuple(range(x.ndim - nd, x.ndim))
        d = x - x.mean(dim=axes, keepdim=True)
        y = d / ((d * d).mean(dim=axes, keepdim=True) + eps).sqrt()
        if weight is not None:
            y = y * weight
        if bias is not None:
            y = y + bias
        return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, _name="layer_norm"):
    """torch.nn.functional.layer_norm over the trailing dims `normalized_shape`."""
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if not isinstance(input, Tensor):
        raise TypeError(f"{_name}: expected a Tensor input, got {type(input).__name__}")
    nd = len(shape)
    if nd == 0 or input.ndim < nd or tuple(input.shape[-nd:]) != shape:
        raise ValueError(f"{_name}: expected input with trailing dims {shape} (normalized_shape), "
                         f"got shape {input.shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise ValueError(f"{_name}: {name} of shape {p.shape} does not match normalized_shape {shape}")
        # no silent promotion (float64 input x float32 weight would give float64), as in torch
        if p is not None and p.dtype != input.dtype:
            raise TypeError(f"{_name}: input dtype {input.dtype} does not match the {name}'s dtype {p.dtype} "
                            "(use .double()/.float() on the module or the input)")
    return LayerNormFn.apply(input, weight, bias, nd, float(eps))


class LayerNorm(Module):
    """LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True): weight ones,
    bias zeros, both shaped like normalized_shape."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(check_size("LayerNorm", "normalized_shape entry", n)
                                      for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = init.ones_(init.parameter(*self.normalized_shape))
            if bias:
                self.bias = init.zeros_(init.parameter(*self.normalized_shape))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps, _name="LayerNorm")

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


# ---------------------------------------------------------------- BatchNorm, GroupNorm
def _channel_shape(x):
    """(1, C, 1, ...): a per-channel vector broadcast over x (N, C, ...)."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, _name="batch_norm"):
    """torch.nn.functional.batch_norm over x (N, C, ...): per channel, normalise by the batch's mean
    and biased variance when training (and move running_mean / running_var, when given, towards the
    batch's mean and *unbiased* variance by `momentum`), by the running statistics otherwise."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{_name}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"{_name}: expected input (N, C, ...) with at least 2 dims, got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{_name}: expected a floating point input, got {input.dtype}")
    C = input.shape[1]
    for what, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise RuntimeError(f"{_name}: {what} should contain {C} elements (the input's channels, input "
                               f"shape {input.shape}), got shape {tuple(t.shape)}")
    shape = _channel_shape(input)
    axes = (0,) + tuple(range(2, input.ndim))
    n = input.numel() // C if C else 0
    if training:
        if n <= 1:
            raise ValueError(f"{_name}: expected more than 1 value per channel when training, "
                             f"got input of shape {input.shape}")
        mean = input.mean(axes, keepdims=True)
        var = input.var(axes, keepdims=True, correction=0)   # biased: what normalises the batch
        if running_mean is not None:   # statistics, not part of the graph
            m = float(momentum)
            bm, bv = mean.array.reshape(C), var.array.reshape(C) * (n / (n - 1))   # unbiased for the running var
            running_mean.array = ((1 - m) * running_mean.array + m * bm).astype(running_mean.dtype)
            running_var.array = ((1 - m) * running_var.array + m * bv).astype(running_var.dtype)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{_name}: running_mean and running_var are needed when not training")
        mean, var = running_mean.detach().reshape(shape), running_var.detach().reshape(shape)
    y = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


class _BatchNorm(Module):
    """BatchNorm over channel dim 1: weight ones, bias zeros (affine); buffers running_mean
    zeros, running_var ones and num_batches_tracked (int64), as torch's state_dict has them.
    momentum=None averages all batches so far (cumulative moving average)."""
    dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = init.ones_(init.parameter(num_features))
            self.bias = init.zeros_(init.parameter(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=get_default_dtype())))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=get_default_dtype())))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, x):
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim not in self.dims:
            want = " or ".join(f"{d}D" for d in self.dims)
            raise ValueError(f"{name}: expected {want} input (got {x.ndim}D input of shape {x.shape})")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1   # in place: a 0-d array stays an array
            if self.momentum is None:   # cumulative average: the k-th batch weighs 1/k
                factor = 1.0 / float(self.num_batches_tracked.array)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_batch, factor, self.eps, _name=name)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
    input (N, C) or (N, C, L)."""
    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
    input (N, C, H, W)."""
    dims = (4,)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, _name="group_norm"):
    """torch.nn.functional.group_norm: x (N, C, ...) with its C channels cut into num_groups groups,
    each normalised over its channels and positions (biased variance), then a per-channel affine."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{_name}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"{_name}: expected input (N, C, ...) with at least 2 dims, got shape {input.shape}")
    C = input.shape[1]
    if num_groups < 1 or C % num_groups:
        raise RuntimeError(f"{_name}: expected the number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {input.shape} and num_groups={num_groups}")
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise RuntimeError(f"{_name}: {what} should have shape ({C},), got {tuple(t.shape)}")
    N = input.shape[0]
    # each (sample, group) is one row: LayerNorm's fused op over the row, then the channels' affine
    y = LayerNormFn.apply(input.reshape(N, num_groups, -1), None, None, 1, float(eps)).reshape(input.shape)
    shape = _channel_shape(input)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


class GroupNorm(Module):
    """GroupNorm(num_groups, num_channels, eps=1e-5, affine=True): weight ones, bias zeros (C,)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = init.ones_(init.parameter(num_channels))
            self.bias = init.zeros_(init.parameter(num_channels))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        if isinstance(x, Tensor) and (x.ndim < 2 or x.shape[1] != self.num_channels):
            raise ValueError(f"GroupNorm: expected input (N, {self.num_channels}, ...), got shape {x.shape}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps, _name="GroupNorm")

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
