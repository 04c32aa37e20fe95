"""Many-to-many, same length: one label per time step (e.g. named-entity tags)."""
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.module import Module
from ._common import recurrent_layer


class SequenceTagger(Module):
    """x -> (bidirectional) recurrent layer(s) -> Linear on every step -> (T, B, num_tags) logits.

    Bidirectional by default: a tag may depend on what comes after (the reverse direction
    reads the sequence from its end). With vocab_size, x is (T, B) token ids. With lengths,
    logits at padded positions are computed from zeros: mask them out of the loss
    (e.g. cross_entropy with ignore_index on padded targets).
    """

    def __init__(self, input_size, hidden_size, num_tags, num_layers=1, cell="LSTM", bidirectional=True,
                 dropout=0.0, vocab_size=None, batch_first=False):
        super().__init__()
        self.embedding = Embedding(vocab_size, input_size) if vocab_size else None
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers=num_layers, dropout=dropout,
                                   bidirectional=bidirectional, batch_first=batch_first)
        self.tagger = Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, x, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x)
        out, _ = self.rnn(x, lengths=lengths)
        return self.tagger(out)
