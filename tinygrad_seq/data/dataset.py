"""Datasets and a DataLoader with torch.utils.data's names.

A dataset is anything with __len__ and __getitem__(i). The DataLoader cuts a
(possibly shuffled) order of indices into batches and merges each batch's
samples with `collate_fn` (by default `default_collate`, which stacks).
"""
import bisect
import itertools
import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..factories import stack
from .sampler import SequentialSampler, RandomSampler, BatchSampler


class Dataset:
    """Base class: override __getitem__(index) and __len__()."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: override __iter__ (and __len__ if the length is known). A
    DataLoader reads it in order, batch_size samples per batch; it takes no sampler, so
    shuffle, sampler and batch_sampler raise, as in torch."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __len__(self):
        raise TypeError(f"object of type '{type(self).__name__}' has no len() (an IterableDataset "
                        "is a stream; define __len__ if its length is known)")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """IterableDatasets one after another (what `a + b` gives for iterable datasets)."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            yield from d

    def __len__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
        return sum(len(d) for d in self.datasets)


def get_worker_info():
    """torch.utils.data.get_worker_info: None, as in torch's main process. This DataLoader
    loads every sample in the main process (num_workers is accepted and changes nothing), so
    there is never a worker to describe, and an IterableDataset that splits its stream between
    workers by get_worker_info() yields the whole stream."""
    return None


class TensorDataset(Dataset):
    """Samples are rows: dataset[i] = (t[i] for t in tensors). All tensors share dim 0."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in sizes or len(set(sizes)) != 1:
            shapes = ", ".join(str(t.shape) for t in self.tensors)
            raise ValueError(f"TensorDataset: all tensors need the same size in dim 0, got shapes {shapes}")

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        """Rows `indices` of every tensor in one gather: equal to stacking dataset[i]
        for i in indices (what default_collate does), without a Python loop per sample."""
        return tuple(t[backend.to_device(np.asarray(indices, dtype=np.int64), t.device)] for t in self.tensors)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order: subset[i] = dataset[indices[i]]."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Datasets one after another: index i falls in the first dataset whose cumulative
    length exceeds i."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"ConcatDataset: index {idx} is out of range for a dataset of length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for a dataset of length {n}")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[d][idx - (self.cumulative_sizes[d - 1] if d else 0)]


def random_split(dataset, lengths, generator=None):
    """Split `dataset` into non-overlapping Subsets of the given lengths, at a random
    permutation drawn from `generator` (a numpy.random.Generator; default the library one).
    Fractions that sum to 1 give floor(frac * len) each, and the remainder goes one sample
    at a time to the splits in order, as in torch."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1: {frac}")
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this might result in an "
                              "empty dataset", stacklevel=2)
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, not to the length "
                         f"of the dataset ({n})")
    gen = generator if generator is not None else backend.rng("cpu")
    order = gen.permutation(n).tolist()
    return [Subset(dataset, order[end - k:end]) for k, end in zip(lengths, itertools.accumulate(lengths))]


def default_collate(batch):
    """Merge a list of samples into a batch, like torch's default_collate: Tensors and
    arrays are stacked into a Tensor with a new dim 0; Python ints become an int64
    Tensor, floats a float32 Tensor (this library's default float, torch uses float64),
    bools a bool Tensor; strings stay a list; tuples, lists and dicts are collated
    field by field and keep their type."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        _same_shapes(batch, lambda t: t.shape)
        return stack(batch)
    if backend.is_array(elem):
        _same_shapes(batch, lambda a: a.shape)
        return Tensor(backend.xp(backend.device_of(elem)).stack(batch))
    if isinstance(elem, np.generic):
        return Tensor(np.array(batch))
    if isinstance(elem, (bool, numbers.Number)):
        return Tensor(list(batch))
    if isinstance(elem, str):
        return list(batch)
    if isinstance(elem, dict):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, (tuple, list)):
        if any(len(s) != len(elem) for s in batch):
            raise ValueError(f"default_collate: samples have different lengths {sorted({len(s) for s in batch})}")
        fields = [default_collate(list(samples)) for samples in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__}; pass a collate_fn")


def _same_shapes(batch, shape_of):
    shapes = {tuple(shape_of(x)) for x in batch}
    if len(shapes) != 1:
        raise ValueError(f"default_collate: cannot stack samples of different shapes {sorted(shapes)}; "
                         "pad them (data.pad_sequences) or pass a collate_fn")


class DataLoader:
    """Iterate over a dataset in batches, with torch.utils.data.DataLoader's options.

    The indices come from `sampler` (default: SequentialSampler, or RandomSampler with
    shuffle=True) and are grouped by `batch_sampler` (default: BatchSampler(sampler,
    batch_size, drop_last)); each batch's samples are merged by `collate_fn`.

    shuffle draws a new order every epoch: from `generator` (a numpy.random.Generator), else
    from the library generator (so `tg.manual_seed` repeats it), or, with `seed`, from a
    generator of its own seeded by (seed, epoch), so the order of epoch k is fixed whatever
    else draws random numbers. Samples are loaded in this process: num_workers and
    pin_memory are accepted for torch scripts and change nothing in the batches.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, generator=None, *, seed=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        stream = isinstance(dataset, IterableDataset)
        if stream:   # read in order: no sampler to shuffle or choose the indices
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                     f"but got {name}={value!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: the dataset ({type(dataset).__name__}) needs __len__ and __getitem__")
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be a non-negative integer, got {num_workers!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.num_workers, self.pin_memory = int(num_workers), bool(pin_memory)
        self.generator = generator
        self.seed = seed
        self.epoch = 0  # counts started epochs (save it with the checkpoint to resume a seeded order)
        if stream:   # sampler and batch_sampler stay None (torch puts an infinite dummy sampler there)
            self.sampler = self.batch_sampler = None
            return
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if self.shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        if batch_sampler is None:
            batch_sampler = BatchSampler(sampler, self.batch_size, self.drop_last)
        self.batch_sampler = batch_sampler

    def __len__(self):
        if self.batch_sampler is None:   # an IterableDataset: from its own __len__, if it has one
            n = len(self.dataset)
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler)

    def __iter__(self):
        if self.seed is not None and self.shuffle and isinstance(self.sampler, RandomSampler):
            self.sampler.generator = np.random.default_rng((int(self.seed), self.epoch))
        self.epoch += 1
        # a TensorDataset (whose __getitem__ is not overridden) gathers a whole batch at once
        fast = (self.collate_fn is None and isinstance(self.dataset, TensorDataset)
                and type(self.dataset).__getitem__ is TensorDataset.__getitem__)
        collate = self.collate_fn or default_collate
        if self.batch_sampler is None:   # an IterableDataset: batches cut from its stream
            stream = iter(self.dataset)
            while True:
                batch = list(itertools.islice(stream, self.batch_size))
                if not batch or (self.drop_last and len(batch) < self.batch_size):
                    return
                yield collate(batch)
        for idx in self.batch_sampler:
            if fast:
                yield self.dataset.get_batch(idx)
            else:
                yield collate([self.dataset[j] for j in idx])
