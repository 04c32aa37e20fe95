"""Datasets and a DataLoader with torch.utils.data's names.

A dataset is anything with __len__ and __getitem__(i). The DataLoader cuts a
(possibly shuffled) order of indices into batches and merges each batch's
samples with `collate_fn` (by default `default_collate`, which stacks).
"""
import math
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor
from ..factories import stack


class Dataset:
    """Base class: override __getitem__(index) and __len__()."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


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
    """Iterate over a dataset in batches.

    shuffle draws a new order every epoch: from the library generator (so
    `tg.manual_seed` repeats it), or, with `seed`, from a generator of its own
    seeded by (seed, epoch), so the order of epoch k is fixed whatever else draws
    random numbers.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, seed=None,
                 sampler=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: the dataset ({type(dataset).__name__}) needs __len__ and __getitem__")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             "(a sampler such as DistributedSampler does its own shuffling)")
        self.sampler = sampler   # any iterable of indices with __len__ (e.g. DistributedSampler)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.seed = seed
        self.epoch = 0  # counts started epochs (save it with the checkpoint to resume a seeded order)

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self):
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.int64)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        gen = backend.rng("cpu") if self.seed is None else np.random.default_rng((int(self.seed), self.epoch))
        return gen.permutation(n)

    def __iter__(self):
        order = self._order()
        self.epoch += 1
        # a TensorDataset (whose __getitem__ is not overridden) gathers a whole batch at once
        fast = (self.collate_fn is None and isinstance(self.dataset, TensorDataset)
                and type(self.dataset).__getitem__ is TensorDataset.__getitem__)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            if fast:
                yield self.dataset.get_batch(idx)
            else:
                collate = self.collate_fn or default_collate
                yield collate([self.dataset[int(j)] for j in idx])
