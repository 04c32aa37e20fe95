"""torch.utils.data's samplers, Subset, ConcatDataset, random_split, IterableDataset and
DataLoader options, against torch where the result is deterministic (orders, batching, lengths,
errors); weighted draws by their frequencies."""
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


# ------------------------------------------------------------------ IterableDataset, WeightedRandomSampler
def make_stream(lib, n, with_len):
    """An IterableDataset of (i, float) samples from `lib`'s base class; with a __len__ or not."""
    class Stream(lib.IterableDataset):
        def __iter__(self):
            info = lib.get_worker_info()
            assert info is None   # loaded in the main process, in both
            return iter((i, i / 2) for i in range(n))

    if with_len:
        Stream.__len__ = lambda self: n
    return Stream()


@pytest.mark.parametrize("n,kw", [(10, dict(batch_size=3)), (10, dict(batch_size=3, drop_last=True)),
                                  (9, dict(batch_size=3, drop_last=True)), (2, dict(batch_size=5)),
                                  (0, dict(batch_size=2)), (7, dict(batch_size=1)),
                                  (6, dict(batch_size=4, collate_fn=lambda b: [s[0] for s in b])),
                                  (5, dict(batch_size=2, shuffle=False))])
def test_iterable_dataset_batches_match_torch(n, kw):
    ours, theirs = DataLoader(make_stream(data, n, True), **kw), tud.DataLoader(make_stream(tud, n, True), **kw)
    def conv(b):
        return [x.tolist() for x in b] if isinstance(b, (list, tuple)) and hasattr(b[0], "tolist") else b
    got, ref = [conv(b) for b in ours], [conv(b) for b in theirs]
    assert got == ref and len(ours) == len(theirs)
    assert [conv(b) for b in ours] == ref   # a second pass reads the stream again
    if "collate_fn" not in kw and got:
        assert next(iter(ours))[0].dtype == tg.int64 and next(iter(ours))[1].dtype == tg.float32


def test_iterable_dataset_without_len_and_chained():
    ours = DataLoader(make_stream(data, 5, False), batch_size=2)
    theirs = tud.DataLoader(make_stream(tud, 5, False), batch_size=2)
    assert [b[0].tolist() for b in ours] == [b[0].tolist() for b in theirs]
    with pytest.raises(TypeError):
        len(theirs)
    with pytest.raises(TypeError, match="len"):
        len(ours)
    both = make_stream(data, 3, True) + make_stream(data, 2, True)
    tboth = make_stream(tud, 3, True) + make_stream(tud, 2, True)
    assert isinstance(both, data.IterableDataset) and len(both) == len(tboth) == 5
    assert list(both) == list(tboth)
    with pytest.raises(NotImplementedError):
        iter(data.IterableDataset())
    assert data.get_worker_info() is None and tud.get_worker_info() is None


@pytest.mark.parametrize("kw", [dict(shuffle=True), dict(sampler=[0, 1]), dict(batch_sampler=[[0]]),
                                dict(sampler=SequentialSampler(range(3)), batch_size=2)])
def test_iterable_dataset_refuses_samplers_like_torch(kw):
    kw_t = dict(kw, sampler=tud.SequentialSampler(range(3))) if isinstance(kw.get("sampler"), Sampler) else kw
    with pytest.raises(ValueError):
        tud.DataLoader(make_stream(tud, 3, True), **kw_t)
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(make_stream(data, 3, True), **kw)


@pytest.mark.parametrize("replacement", [True, False])
def test_weighted_random_sampler_draws_in_proportion(replacement):
    weights = [0.5, 0.0, 2.0, 1.0, 0.5]
    s = data.WeightedRandomSampler(weights, 3, replacement=replacement)
    t = tud.WeightedRandomSampler(weights, 3, replacement=replacement)
    got = list(s)
    assert len(s) == len(t) == len(got) == 3 and all(isinstance(i, int) for i in got)
    assert s.weights.dtype == tg.float64 and s.weights.tolist() == t.weights.tolist()
    assert 1 not in got and (replacement or len(set(got)) == 3)
    tg.manual_seed(5)
    a = list(s)
    tg.manual_seed(5)
    assert list(s) == a   # the library generator, so manual_seed repeats it
    gen_draws = [list(data.WeightedRandomSampler(weights, 3, replacement, np.random.default_rng(2)))
                 for _ in range(2)]
    assert gen_draws[0] == gen_draws[1]
    # frequencies over many draws: proportional to the weights (with replacement), and for a
    # single draw without replacement too
    counts = np.zeros(5)
    if replacement:
        counts += np.bincount(list(data.WeightedRandomSampler(weights, 40000)), minlength=5)
    else:
        for _ in range(4000):
            counts += np.bincount(list(data.WeightedRandomSampler(weights, 1, False)), minlength=5)
    freq = counts / counts.sum()
    np.testing.assert_allclose(freq, np.array(weights) / sum(weights), atol=0.02)
    # without replacement, all draws: every nonzero-weight index once
    assert sorted(data.WeightedRandomSampler(weights, 4, replacement=False)) == [0, 2, 3, 4]
    batches = [b.tolist() for b in DataLoader(Squares(5), batch_size=2, sampler=s)]   # a DataLoader's sampler
    assert [len(b) for b in batches] == [2, 1] and all(v in (0, 4, 9, 16) for b in batches for v in b)


@pytest.mark.parametrize("args,kw", [(([1.0, 2.0], 0), {}), (([1.0, 2.0], 2.5), {}), (([1.0, 2.0], True), {}),
                                     (([1.0, 2.0], 2), dict(replacement=1)), (([[1.0, 2.0]], 2), {})])
def test_weighted_random_sampler_errors_match_torch(args, kw):
    with pytest.raises(ValueError):
        tud.WeightedRandomSampler(*args, **kw)
    with pytest.raises(ValueError, match="WeightedRandomSampler"):
        data.WeightedRandomSampler(*args, **kw)


@pytest.mark.parametrize("weights,k,replacement", [([1.0, -1.0], 1, True), ([0.0, 0.0], 1, True),
                                                   ([1.0, np.inf], 1, True), ([1.0, 2.0], 3, False)])
def test_weighted_random_sampler_bad_weights_raise_when_drawn_like_torch(weights, k, replacement):
    t = tud.WeightedRandomSampler(weights, k, replacement)
    s = data.WeightedRandomSampler(weights, k, replacement)
    with pytest.raises(RuntimeError):
        list(t)
    with pytest.raises(ValueError, match="multinomial"):
        list(s)


def test_weighted_random_sampler_more_draws_than_nonzero_weights_raises():
    """Without replacement, more draws than nonzero weights: torch then draws the zero-weight
    indices (in an order of its own); tg.multinomial refuses, naming the shortfall."""
    assert list(tud.WeightedRandomSampler([1.0, 0.0, 2.0], 3, replacement=False))[2] == 1
    with pytest.raises(ValueError, match="fewer than 3 categories of nonzero weight"):
        list(data.WeightedRandomSampler([1.0, 0.0, 2.0], 3, replacement=False))
