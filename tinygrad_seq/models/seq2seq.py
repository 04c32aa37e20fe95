"""Many-to-many with different lengths: an encoder-decoder (Sutskever et al. 2014 style)."""
import numpy as np

from .. import backend
from ..autograd import no_grad
from ..factories import cat
from ..tensor import Tensor
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.module import Module
from ._common import recurrent_layer


class Seq2Seq(Module):
    """The encoder reads the source; its final state (h_n[, c_n]) starts the decoder, which
    predicts the target one token at a time.

    forward(src (S, B), tgt_in (T, B), src_lengths=None, teacher_forcing_ratio=1.0) -> logits (T, B, V):
    tgt_in is the target shifted right ([BOS, y_1 .. y_{T-1}]); train with cross-entropy against
    [y_1 .. y_T]. With teacher_forcing_ratio < 1, at each step the decoder is fed its own previous
    prediction (argmax) instead of the true token with probability 1 - ratio (one draw per step
    from the manual_seed generator). greedy_decode(src, max_len, bos_id) generates.
    """

    def __init__(self, src_vocab, tgt_vocab, embedding_dim=32, hidden_size=64, num_layers=1, cell="LSTM",
                 dropout=0.0):
        super().__init__()
        self.src_embedding = Embedding(src_vocab, embedding_dim)
        self.encoder = recurrent_layer(cell, embedding_dim, hidden_size, num_layers=num_layers, dropout=dropout)
        self.tgt_embedding = Embedding(tgt_vocab, embedding_dim)
        self.decoder = recurrent_layer(cell, embedding_dim, hidden_size, num_layers=num_layers, dropout=dropout)
        self.out = Linear(hidden_size, tgt_vocab)

    def encode(self, src, src_lengths=None):
        """The encoder's final state: each sequence's state at its last valid step."""
        _, state = self.encoder(self.src_embedding(src), lengths=src_lengths)
        return state

    def decode_step(self, ids, state):
        """ids (1, B) -> (logits (1, B, V), state)."""
        out, state = self.decoder(self.tgt_embedding(ids), state)
        return self.out(out), state

    def forward(self, src, tgt_in, src_lengths=None, teacher_forcing_ratio=1.0):
        if not 0.0 <= teacher_forcing_ratio <= 1.0:
            raise ValueError(f"Seq2Seq: teacher_forcing_ratio must be in [0, 1], got {teacher_forcing_ratio}")
        state = self.encode(src, src_lengths)
        if teacher_forcing_ratio >= 1.0:   # the whole target in one fused decoder call
            out, _ = self.decoder(self.tgt_embedding(tgt_in), state)
            return self.out(out)
        T = tgt_in.shape[0]
        logits, inp = [], tgt_in[0:1]
        for t in range(T):
            step, state = self.decode_step(inp, state)
            logits.append(step)
            if t + 1 < T:
                teacher = backend.rng("cpu").random() < teacher_forcing_ratio
                inp = tgt_in[t + 1:t + 2] if teacher else step.argmax(axis=-1)
        return cat(logits, dim=0)

    @no_grad()
    def greedy_decode(self, src, max_len, bos_id, eos_id=None, src_lengths=None):
        """Feed each step's argmax back in, from BOS, for max_len steps (or until every sequence
        has produced eos_id). Returns an (n, B) int64 NumPy array."""
        was_training = self.training
        self.eval()
        try:
            state = self.encode(src, src_lengths)
            B = src.shape[1]
            inp = Tensor(np.full((1, B), bos_id, dtype=np.int64), device=self.out.weight.device)
            out, done = [], np.zeros(B, dtype=bool)
            for _ in range(int(max_len)):
                step, state = self.decode_step(inp, state)
                inp = step.argmax(axis=-1)
                out.append(inp)
                if eos_id is not None:   # stopping early needs the ids on the host at every step
                    done |= inp.numpy()[0] == eos_id
                    if done.all():
                        break
        finally:
            self.train(was_training)
        return cat(out, dim=0).numpy()   # (n, B): one copy from the GPU
