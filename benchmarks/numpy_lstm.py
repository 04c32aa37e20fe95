"""A char-LSTM language model written out by hand in NumPy: no autograd, no framework.

This is the real speed limit for a NumPy framework: the benchmarks compare our
nn.LSTM train step against it. Embedding -> 1-layer LSTM (PyTorch's gate order
i, f, g, o) -> linear decoder on every step -> mean cross-entropy -> Adam.
"""
import numpy as np


def _sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5


class NumpyCharLSTM:
    def __init__(self, vocab, emb, hidden, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        k = 1 / np.sqrt(hidden)
        u = lambda *s, b=k: rng.uniform(-b, b, s).astype(dtype)  # noqa: E731
        self.p = {"emb": rng.standard_normal((vocab, emb)).astype(dtype),
                  "w_ih": u(4 * hidden, emb), "w_hh": u(4 * hidden, hidden),
                  "b_ih": u(4 * hidden), "b_hh": u(4 * hidden),
                  "w_dec": u(vocab, hidden, b=1 / np.sqrt(hidden)), "b_dec": u(vocab, b=1 / np.sqrt(hidden))}
        self.m = {n: np.zeros_like(v) for n, v in self.p.items()}
        self.v = {n: np.zeros_like(v) for n, v in self.p.items()}
        self.t = 0
        self.H = hidden

    def loss_and_grads(self, ids, targets):
        """ids, targets: (T, B) int arrays. Returns (loss, grads dict)."""
        p, H = self.p, self.H
        T, B = ids.shape
        X = p["emb"][ids]                                         # (T, B, D)
        XW = (X.reshape(T * B, -1) @ p["w_ih"].T + (p["b_ih"] + p["b_hh"])).reshape(T, B, 4 * H)
        hs = np.zeros((T + 1, B, H), X.dtype)
        cs = np.zeros((T + 1, B, H), X.dtype)
        gates = np.empty((T, B, 4 * H), X.dtype)                 # activated i, f, g, o
        tanh_c = np.empty((T, B, H), X.dtype)
        for t in range(T):
            a = XW[t] + hs[t] @ p["w_hh"].T
            a[:, :2 * H] = _sigmoid(a[:, :2 * H])
            a[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])
            a[:, 3 * H:] = _sigmoid(a[:, 3 * H:])
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            cs[t + 1] = f * cs[t] + i * g
            tanh_c[t] = np.tanh(cs[t + 1])
            hs[t + 1] = o * tanh_c[t]
            gates[t] = a
        Hf = hs[1:].reshape(T * B, H)
        logits = Hf @ p["w_dec"].T + p["b_dec"]
        logits -= logits.max(1, keepdims=True)
        e = np.exp(logits)
        probs = e / e.sum(1, keepdims=True)
        flat_t = targets.reshape(-1)
        n = T * B
        loss = -np.log(probs[np.arange(n), flat_t]).mean()
        dlogits = probs
        dlogits[np.arange(n), flat_t] -= 1
        dlogits /= n
        grads = {"w_dec": dlogits.T @ Hf, "b_dec": dlogits.sum(0)}
        dH = (dlogits @ p["w_dec"]).reshape(T, B, H)
        dG = np.empty_like(gates)
        dh = np.zeros((B, H), X.dtype)
        dc = np.zeros((B, H), X.dtype)
        for t in reversed(range(T)):
            a = gates[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dh = dh + dH[t]
            dc = dc + dh * o * (1 - tanh_c[t] ** 2)
            d = dG[t]
            d[:, :H] = dc * g * i * (1 - i)
            d[:, H:2 * H] = dc * cs[t] * f * (1 - f)
            d[:, 2 * H:3 * H] = dc * i * (1 - g * g)
            d[:, 3 * H:] = dh * tanh_c[t] * o * (1 - o)
            dc = dc * f
            dh = d @ p["w_hh"]
        dGf = dG.reshape(T * B, 4 * H)
        grads["w_hh"] = dGf.T @ hs[:-1].reshape(T * B, H)
        grads["w_ih"] = dGf.T @ X.reshape(T * B, -1)
        grads["b_ih"] = grads["b_hh"] = dGf.sum(0)
        dX = dGf @ p["w_ih"]
        demb = np.zeros_like(p["emb"])
        np.add.at(demb, ids.reshape(-1), dX)
        grads["emb"] = demb
        return loss, grads

    def adam_step(self, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.t += 1
        for n, g in grads.items():
            m, v = self.m[n], self.v[n]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            mhat = m / (1 - b1 ** self.t)
            vhat = v / (1 - b2 ** self.t)
            self.p[n] -= lr * mhat / (np.sqrt(vhat) + eps)

    def train_step(self, ids, targets, lr=1e-3):
        loss, grads = self.loss_and_grads(ids, targets)
        self.adam_step(grads, lr)
        return loss


class LSTMMatmuls:
    """Only the matrix products of an LSTM language-model train step, in NumPy, at the step's
    shapes: per layer the input projection of all steps, T recurrent products forward and T
    backward (these must run one after another), and the weight and input gradients as one
    product each over the stacked steps; then the decoder forward and backward. No gate math,
    no loss, no optimizer: a framework built on this BLAS cannot take less time than this."""

    def __init__(self, vocab, emb, hidden, batch, steps, layers=1, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        r = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
        G, self.T, self.B, self.H = 4 * hidden, steps, batch, hidden
        self.x = [r(steps * batch, n) for n in [emb] + [hidden] * (layers - 1)]
        self.w_ih = [r(G, x.shape[1]) for x in self.x]
        self.w_hh = [r(G, hidden) for _ in self.x]
        self.h = r(steps + 1, batch, hidden)
        self.dz = r(steps, batch, G)
        self.w_dec = r(vocab, hidden)
        self.z_t, self.dh_t = np.empty((batch, G), dtype), np.empty((batch, hidden), dtype)

    def step(self):
        T, B, H = self.T, self.B, self.H
        h_prev, h_out = self.h[:-1], self.h[1:].reshape(T * B, H)
        for x, w_ih, w_hh in zip(self.x, self.w_ih, self.w_hh):
            z = x @ w_ih.T   # noqa: F841 (timed, not used)
            for t in range(T):
                np.matmul(h_prev[t], w_hh.T, out=self.z_t)
        dlogits = h_out @ self.w_dec.T
        d_w_dec, d_h = dlogits.T @ h_out, dlogits @ self.w_dec   # noqa: F841
        dz = self.dz.reshape(T * B, -1)
        for x, w_ih, w_hh in zip(self.x, self.w_ih, self.w_hh):
            for t in range(T):
                np.matmul(self.dz[t], w_hh, out=self.dh_t)
            d_w_hh, d_w_ih, d_x = dz.T @ h_prev.reshape(T * B, H), dz.T @ x, dz @ w_ih   # noqa: F841
