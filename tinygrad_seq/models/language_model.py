"""A character (or word) level language model: embedding -> recurrent layer(s) -> linear decoder."""
import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ..nn.dropout import Dropout
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.module import Module
from ._common import recurrent_layer, sample


class CharRNN(Module):
    """P(x_t | x_1..x_{t-1}) ≈ P(x_t | h_{t-1}): the slides' latent-variable language model.

    forward(ids (T, B) int, state=None) -> (logits (T, B, vocab), state): a prediction on every
    step (many-to-many); train it with cross-entropy against the ids shifted by one.
    generate(seed_ids, n, temperature) samples n more ids (one-to-many).
    """

    def __init__(self, vocab_size, embedding_dim=32, hidden_size=128, num_layers=1, cell="LSTM",
                 dropout=0.0, **rnn_kwargs):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = Embedding(vocab_size, embedding_dim)
        # (the layer's own dropout acts between stacked layers only, so one layer gets none)
        self.rnn = recurrent_layer(cell, embedding_dim, hidden_size, num_layers=num_layers,
                                   dropout=dropout if num_layers > 1 else 0.0, **rnn_kwargs)
        self.drop = Dropout(dropout)
        self.decoder = Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.drop(self.embedding(ids)), state)
        return self.decoder(self.drop(out)), state

    @no_grad()
    def generate(self, seed_ids, n, temperature=1.0, state=None):
        """Feed seed_ids (a list / 1-D array of ids, or (T0, B) for a batch) from `state` (None:
        zeros), then sample n ids one at a time, each fed back as the next input.
        temperature < 1 sharpens the distribution, > 1 flattens it, 0 is greedy (argmax).
        Reproducible under tg.manual_seed. Returns a list of n ids (or an (n, B) array)."""
        seed = np.asarray(seed_ids.numpy() if isinstance(seed_ids, Tensor) else seed_ids)
        if seed.ndim not in (1, 2) or seed.shape[0] == 0 or seed.dtype.kind not in "iu":
            raise ValueError(f"CharRNN.generate: seed_ids must be a non-empty sequence of integer ids "
                             f"(T0,) or (T0, B), got shape {seed.shape} and dtype {seed.dtype}")
        batched = seed.ndim == 2
        device = self.decoder.weight.device
        ids = Tensor(seed.reshape(seed.shape[0], -1).astype(np.int64), device=device)
        was_training = self.training
        self.eval()
        try:
            logits, state = self(ids, state)
            out = []
            for _ in range(int(n)):
                nxt = sample(logits[-1].numpy(), temperature)
                out.append(nxt)
                logits, state = self(Tensor(nxt[None, :].astype(np.int64), device=device), state)
        finally:
            self.train(was_training)
        res = np.stack(out) if out else np.zeros((0, ids.shape[1]), dtype=np.int64)
        return res if batched else res[:, 0].tolist()
