"""Data pipelines: datasets and batching (torch.utils.data names), text to ids,
training windows, padding, and bag-of-words / n-gram / TF-IDF vectorizers."""
from .dataset import (Dataset, TensorDataset, Subset, ConcatDataset, random_split,  # noqa: F401
                      DataLoader, default_collate, IterableDataset, ChainDataset, get_worker_info)
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,  # noqa: F401
                      BatchSampler, WeightedRandomSampler)
from .text import (tokenize, Vocab, CharVocab, WordVocab, PAD, UNK,  # noqa: F401
                   next_token_windows, sequence_windows, pad_sequences)
from .vectorize import BagOfWords, NGramVectorizer, TfidfVectorizer, STOP_WORDS  # noqa: F401
from .distributed import DistributedSampler  # noqa: F401
