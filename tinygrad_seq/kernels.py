"""Fused CuPy kernels for the optimizer and the loss (the recurrent gate kernels live
beside their NumPy twins in nn/rnn_fused.py).

Each kernel does in ONE launch what the readable xp code does in many: on a GPU every
elementwise NumPy-style op is a kernel launch plus a pass over memory, and an Adam step
written with ufuncs is ~10 of each per parameter. The xp code stays the reference: the
CPU always runs it, and tests/test_gpu_speed.py checks the kernels against it.

Kernels are compiled on first use (CuPy is imported only then, so the CPU never needs it).
Scalars come in as float64 and are cast to the array type T once per element.
"""

# ---------------------------------------------------------------- Adam / AdamW, one step
# p, m, v are updated in place (CuPy binds outputs by reference: they can be read first).
# step_size = lr / (1 - beta1^t), bias2_sqrt = sqrt(1 - beta2^t); the same equations as
# optim/adam.py:
#   g = -grad if maximize;  g += wd * p (Adam)  or  p *= 1 - lr * wd (AdamW, decoupled)
#   m = m + (1 - beta1) (g - m);   v = v + (1 - beta2) (g^2 - v)
#   p = p - step_size * m / (sqrt(v) / bias2_sqrt + eps)
_ADAM = ("T grad, float64 lr, float64 beta1, float64 beta2, float64 eps, float64 wd, "
         "float64 step_size, float64 bias2_sqrt, bool decoupled, bool maximize",
         "T p, T m, T v", """
    T g = maximize ? -grad : grad;
    if (wd != 0) {
        if (decoupled) p *= T(1 - lr * wd);
        else g += T(wd) * p;
    }
    m += T(1 - beta1) * (g - m);
    v += T(1 - beta2) * (g * g - v);
    p -= T(step_size) * m / (sqrt(v) / T(bias2_sqrt) + T(eps));
""")

# ---------------------------------------------------------------- softmax cross-entropy, backward
# probs (M, C) contiguous softmax rows; scale (M,): upstream gradient times the target's
# weight (0 for ignored targets); target (M,) class index; n_cls = C. i is the flat index,
# so row = i / C and the column is i - row * C:
#   grad = scale_row * (probs - onehot(target_row))
_CE_BWD = ("T probs, raw T scale, raw I target, int64 n_cls", "T grad", """
    const ptrdiff_t row = i / n_cls;
    const T s = scale[row];
    grad = (i - row * n_cls == target[row]) ? s * (probs - T(1)) : s * probs;
""")

_SOURCES = {"adam": _ADAM, "cross_entropy_bwd": _CE_BWD}
_kernels = {}


def kernel(name):
    """The cupy.ElementwiseKernel `name` ('adam' or 'cross_entropy_bwd'), compiled on first use."""
    k = _kernels.get(name)
    if k is None:
        import cupy
        ins, outs, body = _SOURCES[name]
        k = _kernels[name] = cupy.ElementwiseKernel(ins, outs, body, "tinygrad_seq_" + name)
    return k


def on_gpu(xp):
    """True when xp is CuPy (the fused kernels apply)."""
    return xp.__name__ == "cupy"
