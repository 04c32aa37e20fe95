"""torch.utils.data's samplers, Subset, ConcatDataset, random_split and DataLoader options,
against torch where the result is deterministic (orders, batching, lengths, errors)."""
import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq import data
from tinygrad_seq.data import (BatchSampler, ConcatDataset, DataLoader, RandomSampler, Sampler,
                               SequentialSampler, Subset, SubsetRandomSampler, TensorDataset, random_split)

torch = pytest.importorskip("torch")
tud = torch.utils.data


class Squares(data.Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return i * i

    def __len__(self):
        return self.n


class TSquares(tud.Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return i * i

    def __len__(self):
        return self.n


@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False),
                                            (7, 7, False), (5, 1, True)])
def test_batch_sampler_and_sequential_sampler_match_torch(n, bs, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert list(SequentialSampler(range(n))) == list(tud.SequentialSampler(range(n)))
    # a sampler is anything iterable: a plain list works too
    assert list(BatchSampler([4, 2, 0, 1], 3, False)) == [[4, 2, 0], [1]]


@pytest.mark.parametrize("bad", [dict(batch_size=0), dict(batch_size=-1), dict(batch_size=True),
                                 dict(batch_size=2.0), dict(drop_last=1), dict(drop_last=None)])
def test_batch_sampler_errors_match_torch(bad):
    kw = dict(batch_size=2, drop_last=False) | bad
    with pytest.raises(ValueError):
        tud.BatchSampler(range(4), **kw)
    with pytest.raises(ValueError, match="BatchSampler"):
        BatchSampler(range(4), **kw)


@pytest.mark.parametrize("replacement,num_samples", [(False, None), (False, 23), (False, 4), (True, None),
                                                     (True, 50)])
def test_random_sampler_draws(replacement, num_samples):
    n = 10
    s = RandomSampler(range(n), replacement=replacement, num_samples=num_samples,
                      generator=np.random.default_rng(0))
    t = tud.RandomSampler(range(n), replacement=replacement, num_samples=num_samples)
    got = list(s)
    assert len(s) == len(t) == len(got) == len(list(t))
    assert all(isinstance(i, int) and 0 <= i < n for i in got)
    if not replacement:   # whole permutations, then a cut-short one, as torch
        k = num_samples or n
        for start in range(0, k - k % n, n):
            assert sorted(got[start:start + n]) == list(range(n))
        assert len(set(got[k - k % n:])) == k % n
    else:
        assert len(set(got)) < len(got) or len(got) <= n   # repeats happen with replacement
    # the same generator seed gives the same order; tg.manual_seed repeats the default draws
    assert list(RandomSampler(range(n), replacement, num_samples, np.random.default_rng(0))) == got
    tg.manual_seed(3)
    a = list(RandomSampler(range(n), replacement, num_samples))
    tg.manual_seed(3)
    assert list(RandomSampler(range(n), replacement, num_samples)) == a


@pytest.mark.parametrize("kw,err", [(dict(replacement=1), TypeError), (dict(num_samples=0), ValueError),
                                    (dict(num_samples=-3), ValueError), (dict(num_samples=2.5), ValueError)])
def test_random_sampler_errors_match_torch(kw, err):
    with pytest.raises(err):
        tud.RandomSampler(range(5), **kw)
    with pytest.raises(err, match="RandomSampler"):
        RandomSampler(range(5), **kw)
    with pytest.raises(ValueError):
        tud.RandomSampler(range(0))
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(0))


def test_subset_random_sampler_is_a_permutation_of_the_indices():
    idx = [3, 7, 11, 12]
    s = SubsetRandomSampler(idx, generator=np.random.default_rng(1))
    assert sorted(s) == idx and len(s) == 4


def test_subset_and_concat_dataset_match_torch():
    a, b, c = Squares(3), Squares(0), Squares(4)
    ta, tb, tc = TSquares(3), TSquares(0), TSquares(4)
    ours, theirs = ConcatDataset([a, b, c]), tud.ConcatDataset([ta, tb, tc])
    assert len(ours) == len(theirs) == 7 and ours.cumulative_sizes == theirs.cumulative_sizes
    for i in range(-7, 7):
        assert ours[i] == theirs[i]
    with pytest.raises(ValueError):
        theirs[-8]
    with pytest.raises(ValueError, match="out of range"):
        ours[-8]
    with pytest.raises(IndexError, match="out of range"):
        ours[7]
    assert len(a + c) == 7 and (a + c)[4] == 1
    sub, tsub = Subset(ours, [6, 0, 3, 3]), tud.Subset(theirs, [6, 0, 3, 3])
    assert [sub[i] for i in range(4)] == [tsub[i] for i in range(4)] and len(sub) == len(tsub)
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.3, 0.7]), (11, [0.5, 0.5]), (10, [0.1, 0.2, 0.7]),
                                       (7, [0.25, 0.25, 0.25, 0.25]), (5, [5, 0]), (3, [1.0])])
def test_random_split_lengths_match_torch(n, lengths):
    ours = random_split(range(n), lengths, generator=np.random.default_rng(0))
    theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    got = [i for s in ours for i in s]
    assert sorted(got) == list(range(n))                   # a partition of the dataset
    again = random_split(range(n), lengths, generator=np.random.default_rng(0))
    assert [list(s) for s in again] == [list(s) for s in ours]
    assert all(isinstance(s, Subset) for s in ours)


@pytest.mark.parametrize("lengths", [[3, 3], [0.5, 0.6], [-0.2, 1.2], [11]])
def test_random_split_errors_match_torch(lengths):
    with pytest.raises(ValueError):
        tud.random_split(range(10), lengths)
    with pytest.raises(ValueError, match="random_split"):
        random_split(range(10), lengths)


def test_random_split_warns_on_empty_split():
    with pytest.warns(UserWarning):
        tud.random_split(range(2), [0.05, 0.05, 0.9])
    with pytest.warns(UserWarning, match="random_split"):
        random_split(range(2), [0.05, 0.05, 0.9])


# ------------------------------------------------------------------ DataLoader options
def collate_sum(batch):
    return sum(batch)


@pytest.mark.parametrize("kw", [
    dict(batch_size=3),
    dict(batch_size=3, drop_last=True),
    dict(batch_size=4, sampler=[9, 1, 5, 2, 2, 0]),
    dict(batch_sampler=[[0, 1], [5], [2, 8, 3]]),
    dict(batch_size=2, collate_fn=collate_sum),
    dict(batch_sampler=[[0, 1], [4, 4, 9]], collate_fn=collate_sum),
    dict(sampler=SequentialSampler(range(10)), batch_size=5, drop_last=True),
])
def test_dataloader_batches_match_torch(kw):
    kw_t = dict(kw)
    if isinstance(kw.get("sampler"), SequentialSampler):
        kw_t["sampler"] = tud.SequentialSampler(range(10))
    ours = DataLoader(Squares(10), **kw)
    theirs = tud.DataLoader(TSquares(10), **kw_t)
    conv = lambda b: b if isinstance(b, int) else b.tolist()   # noqa: E731
    assert [conv(b) for b in ours] == [conv(b) for b in theirs]
    assert len(ours) == len(theirs)
    assert ours.batch_size == theirs.batch_size and ours.drop_last == theirs.drop_last


def test_dataloader_shuffle_with_generator_and_samplers():
    ds = Squares(12)
    a = [b.tolist() for b in DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(4))]
    b = [b.tolist() for b in DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(4))]
    assert a == b and sorted(sum(a, [])) == [i * i for i in range(12)] and [len(x) for x in a] == [5, 5, 2]
    dl = DataLoader(ds, batch_size=4, sampler=RandomSampler(ds, replacement=True, num_samples=9))
    assert [len(x) for x in dl] == [4, 4, 1] and len(dl) == 3
    assert isinstance(DataLoader(ds).sampler, SequentialSampler)
    assert isinstance(DataLoader(ds, shuffle=True).sampler, RandomSampler)
    assert isinstance(DataLoader(ds).batch_sampler, BatchSampler)
    # a TensorDataset keeps its one-gather batches under any sampler
    x = tg.arange(10).reshape(5, 2)
    got = list(DataLoader(TensorDataset(x, tg.arange(5)), batch_size=2, sampler=[4, 0, 3]))
    assert got[0][0].tolist() == [[8, 9], [0, 1]] and got[1][1].tolist() == [3]


@pytest.mark.parametrize("kw", [
    dict(shuffle=True, sampler=[0, 1]),
    dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], shuffle=True),
    dict(batch_sampler=[[0]], sampler=[0]),
    dict(batch_sampler=[[0]], drop_last=True),
    dict(num_workers=-1),
])
def test_dataloader_mutually_exclusive_options_raise_like_torch(kw):
    with pytest.raises(ValueError):
        tud.DataLoader(TSquares(4), **kw)
    with pytest.raises(ValueError, match="DataLoader"):
        DataLoader(Squares(4), **kw)


def test_custom_sampler_subclass():
    class Evens(Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

        def __len__(self):
            return (self.n + 1) // 2

    assert [b.tolist() for b in DataLoader(Squares(7), batch_size=3, sampler=Evens(7))] == [[0, 4, 16], [36]]
    with pytest.raises(NotImplementedError):
        iter(Sampler())
