"""Losses: cross-entropy as one fused, numerically stable op; NLL, MSE and BCE-with-logits;
and their Modules (CrossEntropyLoss, NLLLoss, MSELoss, BCEWithLogitsLoss). Then L1, smooth L1,
Huber, BCE on probabilities and KL divergence (L1Loss, SmoothL1Loss, HuberLoss, BCELoss, KLDivLoss).

Shapes follow torch: logits (N, C) or (N, C, d1, ...) with class-index targets (N,) or
(N, d1, ...), int64. 'mean' averages over the targets that are not ignore_index, each
counted with its class weight.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from .. import kernels
from ..ops import sigmoid as _sigmoid
from ..factories import stack
from ..tensor import Tensor
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


def _rows(xp, x):
    """(N, C, d1, ...) -> (N*d1*..., C): one row of class scores per prediction."""
    return x if x.ndim == 2 else xp.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _unrows(xp, g, shape):
    """Inverse of _rows for a gradient."""
    if len(shape) == 2:
        return g
    return xp.moveaxis(g.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],)), -1, 1)


def _reduce(xp, loss, wt, reduction, tshape):
    """Per-prediction losses -> the requested reduction; also the per-row factor of the
    upstream gradient's scale that backward needs ('mean' divides by the total weight)."""
    if reduction == "none":
        return loss.reshape(tshape), None
    if reduction == "sum":
        return loss.sum(), None
    denom = wt.sum()
    return loss.sum() / denom, denom


def _upstream(xp, g, reduction, denom, M):
    if reduction == "none":
        return g.reshape(M)
    if reduction == "mean":
        # every target ignored (total weight 0): the loss is 0/0 = nan, but the gradient is 0
        # as in torch, not nan (which would poison the weights); no `if`: no GPU sync
        g = xp.where(denom != 0, g / xp.where(denom != 0, denom, 1), 0).astype(g.dtype)
    return xp.broadcast_to(g, (M,))


def _arr(v):
    return v.array if isinstance(v, Tensor) else v


def _rows_t(x):
    """_rows for a Tensor: (N, C, d1, ...) -> (N*d1*..., C)."""
    if x.ndim == 2:
        return x
    return x.permute(0, *range(2, x.ndim), 1).reshape(-1, x.shape[1])


def _targets(xp, target, weight, ignore_index, M, dtype):
    """Class index per row (0 where ignored), the not-ignored mask, and each row's weight."""
    t = target.reshape(-1)
    valid = t != ignore_index
    tc = xp.where(valid, t, 0)
    wt = (weight[tc] if weight is not None else xp.ones(M, dtype=dtype)) * valid
    return tc, valid, wt.astype(dtype, copy=False)


def _reduce_t(loss, wt, reduction, tshape):
    """_reduce for a Tensor of per-row losses."""
    if reduction == "none":
        return loss.reshape(tshape)
    return loss.sum() if reduction == "sum" else loss.sum() / wt.sum()


@kernels.fused("cross_entropy_bwd")
def onehot_grad(xp, probs, scale, target):
    """scale_row * (probs - onehot(target_row)): the gradient of scale * (-log p[target])
    with respect to the logits, probs (M, C) the softmax rows."""
    grad = probs * scale[:, None]
    grad[xp.arange(probs.shape[0]), target] -= scale
    return grad


class CrossEntropyFn(Function):
    """cross_entropy on class indices in one node: log-softmax via the max-shifted
    log-sum-exp (no overflow for logits of 1e4), then the picked entries.
    With label smoothing e, loss = (1-e) * nll + e/C * sum_c w_c * (-log p_c).
    The backward without label smoothing is onehot_grad, one fused kernel on CuPy (kernels.py);
    the forward stays composed: its ~8 launches are row reductions (max, sum) that CuPy
    already runs as one kernel each."""

    @staticmethod
    def forward(ctx, logits, target, weight, ignore_index, reduction, label_smoothing):
        xp = ctx.xp
        C = logits.shape[1]
        x = _rows(xp, logits)
        M = x.shape[0]
        tc, valid, wt = _targets(xp, target, weight, ignore_index, M, x.dtype)
        z = x - x.max(axis=1, keepdims=True)
        e = xp.exp(z)
        s = e.sum(axis=1, keepdims=True)
        lse = xp.log(s)[:, 0]
        nll = lse - xp.take_along_axis(z, tc[:, None], axis=1)[:, 0]        # -log p[target]
        loss = wt * nll
        eps = label_smoothing
        if eps > 0:
            w_sum = weight.sum() if weight is not None else C
            zw = z @ weight if weight is not None else z.sum(axis=1)
            smooth = (w_sum * lse - zw) * valid                              # -sum_c w_c log p_c
            loss = (1 - eps) * loss + (eps / C) * smooth
        out, denom = _reduce(xp, loss, wt, reduction, target.shape)
        ctx.save_for_backward(e / s)
        ctx.target, ctx.valid, ctx.target_weight, ctx.weight = tc, valid, wt, weight
        ctx.denom, ctx.reduction, ctx.label_smoothing, ctx.shape = denom, reduction, eps, logits.shape
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        p, = ctx.saved_tensors
        tc, valid, wt, weight = ctx.target, ctx.valid, ctx.target_weight, ctx.weight
        denom, reduction, eps, shape = ctx.denom, ctx.reduction, ctx.label_smoothing, ctx.shape
        M, C = p.shape
        gl = _upstream(xp, g, reduction, denom, M)
        if eps == 0:   # the common case: w_t (p - onehot_t), times the upstream gradient
            grad = onehot_grad(xp, p, (gl * wt).astype(p.dtype, copy=False), tc)
            return _unrows(xp, grad, shape), None, None, None, None, None
        # d nll / dx = w_t (p - onehot_t);  d smooth / dx = sum(w) p - w
        a = (1 - eps) * wt
        if eps > 0:
            w_sum = weight.sum() if weight is not None else C
            a = a + (eps / C) * w_sum * valid
        grad = p * (gl * a)[:, None]
        grad[xp.arange(M), tc] -= gl * (1 - eps) * wt
        if eps > 0:
            w = weight if weight is not None else xp.ones(C, dtype=p.dtype)
            grad -= ((eps / C) * gl * valid)[:, None] * w[None, :]
        return _unrows(xp, grad, shape), None, None, None, None, None

    @staticmethod
    def composed(logits, target, weight, ignore_index, reduction, label_smoothing):
        """The same loss from differentiable ops (what create_graph differentiates)."""
        logp = _rows_t(logits).log_softmax(dim=1)
        M, C = logp.shape
        xp = backend.xp(logits.device)
        tc, valid, wt = _targets(xp, _arr(target), _arr(weight), ignore_index, M, logp.dtype)
        loss = -logp[xp.arange(M), tc] * wt
        eps = label_smoothing
        if eps > 0:
            w = _arr(weight) if weight is not None else xp.ones(C, dtype=logp.dtype)
            loss = (1 - eps) * loss - (eps / C) * (logp * w).sum(dim=1) * valid
        return _reduce_t(loss, wt, reduction, _arr(target).shape)


class NLLLossFn(Function):
    """nll_loss: -weight[t] * input[t] for log-probabilities input."""

    @staticmethod
    def forward(ctx, logp, target, weight, ignore_index, reduction):
        xp = ctx.xp
        x = _rows(xp, logp)
        tc, _, wt = _targets(xp, target, weight, ignore_index, x.shape[0], x.dtype)
        loss = -wt * xp.take_along_axis(x, tc[:, None], axis=1)[:, 0]
        out, denom = _reduce(xp, loss, wt, reduction, target.shape)
        ctx.target, ctx.target_weight, ctx.denom, ctx.reduction = tc, wt, denom, reduction
        ctx.shape, ctx.rows = logp.shape, x.shape
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        tc, wt, denom, reduction = ctx.target, ctx.target_weight, ctx.denom, ctx.reduction
        M, C = ctx.rows
        gl = _upstream(xp, g, reduction, denom, M)
        grad = xp.zeros((M, C), dtype=g.dtype)
        grad[xp.arange(M), tc] = -gl * wt
        return _unrows(xp, grad, ctx.shape), None, None, None, None

    @staticmethod
    def composed(logp, target, weight, ignore_index, reduction):
        """The same loss from differentiable ops (what create_graph differentiates)."""
        x = _rows_t(logp)
        xp = backend.xp(logp.device)
        tc, _, wt = _targets(xp, _arr(target), _arr(weight), ignore_index, x.shape[0], x.dtype)
        return _reduce_t(-x[xp.arange(x.shape[0]), tc] * wt, wt, reduction, _arr(target).shape)


class BCEWithLogitsFn(Function):
    """Binary cross-entropy on logits, stable for any x:
    loss = (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x), softplus(-x) = log1p(e^-|x|) + max(-x, 0)."""

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        xp = ctx.xp
        sp = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
        lw = 1 + (pos_weight - 1) * t if pos_weight is not None else None
        loss = (1 - t) * x + (sp if lw is None else lw * sp)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, t)
        ctx.softplus, ctx.log_weight, ctx.weight, ctx.pos_weight, ctx.reduction = sp, lw, weight, pos_weight, reduction
        if reduction == "none":
            return loss
        return loss.sum() if reduction == "sum" else loss.mean()

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, t = ctx.saved_tensors
        sp, lw, weight, pos_weight = ctx.softplus, ctx.log_weight, ctx.weight, ctx.pos_weight
        reduction = ctx.reduction
        if reduction == "mean":
            g = g / x.size
        if weight is not None:
            g = g * weight
        sig = _sigmoid(xp, x)
        nx, nt = ctx.needs_input_grad[:2]
        if lw is None:
            gx = g * (sig - t) if nx else None
            gt = g * -x if nt else None
        else:
            gx = g * (lw * sig - pos_weight * t) if nx else None
            gt = g * ((pos_weight - 1) * sp - x) if nt else None
        return gx, gt, None, None, None

    @staticmethod
    def composed(x, t, weight, pos_weight, reduction):
        """The same loss from differentiable ops (what create_graph differentiates)."""
        sp = stack([x * 0, -x], dim=-1).logsumexp(dim=-1)       # softplus(-x) = log(e^0 + e^-x): stable, smooth
        loss = (1 - t) * x + (sp if pos_weight is None else (1 + (pos_weight - 1) * t) * sp)
        if weight is not None:
            loss = loss * weight
        if reduction == "none":
            return loss
        return loss.sum() if reduction == "sum" else loss.mean()


# ---------------------------------------------------------------- functional forms
def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _raw(w, x, name, what):
    """An optional weight (Tensor or array) as a raw array in x's dtype on x's device."""
    if w is None:
        return None
    arr = w.array if isinstance(w, Tensor) else w
    if not backend.is_array(arr):   # a list or number: made on the input's device
        arr = backend.xp(x.device).asarray(arr)
    if backend.device_of(arr) != x.device:
        raise RuntimeError(f"{name}: {what} is on {backend.device_of(arr)} but the input is on {x.device}")
    return arr.astype(x.dtype, copy=False)


def _class_checks(input, target, weight, ignore_index, reduction, name):
    """Shared validation of cross_entropy / nll_loss; returns (input, target, weight array, unbatched)."""
    _check_reduction(reduction, name)
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{name}: expected Tensors, got {type(input).__name__} and {type(target).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: expected floating point scores, got dtype {input.dtype}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold int64 class indices, got dtype {target.dtype} "
                        "(class-probability targets are not supported)")
    if input.device != target.device:
        raise RuntimeError(f"{name}: input is on {input.device} but target is on {target.device}")
    unbatched = input.ndim == 1
    if unbatched:
        input, target = input.reshape(1, -1), target.reshape(1)
    if input.ndim < 2:
        raise ValueError(f"{name}: expected input (N, C) or (N, C, d1, ...), got shape {input.shape}")
    want = input.shape[:1] + input.shape[2:]
    if target.shape != want:
        raise ValueError(f"{name}: expected target of shape {want} for input of shape {input.shape}, "
                         f"got {target.shape}")
    C = input.shape[1]
    w = _raw(weight, input, name, "weight")
    if w is not None and w.shape != (C,):
        raise ValueError(f"{name}: weight must have shape ({C},) (one per class), got {w.shape}")
    t = target.array.reshape(-1)
    if t.size:   # on the GPU a deferred check: no wait for the device (backend.check)
        bad = (t != ignore_index) & ((t < 0) | (t >= C))
        backend.check(backend.xp(target.device), bad.any(),
                      f"{name}: target {{}} is out of bounds for {C} classes (input shape {input.shape}; "
                      f"valid targets are 0..{C - 1} or ignore_index={ignore_index})",
                      lambda: (t[bad.argmax()],), error=IndexError)   # the first bad target
    return input, target, w, unbatched


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """torch.nn.functional.cross_entropy with class-index targets, fused and stable."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x, t, w, unbatched = _class_checks(input, target, weight, ignore_index, reduction, "cross_entropy")
    out = CrossEntropyFn.apply(x, t, w, ignore_index, reduction, float(label_smoothing))
    return out.reshape(()) if unbatched and reduction == "none" else out


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """torch.nn.functional.nll_loss: input holds log-probabilities (e.g. from log_softmax)."""
    x, t, w, unbatched = _class_checks(input, target, weight, ignore_index, reduction, "nll_loss")
    out = NLLLossFn.apply(x, t, w, ignore_index, reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


def mse_loss(input, target, reduction="mean"):
    """torch.nn.functional.mse_loss; input and target must have the same shape (no silent
    broadcasting of, say, (N,) against (N, 1))."""
    _check_reduction(reduction, "mse_loss")
    if not isinstance(input, Tensor):
        raise TypeError(f"mse_loss: expected a Tensor input, got {type(input).__name__}")
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=input.dtype, device=input.device)
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape {target.shape} differ")
    d = input - target
    sq = d * d
    return sq if reduction == "none" else (sq.sum() if reduction == "sum" else sq.mean())


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """torch.nn.functional.binary_cross_entropy_with_logits, stable for large |logits|.
    weight and pos_weight broadcast against the input and get no gradient."""
    name = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, name)
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__}")
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=input.dtype, device=input.device)
    if input.shape != target.shape:
        raise ValueError(f"{name}: target size {target.shape} must be the same as input size {input.shape}")
    if input.dtype.kind != "f" or target.dtype.kind != "f":
        raise TypeError(f"{name}: expected floating point input and target, got {input.dtype} and {target.dtype}")
    w, pw = _raw(weight, input, name, "weight"), _raw(pos_weight, input, name, "pos_weight")
    return BCEWithLogitsFn.apply(input, target, w, pw, reduction)


def one_hot(tensor, num_classes=-1):
    """torch.nn.functional.one_hot: int64 (..., num_classes) from integer class indices."""
    if not isinstance(tensor, Tensor) or tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer index Tensor, got "
                        f"{getattr(tensor, 'dtype', type(tensor).__name__)}")
    xp = backend.xp(tensor.device)
    t = tensor.array
    if num_classes == -1:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size:   # deferred on the GPU (with num_classes given, one_hot then needs no sync)
        lo, hi = t.min(), t.max()
        backend.check(xp, (lo < 0) | (hi >= num_classes),
                      f"one_hot: class values must be in [0, {num_classes}), got [{{}}, {{}}]", (lo, hi),
                      error=IndexError)
    return Tensor._wrap((t[..., None] == xp.arange(num_classes)).astype(np.int64), tensor.device)


# ---------------------------------------------------------------- loss modules
class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        _check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def _buffer(self, name, value):
        """Class weights are buffers, as in torch: saved in state_dict, moved by .to()."""
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value)
        self.register_buffer(name, value)


class CrossEntropyLoss(_Loss):
    """CrossEntropyLoss(weight=None, *, ignore_index=-100, reduction='mean', label_smoothing=0.0)."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self._buffer("weight", weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_Loss):
    """NLLLoss(weight=None, *, ignore_index=-100, reduction='mean'): input holds log-probabilities."""

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self._buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """MSELoss(*, reduction='mean')."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """BCEWithLogitsLoss(weight=None, *, reduction='mean', pos_weight=None)."""

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self._buffer("weight", weight)
        self._buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


# ---------------------------------------------------------------- L1, smooth L1, Huber, BCE, KL divergence
def _pair(input, target, name, float_target=True):
    """input and target as Tensors of the same shape and device (a non-Tensor target is made one)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor input, got {type(input).__name__}")
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=input.dtype, device=input.device)
    if input.shape != target.shape:
        raise ValueError(f"{name}: input shape {input.shape} and target shape {target.shape} differ")
    if input.device != target.device:
        raise RuntimeError(f"{name}: input is on {input.device} but target is on {target.device}")
    if input.dtype.kind != "f" or (float_target and target.dtype.kind != "f"):
        raise TypeError(f"{name}: expected floating point input and target, got {input.dtype} and {target.dtype}")
    return input, target


def _reduced(loss, reduction):
    return loss if reduction == "none" else (loss.sum() if reduction == "sum" else loss.mean())


def l1_loss(input, target, reduction="mean"):
    """torch.nn.functional.l1_loss: |input - target|, reduced."""
    _check_reduction(reduction, "l1_loss")
    input, target = _pair(input, target, "l1_loss")
    return _reduced(abs(input - target), reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """torch.nn.functional.smooth_l1_loss: 0.5 d^2 / beta where d = |input - target| < beta,
    d - 0.5 beta elsewhere (beta=0: the L1 loss)."""
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    input, target = _pair(input, target, "smooth_l1_loss")
    d = abs(input - target)
    if beta == 0:
        return _reduced(d, reduction)
    return _reduced((0.5 / beta * d * d).where(d < beta, d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """torch.nn.functional.huber_loss: 0.5 d^2 where d = |input - target| < delta,
    delta (d - 0.5 delta) elsewhere."""
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    input, target = _pair(input, target, "huber_loss")
    d = abs(input - target)
    return _reduced((0.5 * d * d).where(d < delta, delta * (d - 0.5 * delta)), reduction)


class BCEFn(Function):
    """Elementwise -w (t log x + (1 - t) log(1 - x)), each log clamped at -100 as torch does (so
    x = 0 or 1 gives a finite loss); d/dx = w (x - t) / max(x (1 - x), 1e-12)."""

    @staticmethod
    def forward(ctx, x, t, w):
        xp = ctx.xp
        with np.errstate(divide="ignore"):
            log_x, log_1mx = xp.maximum(xp.log(x), -100.0), xp.maximum(xp.log1p(-x), -100.0)
        ctx.save_for_backward(x, t)
        ctx.log_x, ctx.log_1mx, ctx.w = log_x, log_1mx, w
        loss = -(t * log_x + (1 - t) * log_1mx)
        return loss if w is None else loss * w

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        log_x, log_1mx = ctx.log_x, ctx.log_1mx
        if ctx.w is not None:
            g = g * ctx.w
        nx, nt = ctx.needs_input_grad[:2]
        gx = g * (x - t) / ctx.xp.maximum(x * (1 - x), 1e-12) if nx else None
        gt = g * (log_1mx - log_x) if nt else None
        return gx, gt, None

    @staticmethod
    def composed(x, t, w):
        """The same from differentiable ops, for create_graph=True (the saved logs are constants)."""
        loss = -(t * x.log().maximum(-100.0) + (1 - t) * (1 - x).log().maximum(-100.0))
        return loss if w is None else loss * w


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """torch.nn.functional.binary_cross_entropy on probabilities in [0, 1] (for logits use
    binary_cross_entropy_with_logits, which is stable). weight broadcasts against the input."""
    name = "binary_cross_entropy"
    _check_reduction(reduction, name)
    input, target = _pair(input, target, name)
    x = input.array
    if x.size:
        backend.check(backend.xp(input.device), ((x < 0) | (x > 1) | (x != x)).any(),
                      f"{name}: all elements of input should be between 0 and 1 (input shape {input.shape})",
                      error=RuntimeError)
    w = _raw(weight, input, name, "weight")
    if w is not None:
        try:
            np.broadcast_shapes(w.shape, input.shape)
        except ValueError:
            raise ValueError(f"{name}: weight of shape {w.shape} does not broadcast against input "
                             f"{input.shape}") from None
    return _reduced(BCEFn.apply(input, target, w), reduction)


def kl_div(input, target, reduction="mean", log_target=False):
    """torch.nn.functional.kl_div: input holds log-probabilities; pointwise target (log target - input)
    (0 where target is 0), or e^target (target - input) with log_target. 'batchmean' divides the sum
    by the batch size (the KL divergence per sample); 'mean' by the number of elements."""
    name = "kl_div"
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{name}: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
    input, target = _pair(input, target, name)
    if log_target:
        loss = target.exp() * (target - input)
    else:   # x log x -> 0 at x = 0 (torch's xlogy): log of 1 there
        loss = target * (target.where(target > 0, 1.0).log() - input)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduced(loss, reduction)


class L1Loss(_Loss):
    """L1Loss(*, reduction='mean')."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """SmoothL1Loss(*, reduction='mean', beta=1.0)."""

    def __init__(self, *, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        return smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """HuberLoss(reduction='mean', delta=1.0)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        return huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_Loss):
    """BCELoss(weight=None, *, reduction='mean'): input holds probabilities."""

    def __init__(self, weight=None, *, reduction="mean"):
        super().__init__(reduction)
        self._buffer("weight", weight)

    def forward(self, input, target):
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class KLDivLoss(Module):
    """KLDivLoss(*, reduction='mean', log_target=False): input holds log-probabilities."""

    def __init__(self, *, reduction="mean", log_target=False):
        super().__init__()
        if reduction not in _REDUCTIONS + ("batchmean",):
            raise ValueError(f"KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none', "
                             f"got {reduction!r}")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input, target):
        return kl_div(input, target, self.reduction, self.log_target)
