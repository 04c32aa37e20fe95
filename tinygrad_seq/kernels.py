"""Every fused GPU kernel of the library, as complete CUDA sources, and the one cache of them.

Each kernel does in ONE launch what the readable xp code does in many: on a GPU every
elementwise NumPy-style op is a kernel launch plus a pass over memory, and an LSTM step or an
Adam step written with ufuncs is 10-15 of each. The xp code stays the reference: it is written
once, beside its layer (the comment above each kernel names it), and the CPU always runs it.
A reference function is marked `@kernels.fused(name)`: on CuPy the call runs the kernel, on
NumPy the function itself; `fn.reference` is the xp code, which tests/test_kernels.py runs on
the GPU too and compares with the kernel.

source(name, dtype) is the exact text CuPy compiles (cupy.RawKernel), so a machine without a
GPU can compile every kernel with NVRTC (tests/test_kernels_compile.py, run in CI).

Layout: the kernels index plain C-contiguous arrays (pointers to their first element), so a
call whose arrays are not all C-contiguous runs the reference instead. Sizes come in as
long long, scalars as double (cast to the array type T once per element).
"""
import functools

import numpy as np

from .backend import devices

# ---------------------------------------------------------------- shared pieces of every source
_HEADER = """\
typedef {T} T;
__device__ __forceinline__ T sigmoid_f(T x) {{ return T(0.5) * tanh(T(0.5) * x) + T(0.5); }}
#define FOR_EACH(i, n) \\
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \\
         i += (long long)blockDim.x * gridDim.x)
"""

_C_TYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
DTYPES = tuple(_C_TYPES)

_SOURCES = {}


def _kernel_source(name, body):
    _SOURCES[name] = body
    return body


# ---------------------------------------------------------------- Adam / AdamW, one step
# Must equal optim/adam.py: adam_step (without amsgrad). p, m, v are updated in place.
# step_size = lr / (1 - beta1^t), bias2_sqrt = sqrt(1 - beta2^t):
#   g = -grad if maximize;  g += wd * p (Adam)  or  p *= 1 - lr * wd (AdamW, decoupled)
#   m = m + (1 - beta1) (g - m);   v = v + (1 - beta2) (g^2 - v)
#   p = p - step_size * m / (sqrt(v) / bias2_sqrt + eps)
_kernel_source("adam", """
extern "C" __global__ void tinygrad_seq_adam(
        T* p, T* m, T* v, const T* grad, long long n, double lr, double beta1, double beta2,
        double eps, double wd, double step_size, double bias2_sqrt, int decoupled, int maximize) {
    FOR_EACH(i, n) {
        T g = maximize ? -grad[i] : grad[i];
        T pi = p[i], mi = m[i], vi = v[i];
        if (wd != 0) {
            if (decoupled) pi *= T(1 - lr * wd);
            else g += T(wd) * pi;
        }
        mi += T(1 - beta1) * (g - mi);
        vi += T(1 - beta2) * (g * g - vi);
        pi -= T(step_size) * mi / (sqrt(vi) / T(bias2_sqrt) + T(eps));
        p[i] = pi;
        m[i] = mi;
        v[i] = vi;
    }
}
""")

# ---------------------------------------------------------------- softmax cross-entropy, backward
# Must equal nn/loss.py: onehot_grad. probs (M, C) softmax rows; scale (M,): upstream gradient
# times the target's weight (0 for ignored targets); target (M,) class index (int64):
#   grad = scale_row * (probs - onehot(target_row))
_kernel_source("cross_entropy_bwd", """
extern "C" __global__ void tinygrad_seq_cross_entropy_bwd(
        const T* probs, const T* scale, const long long* target, T* grad, long long M, long long C) {
    FOR_EACH(i, M * C) {
        const long long row = i / C;
        const T s = scale[row];
        grad[i] = (i - row * C == target[row]) ? s * (probs[i] - T(1)) : s * probs[i];
    }
}
""")

# ---------------------------------------------------------------- LSTM, one step forward
# Must equal nn/rnn_fused.py: lstm_step_forward (the plain LSTM: no peepholes, not coupled).
# z (B, 4H): pre-activations, PyTorch's gate blocks i|f|g|o side by side in each row;
# acts (4, B, H): the gate activations, gate-major; c_prev, c, tc, h (B, H).
#   i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g);  c = f c_prev + i g;  h = o tanh(c)
_kernel_source("lstm_fwd", """
extern "C" __global__ void tinygrad_seq_lstm_fwd(
        const T* z, const T* c_prev, T* acts, T* c, T* tc, T* h, long long B, long long H) {
    const long long n = B * H;
    FOR_EACH(i, n) {
        const long long b = i / H, j = i - b * H;
        const T* zr = z + b * 4 * H + j;
        const T gi = sigmoid_f(zr[0]), gf = sigmoid_f(zr[H]), gg = tanh(zr[2 * H]), go = sigmoid_f(zr[3 * H]);
        acts[i] = gi;
        acts[n + i] = gf;
        acts[2 * n + i] = gg;
        acts[3 * n + i] = go;
        const T cc = gf * c_prev[i] + gi * gg;
        const T t = tanh(cc);
        c[i] = cc;
        tc[i] = t;
        h[i] = go * t;
    }
}
""")

# ---------------------------------------------------------------- LSTM, one step backward
# Must equal nn/rnn_fused.py: lstm_step_backward (plain LSTM). acts (4, B, H) = i, f, g, o;
# dh = dL/dh_t; dc: dL/dC_t from later steps on entry, dL/dC_{t-1} on exit; dz (B, 4H):
#   dC = dc + dh o (1 - tc²);  dz_o = dh tc o (1 - o);  dz_i = dC g i (1 - i)
#   dz_f = dC c_prev f (1 - f);  dz_g = dC i (1 - g²);  dc = dC f
_kernel_source("lstm_bwd", """
extern "C" __global__ void tinygrad_seq_lstm_bwd(
        const T* acts, const T* c_prev, const T* tc, const T* dh, T* dc, T* dz, long long B, long long H) {
    const long long n = B * H;
    FOR_EACH(i, n) {
        const long long b = i / H, j = i - b * H;
        const T one = 1;
        const T gi = acts[i], gf = acts[n + i], gg = acts[2 * n + i], go = acts[3 * n + i];
        const T t = tc[i], d = dh[i];
        const T dC = dc[i] + d * go * (one - t * t);
        T* dzr = dz + b * 4 * H + j;
        dzr[0] = dC * gg * gi * (one - gi);
        dzr[H] = dC * c_prev[i] * gf * (one - gf);
        dzr[2 * H] = dC * gi * (one - gg * gg);
        dzr[3 * H] = d * t * go * (one - go);
        dc[i] = dC * gf;
    }
}
""")

# ---------------------------------------------------------------- GRU, one step forward
# Must equal nn/rnn_fused.py: gru_step_forward. gx (B, 3H) = W_i x_t + b_i and gh (B, 3H) =
# W_h h_{t-1} + b_h, blocks r|z|n; acts (3, B, H) = r, z, n; hn = gh's n block; h_prev, h (B, H):
#   r = σ(gx_r + gh_r);  z = σ(gx_z + gh_z);  n = tanh(gx_n + r gh_n);  h = n + z (h_prev - n)
_kernel_source("gru_fwd", """
extern "C" __global__ void tinygrad_seq_gru_fwd(
        const T* gx, const T* gh, const T* h_prev, T* acts, T* hn, T* h, long long B, long long H) {
    const long long n = B * H;
    FOR_EACH(i, n) {
        const long long b = i / H, j = i - b * H;
        const long long o = b * 3 * H + j;
        const T r = sigmoid_f(gx[o] + gh[o]);
        const T z = sigmoid_f(gx[o + H] + gh[o + H]);
        const T ghn = gh[o + 2 * H];
        const T nn = tanh(gx[o + 2 * H] + r * ghn);
        acts[i] = r;
        acts[n + i] = z;
        acts[2 * n + i] = nn;
        hn[i] = ghn;
        h[i] = nn + z * (h_prev[i] - nn);
    }
}
""")

# ---------------------------------------------------------------- GRU, one step backward
# Must equal nn/rnn_fused.py: gru_step_backward. acts (3, B, H) = r, z, n; hn = W_hn h_{t-1} + b_hn;
# writes dgx, dgh (B, 3H, blocks r|z|n) and dh_direct = z dh:
#   da_n = dh (1 - z)(1 - n²);  da_r = da_n hn r (1 - r);  da_z = dh (h_prev - n) z (1 - z)
#   dgx = (da_r, da_z, da_n);  dgh = (da_r, da_z, da_n r)
_kernel_source("gru_bwd", """
extern "C" __global__ void tinygrad_seq_gru_bwd(
        const T* acts, const T* hn, const T* h_prev, const T* dh, T* dgx, T* dgh, T* dh_direct,
        long long B, long long H) {
    const long long n = B * H;
    FOR_EACH(i, n) {
        const long long b = i / H, j = i - b * H;
        const long long o = b * 3 * H + j;
        const T one = 1;
        const T r = acts[i], z = acts[n + i], nn = acts[2 * n + i], d = dh[i];
        const T dan = d * (one - z) * (one - nn * nn);
        const T dar = dan * hn[i] * r * (one - r);
        const T daz = d * (h_prev[i] - nn) * z * (one - z);
        dgx[o] = dar;
        dgx[o + H] = daz;
        dgx[o + 2 * H] = dan;
        dgh[o] = dar;
        dgh[o + H] = daz;
        dgh[o + 2 * H] = dan * r;
        dh_direct[i] = d * z;
    }
}
""")

NAMES = tuple(_SOURCES)


def source(name, dtype):
    """The complete CUDA source of kernel `name` for arrays of `dtype` (float32 or float64):
    exactly what kernel() compiles, and what CI compiles without a GPU."""
    return _HEADER.format(T=_C_TYPES[np.dtype(dtype)]) + _SOURCES[name]


_compiled = {}   # (name, dtype) -> cupy.RawKernel: the library's one kernel cache


def kernel(name, dtype):
    """The cupy.RawKernel `name` for `dtype`, compiled on first use (CuPy is imported only then)."""
    key = (name, np.dtype(dtype))
    k = _compiled.get(key)
    if k is None:
        import cupy
        k = _compiled[key] = cupy.RawKernel(source(name, dtype), "tinygrad_seq_" + name)
    return k


_BLOCK = 256


def _launch(name, dtype, n, *args):
    if n:
        grid = min((n + _BLOCK - 1) // _BLOCK, 1 << 20)   # the kernels loop over what is left
        kernel(name, dtype)((grid,), (_BLOCK,), args)


def _contiguous(*arrays):
    return all(a.flags.c_contiguous for a in arrays)


def _sizes(a):
    """B and H of a (B, H) state array, as the kernels take them."""
    return np.int64(a.shape[0]), np.int64(a.shape[1])


# ---------------------------------------------------------------- launchers: the reference's arguments
def _adam(p, g, m, v, v_max, scratch, lr, beta1, beta2, eps, wd, step_size, bias2_sqrt, decoupled, maximize):
    f = np.float64
    _launch("adam", p.dtype, p.size, p, m, v, g, np.int64(p.size), f(lr), f(beta1), f(beta2), f(eps), f(wd),
            f(step_size), f(bias2_sqrt), np.int32(bool(decoupled)), np.int32(bool(maximize)))


def _adam_applies(p, g, m, v, v_max, *rest):
    return v_max is None and g.dtype == p.dtype and _contiguous(p, g, m, v)


def _cross_entropy_bwd(probs, scale, target):
    import cupy
    M, C = probs.shape
    probs = cupy.ascontiguousarray(probs)
    scale = cupy.ascontiguousarray(scale, dtype=probs.dtype)
    target = cupy.ascontiguousarray(target, dtype=np.int64)
    grad = cupy.empty_like(probs)
    _launch("cross_entropy_bwd", probs.dtype, M * C, probs, scale, target, grad, np.int64(M), np.int64(C))
    return grad


def _lstm_fwd(z, c_prev, acts, c, tc, h, peep=None, coupled=False):
    _launch("lstm_fwd", z.dtype, h.size, z, c_prev, acts, c, tc, h, *_sizes(h))


def _lstm_fwd_applies(z, c_prev, acts, c, tc, h, peep=None, coupled=False):
    return peep is None and not coupled and acts.shape[0] == 4 and _contiguous(z, c_prev, acts, c, tc, h)


def _lstm_bwd(acts, c_prev, tc, dh, dc, dz, scratch, peep=None, coupled=False):
    _launch("lstm_bwd", dz.dtype, dh.size, acts, c_prev, tc, dh, dc, dz, *_sizes(dh))


def _lstm_bwd_applies(acts, c_prev, tc, dh, dc, dz, scratch, peep=None, coupled=False):
    return peep is None and not coupled and acts.shape[0] == 4 and _contiguous(acts, c_prev, tc, dh, dc, dz)


def _gru_fwd(gx, gh, h_prev, acts, hn, h):
    _launch("gru_fwd", h.dtype, h.size, gx, gh, h_prev, acts, hn, h, *_sizes(h))


def _gru_fwd_applies(gx, gh, h_prev, acts, hn, h):
    return _contiguous(gx, gh, h_prev, acts, hn, h)


def _gru_bwd(acts, hn, h_prev, dh, dgx, dgh, dh_direct, scratch):
    _launch("gru_bwd", dh.dtype, dh.size, acts, hn, h_prev, dh, dgx, dgh, dh_direct, *_sizes(dh))


def _gru_bwd_applies(acts, hn, h_prev, dh, dgx, dgh, dh_direct, scratch):
    return _contiguous(acts, hn, h_prev, dh, dgx, dgh, dh_direct)


REFERENCES = {}   # kernel name -> its reference, as marked by fused()
_LAUNCHERS = {"adam": (_adam, _adam_applies), "cross_entropy_bwd": (_cross_entropy_bwd, None),
              "lstm_fwd": (_lstm_fwd, _lstm_fwd_applies), "lstm_bwd": (_lstm_bwd, _lstm_bwd_applies),
              "gru_fwd": (_gru_fwd, _gru_fwd_applies), "gru_bwd": (_gru_bwd, _gru_bwd_applies)}


def fused(name):
    """Mark an xp function fn(xp, *args) as the reference of kernel `name`: on CuPy (when the
    arguments suit the kernel: float32/float64, C-contiguous, the variant it implements) the
    call launches the kernel instead, with the same arguments and the same effect."""
    launch, applies = _LAUNCHERS[name]

    def wrap(reference):
        if name in REFERENCES:
            raise RuntimeError(f"kernels.fused: kernel {name!r} already has a reference")
        @functools.wraps(reference)
        def run(xp, *args, **kwargs):
            if (xp is not np and devices.on_gpu(xp) and args[0].dtype in _C_TYPES
                    and (applies is None or applies(*args, **kwargs))):
                return launch(*args, **kwargs)
            return reference(xp, *args, **kwargs)
        run.reference, run.kernel_name = reference, name
        REFERENCES[name] = run
        return run
    return wrap
