"""Fused recurrent layers: ONE autograd Function per layer and direction, for the whole sequence.

The composed path (rnn_cells.py) records ~15 graph nodes per time step. Here:

  forward   1. the input projection of ALL time steps is one matrix multiply,
               A = X (T*B, I) @ W_ih^T + b: only h_{t-1} @ W_hh^T is left inside the loop;
            2. the loop over time does that small matmul and the gate math, in place,
               in preallocated (T, B, ·) buffers that backward reuses;
  backward  3. loops backward over time with the analytic gradient of all gates at once,
               dZ_t (B, G*H), and dh_{t-1} = dZ_t @ W_hh;
            4. accumulates dW_hh = Σ_t dZ_t^T h_{t-1}, dW_ih = Σ_t dZ_t^T x_t and the biases
               as ONE matmul / sum each over the stacked time steps (the LSTM: per run of
               steps whose dZ fits under MMAP_MIN bytes, one run for all but long sequences).

The gate math lives in small helpers (`lstm_step_forward`, ...) written with plain
`xp` ufuncs on gate-major (n_gates, B, H) copies of the step's (B, n_gates*H) block, so
every gate is a contiguous array. They are the references of the fused GPU kernels in
kernels.py: on CuPy the plain LSTM and GRU steps run those instead (one launch per step and
direction, instead of ~15).

Each Function returns (output, h_n), LSTM (output, h_n, c_n), as separate outputs. Inside,
the h states live in one buffer in time order, P (T+1, B, H): forward direction
[h0, h_1 .. h_T], reverse direction [h_1 .. h_T, h0] (it runs from t=T down to 1); output is
the view P[1:] (forward) or P[:T] (reverse), h_n the row P[T] or P[0], and the h_{t-1} of every
step is the other T rows, already stacked for dW_hh.
Variable lengths come as a (T, B, 1) boolean mask (t < length_b): padded steps keep the
previous state (so the final state is each sequence's last valid one, and the reverse
direction starts at each sequence's last valid step) and receive no gradient.
"""
from .. import kernels
from ..autograd import Function
from ..backend.host_malloc import MMAP_MIN
from ..factories import stack, zeros
from ..tensor import Tensor, where
from .rnn_cells import gru_cell, lstm_cell, rnn_cell


def _sigmoid_(xp, a):
    """a <- σ(a), in place; the tanh form never overflows."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _dsigmoid_(g, y):
    """g <- g * σ'(a), from y = σ(a): σ' = y (1 - y)."""
    g *= y
    g -= g * y
    return g


def gate_major(z, n_gates):
    """(B, n*H) -> a (n, B, H) view: PyTorch's gate blocks i|f|g|o side by side in each row,
    seen one gate at a time. Copying into / out of a contiguous (n, B, H) buffer costs one
    pass and makes every gate a contiguous block: NumPy's ufuncs are 2-3x slower on the
    strided column blocks than on contiguous arrays."""
    B, G = z.shape
    return z.reshape(B, n_gates, G // n_gates).transpose(1, 0, 2)


# ---------------------------------------------------------------- gate math of one step
@kernels.fused("lstm_fwd")
def lstm_step_forward(xp, z, c_prev, acts, c, tc, h, peep=None, coupled=False):
    """z (B, G): pre-activations W·[h_{t-1}, x_t] + b in PyTorch's layout (only read). Writes the
    gate activations to acts (n, B, H), gate-major: i, f, g, o (coupled: f, g, o), and
    c = C_t, tc = tanh(C_t), h = h_t. peep = (w_ci, w_cf, w_co) or None."""
    plain = peep is None and not coupled
    xp.copyto(acts, gate_major(z, len(acts)))
    i, f, g, o = (None, *acts) if coupled else acts
    if plain:
        # σ(x) = ½·tanh(x/2) + ½: halve i, f, o, then ONE tanh pass over all four gates
        acts[:2] *= 0.5
        o *= 0.5
        xp.tanh(acts, out=acts)
        for s in (acts[:2], o):
            s *= 0.5
            s += 0.5
    else:
        if peep is not None:                  # i and f see C_{t-1}
            if not coupled:
                i += peep[0] * c_prev
            f += peep[1] * c_prev
        _sigmoid_(xp, f if coupled else acts[:2])
        xp.tanh(g, out=g)
    xp.multiply(f, c_prev, out=c)             # C_t = f_t*C_{t-1} + i_t*C~_t
    c += ((1 - f) if coupled else i) * g      # coupled: i_t = 1 - f_t
    if not plain:
        if peep is not None:                  # o sees C_t
            o += peep[2] * c
        _sigmoid_(xp, o)
    xp.tanh(c, out=tc)
    xp.multiply(o, tc, out=h)                 # h_t = o_t*tanh(C_t)


@kernels.fused("lstm_bwd")
def lstm_step_backward(xp, acts, c_prev, tc, dh, dc, dz, scratch, peep=None, coupled=False):
    """One step back: acts (n, B, H) gate activations, dh = dL/dh_t, dc = dL/dC_t from later
    steps (overwritten with dL/dC_{t-1}); writes dz (B, G) = dL/d(pre-activations) in PyTorch's
    layout, using scratch (n, B, H)."""
    i, f, g, o = (None, *acts) if coupled else acts
    di, df, dg, do = (None, *scratch) if coupled else scratch
    # dL/dC_t = dc (later steps) + dh*o_t*(1 - tanh²C_t) (this step's h_t = o_t*tanh(C_t))
    dC = tc * tc
    xp.subtract(1, dC, out=dC)
    dC *= o
    dC *= dh
    dC += dc
    xp.multiply(dh, tc, out=do)               # dL/do_t
    if peep is not None:                      # o_t saw C_t
        dC += _dsigmoid_(do.copy(), o) * peep[2]
    if coupled:                               # C_t = f_t*C_{t-1} + (1 - f_t)*C~_t
        xp.multiply(dC, c_prev - g, out=df)
        xp.multiply(dC, 1 - f, out=dg)
    else:                                     # C_t = f_t*C_{t-1} + i_t*C~_t
        xp.multiply(dC, g, out=di)
        xp.multiply(dC, c_prev, out=df)
        xp.multiply(dC, i, out=dg)
    xp.multiply(dC, f, out=dc)                # dL/dC_{t-1} through the cell path
    # through the activations, all gates at once: σ' = y(1 - y), and tanh' = 1 - y² for C~
    d = acts * acts
    xp.subtract(acts, d, out=d)
    dg_ = d[1 if coupled else 2]
    xp.subtract(1, g * g, out=dg_)
    scratch *= d
    if peep is not None:                      # i and f saw C_{t-1}
        if not coupled:
            dc += di * peep[0]
        dc += df * peep[1]
    xp.copyto(gate_major(dz, len(acts)), scratch)


@kernels.fused("gru_fwd")
def gru_step_forward(xp, gx, gh, h_prev, acts, hn, h):
    """gx (B, 3H) = W_i x_t + b_i and gh (B, 3H) = W_h h_{t-1} + b_h, PyTorch's layout (r, z, n).
    Writes acts (3, B, H) = r, z, n (gate-major), hn = gh's n part (backward needs it) and h = h_t."""
    ghm = gate_major(gh, 3)
    xp.copyto(acts, gate_major(gx, 3))
    acts[:2] += ghm[:2]                        # r and z: the x and h parts just add
    xp.copyto(hn, ghm[2])
    r, z, n = acts
    _sigmoid_(xp, acts[:2])
    n += r * hn                                # h~_t = tanh(W x_t + b + r_t*(W h_{t-1} + b))
    xp.tanh(n, out=n)
    xp.subtract(h_prev, n, out=h)              # h_t = n + z*(h_{t-1} - n)
    h *= z
    h += n


@kernels.fused("gru_bwd")
def gru_step_backward(xp, acts, hn, h_prev, dh, dgx, dgh, dh_direct, scratch):
    """One step back: acts = (r, z, n), hn = W_hn h_{t-1} + b_hn; writes dgx = dL/d(W_i x + b_i) and
    dgh = dL/d(W_h h + b_h) (B, 3H, PyTorch's layout) and dh_direct = z_t*dh, the part of
    dL/dh_{t-1} that skips the matmul; scratch is (3, B, H)."""
    r, z, n = acts
    dar, daz, dan = scratch
    xp.multiply(dh, 1 - z, out=dan)            # through n
    dan *= 1 - n * n
    xp.multiply(dan, hn, out=dar)              # through r_t*(W h + b)
    _dsigmoid_(dar, r)
    xp.subtract(h_prev, n, out=daz)            # through z
    daz *= dh
    _dsigmoid_(daz, z)
    xp.copyto(gate_major(dgx, 3), scratch)
    dan *= r                                   # the h-part of n is scaled by r_t
    xp.copyto(gate_major(dgh, 3), scratch)
    xp.multiply(dh, z, out=dh_direct)


# ---------------------------------------------------------------- shared pieces of the Functions
def _steps(T, reverse):
    """(t, prev_row, cur_row) in processing order; rows index the time-ordered state buffer."""
    if reverse:
        return [(t, t + 1, t) for t in range(T - 1, -1, -1)]
    return [(t, t, t + 1) for t in range(T)]


def _project(xp, x, w_ih, b):
    """All time steps' input projection at once: (T, B, I) -> (T, B, G) = x W_ih^T + b."""
    T, B, I = x.shape
    x2 = x.reshape(T * B, I)
    a = (x2 @ xp.ascontiguousarray(w_ih.T)).reshape(T, B, w_ih.shape[0])   # NN layout: the fast matmul
    if b is not None:
        a += b
    return x2, a


def _init_state(buf, row, h0):
    buf[row] = 0 if h0 is None else h0


def _masks(mask, dtype):
    """Float versions of the (T, B, 1) step mask: (keep new, keep old)."""
    if mask is None:
        return None, None
    m = mask.astype(dtype)
    return m, 1 - m


class _WeightGrads:
    """dx, dW_ih, dW_hh and the bias gradient from the stacked gate gradients dz of a run of
    time steps: one matmul each per run, summed over the runs (`add`), then `result()`.
    i_w is the position of w_ih among the Function's arguments (w_hh follows it)."""

    def __init__(self, ctx, x2, hprev, w_ih, with_bias, i_w):
        needs = ctx.needs_input_grad
        self.x2, self.hprev, self.w_ih = x2, hprev.reshape(-1, hprev.shape[-1]), w_ih
        self.needs = needs[i_w], needs[i_w + 1], with_bias
        self.dx = ctx.xp.empty((x2.shape[0], w_ih.shape[1]), dtype=x2.dtype) if needs[0] else None
        self.sums = [None, None, None]          # dW_ih, dW_hh, db

    def add(self, dz, t0):
        """dz (n, B, G): the gate gradients of steps t0 .. t0 + n - 1, in time order."""
        B, G = dz.shape[1:]
        rows = slice(t0 * B, (t0 + dz.shape[0]) * B)
        dz2 = dz.reshape(-1, G)
        if self.dx is not None:
            self.dx[rows] = dz2 @ self.w_ih
        parts = (dz2.T @ self.x2[rows] if self.needs[0] else None,
                 dz2.T @ self.hprev[rows] if self.needs[1] else None,
                 dz2.sum(axis=0) if self.needs[2] else None)
        for k, part in enumerate(parts):
            if part is not None and self.sums[k] is not None:
                self.sums[k] += part
            elif part is not None:
                self.sums[k] = part

    def result(self, T, B):
        dx = None if self.dx is None else self.dx.reshape(T, B, self.w_ih.shape[1])
        return (dx, *self.sums)


def _weight_grads(ctx, dz, x2, hprev, w_ih, with_bias, i_w):
    """dx, dW_ih, dW_hh and the bias gradient from the stacked gate gradients of all steps."""
    grads = _WeightGrads(ctx, x2, hprev, w_ih, with_bias, i_w)
    grads.add(dz, 0)
    return grads.result(*dz.shape[:2])


def _runs(steps, step_bytes):
    """The backward's steps in runs of consecutive time steps whose gate gradients together stay
    under MMAP_MIN bytes: one buffer that size is reused run after run (the peak memory holds
    one run's dL/dz, not the whole sequence's), and on the host it comes from the heap that
    the cached host malloc keeps between train steps, not from a fresh mapping each time."""
    n = max(1, MMAP_MIN // max(step_bytes, 1) - 1)
    return [steps[k:k + n] for k in range(0, len(steps), n)] or [[]]   # T = 0: one empty run


def _outputs(P, T, reverse):
    """(output, h_n): views of the state buffer P (see the module docstring)."""
    return (P[0:T], P[0]) if reverse else (P[1:T + 1], P[T])


def _state_grads(d_out, d_hn, T, reverse):
    """(dh, rows): dh = dL/dh of the state the loop ends on (output and h_n both land there: a
    new array, the backward loop's running gradient), and for every row of P the output's
    gradient there (views of d_out; None for the initial state's row)."""
    rows = [*d_out, None] if reverse else [None, *d_out]
    dh = d_hn.copy()
    if T:
        dh += rows[0 if reverse else T]
    return dh, rows


def _hprev(P, T, reverse):
    """The stacked h_{t-1} of every step, (T, B, H), in time order."""
    return P[1:T + 1] if reverse else P[0:T]


# ---------------------------------------------------------------- the Functions
class RNNSequence(Function):
    """A whole Elman RNN layer-direction: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, mask, reverse, nonlinearity):
        xp = ctx.xp
        T, B, _ = x.shape
        H = w_hh.shape[1]
        x2, a = _project(xp, x, w_ih, None if b_ih is None else b_ih + b_hh)
        P = xp.empty((T + 1, B, H), dtype=x.dtype)
        _init_state(P, T if reverse else 0, h0)
        w_hhT = xp.ascontiguousarray(w_hh.T)   # (H, G): h @ W_hh^T as a plain (NN) matmul, the fast layout
        rec = xp.empty((B, H), dtype=x.dtype)
        for t, prev, cur in _steps(T, reverse):
            xp.matmul(P[prev], w_hhT, out=rec)
            a[t] += rec
            if nonlinearity == "tanh":
                xp.tanh(a[t], out=P[cur])
            else:
                xp.maximum(a[t], 0, out=P[cur])
            if mask is not None:               # padded steps keep the previous state
                xp.copyto(P[cur], P[prev], where=~mask[t])
        out, h_n = _outputs(P, T, reverse)
        # x and the outputs themselves: autograd then notices in-place edits of any of them
        ctx.save_for_backward(x, x2, P, out, h_n, w_ih, w_hh)
        ctx.mask, ctx.reverse, ctx.nonlinearity, ctx.with_bias = mask, reverse, nonlinearity, b_ih is not None
        return out, h_n

    @staticmethod
    def backward(ctx, d_out, d_hn):
        _, x2, P, _, _, w_ih, w_hh = ctx.saved_tensors
        mask, reverse, nonlinearity, with_bias = ctx.mask, ctx.reverse, ctx.nonlinearity, ctx.with_bias
        xp = ctx.xp
        T = P.shape[0] - 1
        dh, d_rows = _state_grads(d_out, d_hn, T, reverse)
        m, keep = _masks(mask, P.dtype)
        dz = xp.empty(P[1:].shape, dtype=P.dtype)
        for t, prev, cur in _steps(T, reverse)[::-1]:
            if m is not None:
                dh_pass = dh * keep[t]
                dh *= m[t]
            h = P[cur]                          # the new state where the step is not padded
            if nonlinearity == "tanh":
                xp.multiply(h, h, out=dz[t])
                xp.subtract(1, dz[t], out=dz[t])
                dz[t] *= dh
            else:
                xp.multiply(dh, h > 0, out=dz[t])
            xp.matmul(dz[t], w_hh, out=dh)
            if d_rows[prev] is not None:        # the output's gradient (none at the initial state)
                dh += d_rows[prev]
            if m is not None:
                dh += dh_pass
        dx, dw_ih, dw_hh, db = _weight_grads(ctx, dz, x2, _hprev(P, T, reverse), w_ih, with_bias, 2)
        dh0 = dh if ctx.needs_input_grad[1] else None
        return dx, dh0, dw_ih, dw_hh, db, db, None, None, None

    @staticmethod
    def composed(x, h0, w_ih, w_hh, b_ih, b_hh, mask, reverse, nonlinearity):
        """The same (output, h_n) from the cell of rnn_cells.py stepped over time (what
        create_graph differentiates)."""
        step = lambda x_t, s: [rnn_cell(x_t, s[0], w_ih, w_hh, b_ih, b_hh, nonlinearity)]  # noqa: E731
        return _composed_states(x, [h0], w_hh.shape[1], step, mask, reverse)


class LSTMSequence(Function):
    """A whole LSTM layer-direction (plain, peephole or coupled); see rnn_cells.lstm_cell."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co, mask, reverse, coupled):
        xp = ctx.xp
        T, B, _ = x.shape
        G, H = w_hh.shape
        dt = x.dtype
        peep = None if w_cf is None else (w_ci, w_cf, w_co)
        x2, a = _project(xp, x, w_ih, None if b_ih is None else b_ih + b_hh)
        # the gate activations (gate-major, for backward) take the place of the projection:
        # a[t] is read into z before step t writes acts[t], so one (T, B, G) buffer serves both
        acts = a.reshape(T, G // H, B, H)
        P = xp.empty((T + 1, B, H), dtype=dt)   # h states (time order)
        cs = xp.empty((T + 1, B, H), dtype=dt)  # C states, same rows as P
        tcs = xp.empty((T, B, H), dtype=dt)     # tanh(C_t)
        first = T if reverse else 0
        _init_state(P, first, h0)
        _init_state(cs, first, c0)
        w_hhT = xp.ascontiguousarray(w_hh.T)   # (H, G): h @ W_hh^T as a plain (NN) matmul, the fast layout
        z = xp.empty((B, G), dtype=dt)
        for t, prev, cur in _steps(T, reverse):
            xp.matmul(P[prev], w_hhT, out=z)
            z += a[t]
            lstm_step_forward(xp, z, cs[prev], acts[t], cs[cur], tcs[t], P[cur], peep, coupled)
            if mask is not None:
                keep = ~mask[t]
                xp.copyto(P[cur], P[prev], where=keep)
                xp.copyto(cs[cur], cs[prev], where=keep)
        out, h_n = _outputs(P, T, reverse)
        c_n = cs[0 if reverse else T]
        ctx.save_for_backward(x, x2, acts, P, cs, tcs, out, h_n, c_n, w_ih, w_hh)
        ctx.peep, ctx.mask, ctx.reverse, ctx.coupled, ctx.with_bias = peep, mask, reverse, coupled, b_ih is not None
        return out, h_n, c_n

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn):
        _, x2, acts, P, cs, tcs, _, _, _, w_ih, w_hh = ctx.saved_tensors
        peep, mask, reverse, coupled, with_bias = ctx.peep, ctx.mask, ctx.reverse, ctx.coupled, ctx.with_bias
        xp = ctx.xp
        T, n, B, H = acts.shape
        dh, d_rows = _state_grads(d_out, d_hn, T, reverse)
        m, keep = _masks(mask, P.dtype)
        scratch = xp.empty(acts.shape[1:], dtype=P.dtype)
        dc = d_cn.copy()
        grads = _WeightGrads(ctx, x2, _hprev(P, T, reverse), w_ih, with_bias, 3)
        c_prev, c_cur = (cs[1:], cs[:-1]) if reverse else (cs[:-1], cs[1:])
        dpeep = [None, None, None]
        runs = _runs(_steps(T, reverse)[::-1], B * n * H * P.itemsize)
        dz = xp.empty((len(runs[0]), B, n * H), dtype=P.dtype)   # one run's dL/dz at a time
        for run in runs:
            t0 = min((t for t, _, _ in run), default=0)   # dz[t - t0]: time order within the run
            for t, prev, cur in run:
                if m is not None:
                    dh_pass, dc_pass = dh * keep[t], dc * keep[t]
                    dh *= m[t]
                    dc *= m[t]
                lstm_step_backward(xp, acts[t], cs[prev], tcs[t], dh, dc, dz[t - t0], scratch, peep, coupled)
                xp.matmul(dz[t - t0], w_hh, out=dh)
                if d_rows[prev] is not None:    # the output's gradient (none at the initial state)
                    dh += d_rows[prev]
                if m is not None:
                    dh += dh_pass
                    dc += dc_pass
            dz_run = dz[:len(run)]
            grads.add(dz_run, t0)
            if peep is not None:                # Σ over steps and rows of dz_gate * C
                dzg = gate_major(dz_run.reshape(-1, n * H), n)
                dzi, dzf, _, dzo = (None, *dzg) if coupled else dzg
                rows = slice(t0, t0 + len(run))
                cp, cc = c_prev[rows].reshape(-1, H), c_cur[rows].reshape(-1, H)
                parts = (None if coupled else (dzi * cp).sum(axis=0), (dzf * cp).sum(axis=0),
                         (dzo * cc).sum(axis=0))
                dpeep = [p if d is None else d + p for d, p in zip(dpeep, parts)]
        dx, dw_ih, dw_hh, db = grads.result(T, B)
        needs = ctx.needs_input_grad
        return (dx, dh if needs[1] else None, dc if needs[2] else None, dw_ih, dw_hh, db, db,
                *dpeep, None, None, None)

    @staticmethod
    def composed(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co, mask, reverse, coupled):
        """The same (output, h_n, c_n) from the cell of rnn_cells.py stepped over time (what
        create_graph differentiates)."""
        step = lambda x_t, s: list(lstm_cell(x_t, tuple(s), w_ih, w_hh, b_ih, b_hh,  # noqa: E731
                                             w_ci, w_cf, w_co, coupled=coupled))
        return _composed_states(x, [h0, c0], w_hh.shape[1], step, mask, reverse)


class GRUSequence(Function):
    """A whole GRU layer-direction; see rnn_cells.gru_cell."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, mask, reverse):
        xp = ctx.xp
        T, B, _ = x.shape
        G, H = w_hh.shape
        dt = x.dtype
        x2, a = _project(xp, x, w_ih, b_ih)    # the x-parts of r, z, n
        acts = xp.empty((T, 3, B, H), dtype=dt)  # r, z, n, gate-major, for backward
        hns = xp.empty((T, B, H), dtype=dt)      # W_hn h_{t-1} + b_hn, for backward
        P = xp.empty((T + 1, B, H), dtype=dt)
        _init_state(P, T if reverse else 0, h0)
        w_hhT = xp.ascontiguousarray(w_hh.T)   # (H, G): h @ W_hh^T as a plain (NN) matmul, the fast layout
        gh = xp.empty((B, G), dtype=dt)
        for t, prev, cur in _steps(T, reverse):
            xp.matmul(P[prev], w_hhT, out=gh)
            if b_hh is not None:
                gh += b_hh
            gru_step_forward(xp, a[t], gh, P[prev], acts[t], hns[t], P[cur])
            if mask is not None:
                xp.copyto(P[cur], P[prev], where=~mask[t])
        out, h_n = _outputs(P, T, reverse)
        ctx.save_for_backward(x, x2, acts, hns, P, out, h_n, w_ih, w_hh)
        ctx.mask, ctx.reverse, ctx.with_bias = mask, reverse, b_ih is not None
        return out, h_n

    @staticmethod
    def backward(ctx, d_out, d_hn):
        _, x2, acts, hns, P, _, _, w_ih, w_hh = ctx.saved_tensors
        mask, reverse, with_bias = ctx.mask, ctx.reverse, ctx.with_bias
        xp = ctx.xp
        T, _, B, H = acts.shape
        dh, d_rows = _state_grads(d_out, d_hn, T, reverse)
        m, keep = _masks(mask, P.dtype)
        dgx = xp.empty((T, B, 3 * H), dtype=P.dtype)
        dgh = xp.empty_like(dgx)
        scratch = xp.empty(acts.shape[1:], dtype=P.dtype)
        dh_direct = xp.empty_like(dh)
        for t, prev, cur in _steps(T, reverse)[::-1]:
            if m is not None:
                dh_pass = dh * keep[t]
                dh *= m[t]
            gru_step_backward(xp, acts[t], hns[t], P[prev], dh, dgx[t], dgh[t], dh_direct, scratch)
            xp.matmul(dgh[t], w_hh, out=dh)
            dh += dh_direct
            if d_rows[prev] is not None:
                dh += d_rows[prev]
            if m is not None:
                dh += dh_pass
        needs = ctx.needs_input_grad
        dgx2, dgh2 = dgx.reshape(T * B, 3 * H), dgh.reshape(T * B, 3 * H)
        dx = (dgx2 @ w_ih).reshape(T, B, w_ih.shape[1]) if needs[0] else None
        dw_ih = dgx2.T @ x2 if needs[2] else None
        dw_hh = dgh2.T @ _hprev(P, T, reverse).reshape(T * B, H) if needs[3] else None
        db_ih = dgx2.sum(axis=0) if with_bias else None
        db_hh = dgh2.sum(axis=0) if with_bias else None
        return dx, dh if needs[1] else None, dw_ih, dw_hh, db_ih, db_hh, None, None

    @staticmethod
    def composed(x, h0, w_ih, w_hh, b_ih, b_hh, mask, reverse):
        """The same (output, h_n) from the cell of rnn_cells.py stepped over time (what
        create_graph differentiates)."""
        step = lambda x_t, s: [gru_cell(x_t, s[0], w_ih, w_hh, b_ih, b_hh)]  # noqa: E731
        return _composed_states(x, [h0], w_hh.shape[1], step, mask, reverse)


def _composed_states(x, init, H, step, mask, reverse):
    """(output, h_n[, c_n]) (see the module docstring) built by stepping a cell."""
    T, B = x.shape[0], x.shape[1]
    state = [s if s is not None else zeros(B, H, dtype=x.dtype, device=x.device) for s in init]
    outs = [None] * T
    xs = x.unbind(0)
    for t, _, _ in _steps(T, reverse):
        new = step(xs[t], state)
        if mask is not None:   # padded steps keep the previous state
            new = [where(Tensor._wrap(mask[t], x.device), n, s) for n, s in zip(new, state)]
        state = new
        outs[t] = state[0]
    output = stack(outs, dim=0) if T else zeros(0, B, H, dtype=x.dtype, device=x.device)
    return (output, *state)
