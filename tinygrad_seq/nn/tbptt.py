"""Truncated backpropagation through time, and a look at gradient health.

Full BPTT through a 10,000-step sequence keeps 10,000 steps of activations alive and
multiplies 10,000 Jacobians (the slides' (0.9)^200 and (1.1)^200). Truncated BPTT
cuts the sequence into chunks of k steps: the state is carried from chunk to chunk
(stateful training) but `detach()`ed, so each backward stops at the chunk's start
and memory stays that of k steps:

    runner = TBPTT(model, loss_fn, optimizer, k=50, max_norm=1.0)
    losses = runner.run(x, y)              # x, y: (T, B, ...) time-major

    # or by hand
    state = None
    for xc, yc in tbptt_chunks(x, y, k=50):
        out, state = model(xc, state)
        loss = loss_fn(out, yc)
        opt.zero_grad(); loss.backward(); opt.step()
        state = detach_state(state)        # keep the values, cut the graph

`model(x_chunk, state) -> (output, new_state)` is the contract (what nn.LSTM returns,
with `state` as hx). Per-step gradient norms ||dL/dh_t|| (vanishing / exploding) come
from a layer built with record_hidden_grads=True: `layer.hidden_grad_norms()`, or
`hidden_grad_norms(list_of_retained_h)` for a hand-written loop.
"""
import numpy as np

from ..tensor import Tensor


def detach_state(state):
    """h, (h, c), nested tuples/lists of them, or None -> the same values cut from the graph."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor, a tuple/list of Tensors or None, got {type(state).__name__}")


def tbptt_chunks(*seqs, k, time_dim=0):
    """Yield aligned chunks of k time steps (the last one may be shorter) from each
    sequence (Tensors or arrays sharing the length along time_dim); with one sequence
    the chunks come bare, with several as tuples."""
    if not seqs:
        raise ValueError("tbptt_chunks: give at least one sequence")
    k = int(k)
    if k < 1:
        raise ValueError(f"tbptt_chunks: k must be >= 1, got {k}")
    T = seqs[0].shape[time_dim]
    for s in seqs[1:]:
        if s.shape[time_dim] != T:
            raise ValueError(f"tbptt_chunks: sequences differ in length along dim {time_dim}: "
                             f"{[tuple(q.shape) for q in seqs]}")
    lead = (slice(None),) * time_dim
    for start in range(0, T, k):
        idx = lead + (slice(start, min(start + k, T)),)
        chunk = tuple(s[idx] for s in seqs)
        yield chunk[0] if len(chunk) == 1 else chunk


class TBPTT:
    """Stateful truncated-BPTT trainer over long sequences.

    model(x_chunk, state) -> (output, state); loss_fn(output, y_chunk) -> scalar Tensor.
    Each chunk of k steps: forward from the carried state, backward, optional gradient
    clipping (max_norm, via nn.utils.clip_grad_norm_), optimizer step, then the state
    is detached. `self.state` holds the carried (detached) state between calls."""

    def __init__(self, model, loss_fn, optimizer=None, k=50, time_dim=0, max_norm=None):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.k, self.time_dim, self.max_norm = int(k), int(time_dim), max_norm
        self.state = None

    def reset(self):
        """Forget the carried state (start of a new, unrelated sequence)."""
        self.state = None

    def step(self, x, y):
        """One chunk: returns its loss as a float."""
        out, state = self.model(x, self.state)
        loss = self.loss_fn(out, y)
        if self.optimizer is not None:
            self.optimizer.zero_grad()
        loss.backward()
        if self.max_norm is not None:
            from .utils import clip_grad_norm_
            params = (p for g in self.optimizer.param_groups for p in g["params"]) if self.optimizer else \
                self.model.parameters()
            clip_grad_norm_(list(params), self.max_norm)
        if self.optimizer is not None:
            self.optimizer.step()
        self.state = detach_state(state)
        return float(loss.item())

    def run(self, x, y, callback=None):
        """Train over the whole sequence chunk by chunk; returns the per-chunk losses.
        callback(chunk_index, loss), if given, is called after each chunk."""
        losses = []
        for i, (xc, yc) in enumerate(tbptt_chunks(x, y, k=self.k, time_dim=self.time_dim)):
            losses.append(self.step(xc, yc))
            if callback is not None:
                callback(i, losses[-1])
        return losses


def hidden_grad_norms(hidden_states):
    """||dL/dh_t|| for a list of hidden-state tensors on which retain_grad() was called
    before backward (0 where no gradient reached h_t)."""
    return np.array([0.0 if h.grad is None else float(np.linalg.norm(h.grad.numpy()))
                     for h in hidden_states])
