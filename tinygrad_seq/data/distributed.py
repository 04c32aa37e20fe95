"""DistributedSampler: each rank's share of a dataset, with torch's semantics."""
import math
import numbers

import numpy as np


class DistributedSampler:
    """DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False)

    Splits the indices of `dataset` into num_replicas shards of equal length, rank taking
    every num_replicas-th index from position `rank`. To make the shards equal, the index list is
    padded by repeating its start (every sample seen at least once per epoch), or with
    drop_last=True cut to a multiple of num_replicas. shuffle draws a new order each epoch from
    (seed + epoch): the same on every rank, so the shards never overlap; call set_epoch(epoch) at
    the start of each epoch. num_replicas and rank default to the process group's.
    Pass it to DataLoader(dataset, sampler=...).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        from .. import distributed as dist   # here: data must not depend on distributed at import
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: the dataset ({type(dataset).__name__}) needs __len__")
        if num_replicas is None:
            num_replicas = dist.get_world_size()
        if rank is None:
            rank = dist.get_rank()
        for name, v in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"DistributedSampler: {name} must be an integer, got {v!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                indices = np.concatenate([indices, np.tile(indices, math.ceil(pad / n))[:pad]])
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use the order of this epoch from now on (call it with the same epoch on every rank)."""
        self.epoch = int(epoch)
