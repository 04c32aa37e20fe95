"""Many-to-one: classify a whole (variable-length) sequence from its final hidden state."""
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.module import Module
from ._common import final_hidden, recurrent_layer


class SequenceClassifier(Module):
    """x -> recurrent layer(s) -> h_n of the last layer (both directions if bidirectional) -> Linear.

    With vocab_size, x is (T, B) token ids and an Embedding(vocab_size, input_size) comes first;
    otherwise x is (T, B, input_size) features. forward(x, lengths=None) -> logits (B, num_classes);
    with lengths, each sequence is read up to its own last valid step (padding is ignored).
    """

    def __init__(self, input_size, hidden_size, num_classes, num_layers=1, cell="LSTM", bidirectional=False,
                 dropout=0.0, vocab_size=None, batch_first=False):
        super().__init__()
        self.embedding = Embedding(vocab_size, input_size) if vocab_size else None
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers=num_layers, dropout=dropout,
                                   bidirectional=bidirectional, batch_first=batch_first)
        self.classifier = Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, x, lengths=None):
        if self.embedding is not None:
            x = self.embedding(x)
        _, state = self.rnn(x, lengths=lengths)
        return self.classifier(final_hidden(self.rnn, state))
