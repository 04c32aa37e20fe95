"""Data pipelines: datasets and batching (torch.utils.data names), text to ids,
training windows, padding, and bag-of-words / n-gram / TF-IDF vectorizers."""
from .dataset import Dataset, TensorDataset, DataLoader, default_collate  # noqa: F401
from .text import (tokenize, Vocab, CharVocab, WordVocab, PAD, UNK,  # noqa: F401
                   next_token_windows, sequence_windows, pad_sequences)
from .vectorize import BagOfWords, NGramVectorizer, TfidfVectorizer, STOP_WORDS  # noqa: F401
from .distributed import DistributedSampler  # noqa: F401
