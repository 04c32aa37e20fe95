"""Small reusable sequence architectures, the ones the slides draw:

    CharRNN             one-to-many / many-to-many language model: embedding -> RNN/LSTM/GRU -> linear
                        decoder on every step; `generate(seed, n, temperature)` samples text
    SequenceClassifier  many-to-one (sentiment-style): the final hidden state of each
                        (variable-length) sequence -> class logits
    SequenceTagger      many-to-many, same length (named-entity-style): one label per step,
                        bidirectional by default
    Seq2Seq             many-to-many, different lengths (translation-style): encoder state ->
                        decoder, teacher forcing ratio, greedy decoding

All are time-major by default (inputs (T, B) ids or (T, B, I) features) like nn.LSTM,
stack with num_layers, and pick the cell with cell="LSTM" | "GRU" | "RNN".
"""
from ._common import recurrent_layer  # noqa: F401
from .language_model import CharRNN  # noqa: F401
from .classifier import SequenceClassifier  # noqa: F401
from .tagger import SequenceTagger  # noqa: F401
from .seq2seq import Seq2Seq  # noqa: F401
