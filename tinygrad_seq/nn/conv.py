"""Conv1d / Conv2d: cross-correlation as "im2col" + one matrix multiply.

The idea (im2col_conv below, written with tensor ops): pad the input; for every kernel
offset (i, j) take the strided slice of the input that offset reads for all outputs; stack
those slices, so that each output position has its window's C*kh*kw values in one column;
then one matrix multiply with the weight, reshaped to (O, C*kh*kw), makes every output.
Autograd differentiates it like any other expression: the gradient of a slice adds back onto
the input, so the backward of im2col is "col2im" for free.

The layers and conv1d / conv2d check their arguments here and then run the same
computation as hand-written Functions from conv_fast.py (memory layouts that keep the
copies fast, a text CNN's stride-1 Conv1d without a window matrix, the weight gradient in
OpenBLAS-friendly pieces); tests/test_fast_paths.py checks that they equal im2col_conv.

ConvTranspose1d / 2d (at the end) are this convolution run on a zero-upsampled input with the
kernel flipped (conv_transpose_nd says how).
"""
import math

import numpy as np

from ..factories import stack
from ..tensor import Tensor
from . import conv_fast, init
from .module import Module, check_size


def _ntuple(v, n, what):
    """An int or a length-n sequence of ints -> a tuple of n ints (PyTorch's _pair / _single)."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    t = tuple(int(a) for a in v)
    if len(t) != n:
        raise ValueError(f"{what} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def out_size(size, k, stride, pads, dilation, ceil_mode=False):
    """Output length of a sliding window over `size` entries padded by pads = (before, after):
    PyTorch's formula, with ceil_mode's rule that the last window must start inside the input
    or its left padding."""
    span = size + pads[0] + pads[1] - dilation * (k - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    n = -(-span // stride) + 1
    if (n - 1) * stride >= size + pads[0]:
        n -= 1
    return n


def window_slices(x, k, stride, dilation, out):
    """The kh*kw strided slices of a padded (N, C, Hp, Wp) tensor, one per kernel offset
    (i, j), each (N, C, OH, OW): slice (i, j) holds every window's cell (i, j)."""
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = k, stride, dilation, out
    return [x[:, :, i * dh:i * dh + sh * (OH - 1) + 1:sh, j * dw:j * dw + sw * (OW - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]


def im2col_conv(x, w, b, stride, pads, dilation, groups):
    """Cross-correlation of x (N, C, H, W) with w (O, C/groups, kh, kw) plus b (O,) or None,
    from differentiable tensor ops; pads is ((top, bottom), (left, right)). A 1-D input
    (N, C, L) with w (O, C/groups, k) and 1-tuples is the same with a height of 1."""
    if x.ndim == 3:
        y = im2col_conv(x.unsqueeze(2), w.unsqueeze(2), b, (1,) + tuple(stride), ((0, 0),) + tuple(pads),
                        (1,) + tuple(dilation), groups)
        return y[:, :, 0, :]
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    (pt, pb), (pl, pr) = pads
    out = (out_size(H, kh, stride[0], pads[0], dilation[0]), out_size(W, kw, stride[1], pads[1], dilation[1]))
    # windows[n, c, i*kw + j, oh, ow] = padded x[n, c, oh*sh + i*dh, ow*sw + j*dw]
    windows = stack(window_slices(x.pad((pl, pr, pt, pb)), (kh, kw), stride, dilation, out), dim=2)
    cols = windows.reshape(N, groups, Cg * kh * kw, out[0] * out[1])       # rows (c, i, j) per group
    y = w.reshape(groups, O // groups, Cg * kh * kw) @ cols                # (N, groups, O/groups, OH*OW)
    y = y.reshape(N, O, out[0], out[1])
    return y if b is None else y + b.reshape(1, O, 1, 1)


# ---------------------------------------------------------------- functional form
def _conv_pads(padding, k, dilation, stride, n, name):
    """padding (int, tuple, 'valid' or 'same') -> ((before, after), ...) per spatial dim."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(stride={stride})")
            pads = []
            for kk, d in zip(k, dilation):
                total = d * (kk - 1)
                pads.append((total // 2, total - total // 2))  # extra on the right, as torch
            return tuple(pads)
        raise ValueError(f"{name}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    p = _ntuple(padding, n, f"{name}: padding")
    if any(v < 0 for v in p):
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    return tuple((v, v) for v in p)


def conv_nd(x, weight, bias, stride, padding, dilation, groups, n, name):
    """Shared checks of conv1d / conv2d and the Conv layers; `name` is the one errors show."""
    dims = "H, W" if n == 2 else "L"
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    groups = check_size(name, "groups", groups, minimum=1)
    O, Cg = weight.shape[0], weight.shape[1]
    C = Cg * groups
    if x.ndim not in (n + 1, n + 2) or x.shape[-n - 1] != C:
        raise ValueError(f"{name}: expected input (N, {C}, {dims}) or ({C}, {dims}), got shape {x.shape}")
    if weight.ndim != n + 2:
        raise ValueError(f"{name}: expected a {n + 2}-D weight (out, in/groups, kernel...), got {weight.shape}")
    if O % groups or (bias is not None and tuple(bias.shape) != (O,)):
        raise ValueError(f"{name}: weight {weight.shape} / bias {None if bias is None else bias.shape} "
                         f"do not fit groups={groups}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got {x.dtype}")
    # no silent promotion (float64 input x float32 weight would give float64), as in torch
    if x.dtype != weight.dtype:
        raise TypeError(f"{name}: input dtype {x.dtype} does not match the weight's dtype {weight.dtype} "
                        "(use .double()/.float() on the module or the input)")
    if bias is not None and bias.dtype != weight.dtype:
        raise TypeError(f"{name}: bias dtype {bias.dtype} does not match the weight's dtype {weight.dtype}")
    k = tuple(weight.shape[2:])
    stride = _ntuple(stride, n, f"{name}: stride")
    dilation = _ntuple(dilation, n, f"{name}: dilation")
    if any(s < 1 for s in stride) or any(d < 1 for d in dilation):
        raise ValueError(f"{name}: stride and dilation must be positive, got {stride} and {dilation}")
    pads = _conv_pads(padding, k, dilation, stride, n, name)
    spatial = x.shape[-n:]
    padded = tuple(s + a + b for s, (a, b) in zip(spatial, pads))
    eff = tuple(d * (kk - 1) + 1 for kk, d in zip(k, dilation))
    if any(e > p for e, p in zip(eff, padded)):
        raise ValueError(f"{name}: kernel size {k} (dilated to {eff}) is larger than the padded input "
                         f"{padded} (input shape {x.shape}, padding {padding})")
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x.unsqueeze(0)
    out = conv_fast.convolve(x, weight, bias, stride, pads, dilation, groups)   # = im2col_conv(...)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv1d: input (N, C, L), weight (O, C/groups, k)."""
    return conv_nd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d: input (N, C, H, W), weight (O, C/groups, kh, kw)."""
    return conv_nd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


# ---------------------------------------------------------------- layers
class _ConvNd(Module):
    n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        super().__init__()
        name = type(self).__name__
        in_channels = check_size(name, "in_channels", in_channels)
        out_channels = check_size(name, "out_channels", out_channels)
        groups = check_size(name, "groups", groups, minimum=1)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ntuple(kernel_size, self.n, f"{name}: kernel_size")
        self.stride = _ntuple(stride, self.n, f"{name}: stride")
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, self.n, f"{name}: padding")
        self.dilation = _ntuple(dilation, self.n, f"{name}: dilation")
        # checked here, not only when called (torch waits for the forward)
        if min(self.kernel_size + self.stride + self.dilation) < 1:
            raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got "
                             f"{self.kernel_size}, {self.stride} and {self.dilation}")
        if isinstance(self.padding, str):
            _conv_pads(self.padding, self.kernel_size, self.dilation, self.stride, self.n, name)
        elif min(self.padding) < 0:
            raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = init.parameter(*shape)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            self.bias = init.parameter(out_channels)
            init.fan_in_uniform_(self.bias, (in_channels // groups) * math.prod(self.kernel_size))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return conv_nd(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                       self.n, type(self).__name__)

    def extra_repr(self):
        return _conv_repr(self)


class Conv1d(_ConvNd):
    """Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True): input (N, C, L); weight (out, in/groups, k), as torch."""
    n = 1


class Conv2d(_ConvNd):
    """Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    bias=True): input (N, C, H, W); weight (out, in/groups, kh, kw), as torch."""
    n = 2


# ---------------------------------------------------------------- transposed convolution
def _dilate(x, axis, s):
    """s - 1 zeros between neighbours along `axis`: (.., L, ..) -> (.., (L-1)*s + 1, ..)."""
    if s == 1:
        return x
    L = x.shape[axis]
    widths = [0, 0] * (x.ndim + 1)
    widths[2 * (x.ndim - axis - 1) + 1] = s - 1          # pad the new axis after `axis` by s-1
    y = x.unsqueeze(axis + 1).pad(widths).reshape(x.shape[:axis] + (L * s,) + x.shape[axis + 1:])
    return y[(slice(None),) * axis + (slice(0, (L - 1) * s + 1),)]


def _pad_or_crop(x, axis, before, after):
    """Pad `axis` with zeros (a positive amount) or crop it (a negative one) on each side."""
    if before < 0 or after < 0:
        n = x.shape[axis]
        x = x[(slice(None),) * axis + (slice(max(-before, 0), n - max(-after, 0)),)]
        before, after = max(before, 0), max(after, 0)
    if before or after:
        widths = [0, 0] * x.ndim
        widths[2 * (x.ndim - axis - 1):2 * (x.ndim - axis)] = [before, after]
        x = x.pad(widths)
    return x


def conv_transpose_nd(x, weight, bias, stride, padding, output_padding, groups, dilation, n, name):
    """The gradient of a convolution with respect to its input, as a convolution: put (stride - 1)
    zeros between the input's entries, pad each side by dilation*(k-1) - padding (plus
    output_padding on the far side), and convolve (stride 1) with the kernel flipped and its in / out
    channels swapped. weight is (in, out/groups, k...), as torch."""
    dims = "H, W" if n == 2 else "L"
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
    if weight.ndim != n + 2:
        raise ValueError(f"{name}: expected a {n + 2}-D weight (in, out/groups, kernel...), got {weight.shape}")
    C, Og = weight.shape[0], weight.shape[1]
    if x.ndim not in (n + 1, n + 2) or x.shape[-n - 1] != C:
        raise ValueError(f"{name}: expected input (N, {C}, {dims}) or ({C}, {dims}) for weight {weight.shape}, "
                         f"got shape {x.shape}")
    if C % groups or (bias is not None and tuple(bias.shape) != (Og * groups,)):
        raise ValueError(f"{name}: weight {weight.shape} / bias {None if bias is None else bias.shape} "
                         f"do not fit groups={groups}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got {x.dtype}")
    k = tuple(weight.shape[2:])
    s = _ntuple(stride, n, f"{name}: stride")
    p = _ntuple(padding, n, f"{name}: padding")
    op = _ntuple(output_padding, n, f"{name}: output_padding")
    d = _ntuple(dilation, n, f"{name}: dilation")
    if min(s + d) < 1 or min(p + op) < 0:
        raise ValueError(f"{name}: stride and dilation must be positive and padding, output_padding "
                         f"non-negative, got {s}, {d}, {p}, {op}")
    if any(o >= max(ss, dd) for o, ss, dd in zip(op, s, d)):
        raise ValueError(f"{name}: output_padding {op} must be smaller than either stride {s} or dilation {d}")
    spatial = x.shape[-n:]
    out = tuple((L - 1) * ss - 2 * pp + dd * (kk - 1) + oo + 1
                for L, ss, pp, dd, kk, oo in zip(spatial, s, p, d, k, op))
    if min(out) < 1:
        raise ValueError(f"{name}: output size {out} is too small (input shape {x.shape}, kernel {k}, "
                         f"stride {s}, padding {p}, dilation {d})")
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x.unsqueeze(0)
    for i in range(n):
        a = 2 + i
        x = _dilate(x, a, s[i])
        q = d[i] * (k[i] - 1) - p[i]
        x = _pad_or_crop(x, a, q, q + op[i])
    # (in, out/g, k...) -> (out, in/g, k...), kernel flipped
    w = weight.reshape((groups, C // groups, Og) + k).transpose(1, 2).reshape((Og * groups, C // groups) + k)
    w = w.flip(tuple(range(2, 2 + n)))
    y = conv_nd(x, w, bias, 1, 0, d, groups, n, name)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose1d: input (N, C, L), weight (C, out/groups, k)."""
    return conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                             "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose2d: input (N, C, H, W), weight (C, out/groups, kh, kw)."""
    return conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                             "conv_transpose2d")


class _ConvTransposeNd(Module):
    n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1):
        super().__init__()
        name = type(self).__name__
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups ({groups})")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _ntuple(kernel_size, self.n, f"{name}: kernel_size")
        self.stride = _ntuple(stride, self.n, f"{name}: stride")
        self.padding = _ntuple(padding, self.n, f"{name}: padding")
        self.output_padding = _ntuple(output_padding, self.n, f"{name}: output_padding")
        self.dilation = _ntuple(dilation, self.n, f"{name}: dilation")
        shape = (in_channels, out_channels // groups) + self.kernel_size
        self.weight = init.parameter(*shape)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))   # fan_in from dim 1, as torch
        if bias:
            self.bias = init.parameter(out_channels)
            init.fan_in_uniform_(self.bias, (out_channels // groups) * math.prod(self.kernel_size))
        else:
            self.register_parameter("bias", None)

    def _output_padding(self, x, output_size):
        """output_padding that makes the output `output_size` (torch's forward(input, output_size))."""
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-self.n:]
        spatial = x.shape[-self.n:]
        op = []
        for i in range(self.n):
            least = ((spatial[i] - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            extra = size[i] - least
            if not 0 <= extra < max(self.stride[i], self.dilation[i]):
                raise ValueError(f"{type(self).__name__}: requested output size {tuple(size)} is not "
                                 f"reachable from input shape {x.shape} (dim {i}: {least} to "
                                 f"{least + max(self.stride[i], self.dilation[i]) - 1})")
            op.append(extra)
        return tuple(op)

    def forward(self, x, output_size=None):
        op = self._output_padding(x, output_size) if isinstance(x, Tensor) else self.output_padding
        return conv_transpose_nd(x, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                 self.dilation, self.n, type(self).__name__)

    def extra_repr(self):
        return _conv_repr(self)


class ConvTranspose1d(_ConvTransposeNd):
    """ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
    groups=1, bias=True, dilation=1): weight (in, out/groups, k), as torch."""
    n = 1


class ConvTranspose2d(_ConvTransposeNd):
    """ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
    groups=1, bias=True, dilation=1): weight (in, out/groups, kh, kw), as torch."""
    n = 2


def _conv_repr(m):
    """torch's extra_repr of a Conv / ConvTranspose layer: the options that differ from their defaults."""
    s = f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, stride={m.stride}"
    for name, default in (("padding", 0), ("output_padding", 0), ("dilation", 1)):
        value = getattr(m, name, None)   # a Conv has no output_padding
        if value is not None and value != (default,) * m.n:
            s += f", {name}={value}"
    if m.groups != 1:
        s += f", groups={m.groups}"
    if m.bias is None:
        s += ", bias=False"
    return s
