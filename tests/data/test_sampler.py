"""Samplers against torch.utils.data's: same lengths, batch composition and errors; random
ones checked for their semantics (the numbers differ: different RNGs)."""

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import zengrad as zg
from zengrad.data import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def test_sequential_sampler_matches_torch():
    for n in (0, 1, 7):
        data = list(range(n))
        assert list(SequentialSampler(data)) == list(tud.SequentialSampler(data))
        assert len(SequentialSampler(data)) == n


@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                            (2, 5, False), (2, 5, True), (0, 2, False)])
def test_batch_sampler_matches_torch(n, bs, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)
    # the array form the DataLoader's fast path slices is the same batches
    assert [b.tolist() for b in ours._index_batches()] == list(theirs)
    # any iterable of indices, as torch
    assert list(BatchSampler([5, 1, 4], 2, drop_last)) == list(
        tud.BatchSampler([5, 1, 4], 2, drop_last))


@pytest.mark.parametrize("kwargs", [dict(batch_size=0, drop_last=False),
                                    dict(batch_size=True, drop_last=False),
                                    dict(batch_size=2.0, drop_last=False),
                                    dict(batch_size=2, drop_last=1)])
def test_batch_sampler_errors_match_torch(kwargs):
    with pytest.raises(ValueError) as theirs:
        tud.BatchSampler(range(3), **kwargs)
    with pytest.raises(ValueError) as ours:
        BatchSampler(range(3), **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_random_sampler_is_a_fresh_permutation_and_seeded():
    data = range(50)
    g = zg.Generator().manual_seed(0)
    s = RandomSampler(data, generator=g)
    e1, e2 = list(s), list(s)
    assert sorted(e1) == sorted(e2) == list(range(50)) and e1 != e2
    assert all(type(i) is int for i in e1)
    assert e1 == list(RandomSampler(data, generator=zg.Generator().manual_seed(0)))
    assert len(s) == len(tud.RandomSampler(data)) == 50
    # no generator: follows zengrad.manual_seed
    zg.manual_seed(3)
    a = list(RandomSampler(data))
    zg.manual_seed(3)
    assert list(RandomSampler(data)) == a


@pytest.mark.parametrize("num_samples", [1, 7, 10, 23, 30])
def test_random_sampler_num_samples_without_replacement(num_samples):
    n = 10
    ours = list(RandomSampler(range(n), num_samples=num_samples))
    theirs = list(tud.RandomSampler(range(n), num_samples=num_samples))
    assert len(ours) == len(theirs) == num_samples
    # whole permutations chained, then part of one: every full block covers the dataset
    for start in range(0, num_samples - num_samples % n, n):
        assert sorted(ours[start:start + n]) == list(range(n))
    tail = ours[num_samples - num_samples % n:]
    assert len(set(tail)) == len(tail)


def test_random_sampler_with_replacement_is_uniform():
    n, k = 5, 50_000
    ours = np.array(list(RandomSampler(range(n), replacement=True, num_samples=k,
                                       generator=zg.Generator().manual_seed(1))))
    theirs = np.array(list(tud.RandomSampler(range(n), replacement=True, num_samples=k)))
    assert len(ours) == len(theirs) == k
    assert ours.min() >= 0 and ours.max() < n
    for counts in (np.bincount(ours, minlength=n), np.bincount(theirs, minlength=n)):
        # binomial sd of a count is sqrt(k p (1-p)) ~ 89; 6 sd margin
        np.testing.assert_allclose(counts, k / n, atol=540)
    # with replacement, a draw repeats indices (50000 draws from 5)
    assert len(set(ours.tolist())) == n


@pytest.mark.parametrize("kwargs,kind", [(dict(replacement=1), TypeError),
                                         (dict(num_samples=0), ValueError),
                                         (dict(num_samples=-3), ValueError),
                                         (dict(num_samples=2.0), ValueError)])
def test_random_sampler_errors_match_torch(kwargs, kind):
    with pytest.raises(kind) as theirs:
        tud.RandomSampler(range(4), **kwargs)
    with pytest.raises(kind) as ours:
        RandomSampler(range(4), **kwargs)
    assert str(ours.value) == str(theirs.value)
    # an empty dataset has no samples to draw
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])
    with pytest.raises(TypeError, match="generator"):
        RandomSampler(range(3), generator=5)


def test_subset_random_sampler():
    idx = [3, 9, 4, 20]
    ours = SubsetRandomSampler(idx, generator=zg.Generator().manual_seed(0))
    theirs = tud.SubsetRandomSampler(idx)
    assert len(ours) == len(theirs) == 4
    draws = [tuple(ours) for _ in range(30)]
    assert all(sorted(d) == sorted(idx) for d in draws)
    assert len(set(draws)) > 1  # a fresh order each epoch
    assert sorted(ours._indices().tolist()) == sorted(idx)


def test_weighted_random_sampler_proportions():
    w = [0.1, 0.9, 0.4, 0.7, 3.0, 0.0]
    k = 60_000
    ours = np.array(list(WeightedRandomSampler(w, k, generator=zg.Generator().manual_seed(2))))
    theirs = np.array(list(tud.WeightedRandomSampler(w, k)))
    p = np.array(w) / sum(w)
    for draws in (ours, theirs):
        assert len(draws) == k
        freq = np.bincount(draws, minlength=len(w)) / k
        # sd of a frequency <= sqrt(0.25 / k) ~ 0.002; 6 sd margin
        np.testing.assert_allclose(freq, p, atol=0.012)
        assert freq[-1] == 0  # a zero weight is never drawn
    assert len(WeightedRandomSampler(w, 3)) == 3
    assert WeightedRandomSampler(w, 3).weights.dtype == np.float64


def test_weighted_random_sampler_without_replacement():
    w = [0.9, 0.4, 0.05, 0.2, 0.3, 0.1]
    for _ in range(20):
        draw = list(WeightedRandomSampler(w, 6, replacement=False))
        assert sorted(draw) == list(range(6))
    # the heaviest weight comes first most often: P(first = 0) = 0.9 / 1.95
    firsts = np.array([next(iter(WeightedRandomSampler(w, 2, replacement=False)))
                       for _ in range(3000)])
    assert abs(np.mean(firsts == 0) - 0.9 / 1.95) < 0.06
    # more samples than categories, without replacement: torch's RuntimeError at iteration
    s = WeightedRandomSampler(w, 7, replacement=False)
    with pytest.raises(RuntimeError, match="without replacement"):
        list(s)
    with pytest.raises(RuntimeError, match="without replacement"):
        list(tud.WeightedRandomSampler(w, 7, replacement=False))


@pytest.mark.parametrize("args,kwargs", [(([1.0, 2.0], 0), {}), (([1.0, 2.0], True), {}),
                                         (([1.0, 2.0], 2), dict(replacement=0)),
                                         (([[1.0, 2.0]], 2), {})])
def test_weighted_random_sampler_errors_match_torch(args, kwargs):
    with pytest.raises(ValueError) as theirs:
        tud.WeightedRandomSampler(*args, **kwargs)
    with pytest.raises(ValueError) as ours:
        WeightedRandomSampler(*args, **kwargs)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match="element < 0"):
        list(WeightedRandomSampler([1.0, -1.0], 2))


def test_custom_sampler_subclass_as_in_torch():
    class Reverse(Sampler[int]):
        def __init__(self, data):
            self.data = data

        def __iter__(self):
            return iter(range(len(self.data) - 1, -1, -1))

        def __len__(self):
            return len(self.data)

    assert list(BatchSampler(Reverse(range(5)), 2, False)) == [[4, 3], [2, 1], [0]]
    assert [b.tolist() for b in BatchSampler(Reverse(range(5)), 2, True)._index_batches()] == [
        [4, 3], [2, 1]]
    with pytest.raises(NotImplementedError):
        iter(Sampler())


def test_sampler_draws_use_the_given_torch_style_generator_each_epoch():
    g = zg.Generator().manual_seed(5)
    s = RandomSampler(range(20), generator=g)
    first = list(s)
    g.manual_seed(5)  # reseeding the generator restarts the stream, as torch
    assert list(s) == first
    t = torch.Generator().manual_seed(5)
    ts = tud.RandomSampler(range(20), generator=t)
    tfirst = list(ts)
    t.manual_seed(5)
    assert list(ts) == tfirst


def test_random_sampler_with_a_huge_num_samples_draws_lazily():
    """minGPT / makemore's "infinite" loaders: torch draws the indices as they are used."""
    import itertools

    from zengrad.data import DataLoader, RandomSampler, TensorDataset

    ds = TensorDataset(zg.arange(10.0))
    sampler = RandomSampler(ds, replacement=True, num_samples=int(1e10))
    first = list(itertools.islice(iter(sampler), 5))
    assert len(first) == 5 and all(0 <= i < 10 for i in first)
    loader = DataLoader(ds, sampler=sampler, batch_size=4)
    batch = next(iter(loader))[0]
    assert batch.shape == (4,)


@pytest.mark.parametrize("replacement", [True, False])
def test_random_sampler_chunks_are_the_epochs_draws(replacement):
    from zengrad.data import BatchSampler, RandomSampler
    from zengrad.data import sampler as sampler_mod

    data = list(range(7))
    make = lambda: RandomSampler(data, replacement=replacement, num_samples=200_003,  # noqa: E731
                                 generator=zg.Generator().manual_seed(4))
    whole = make()._indices()
    assert list(make()) == whole.tolist()
    batches = list(BatchSampler(make(), 1000, drop_last=False)._index_batches())
    np.testing.assert_array_equal(np.concatenate(batches), whole)
    assert all(len(b) == 1000 for b in batches[:-1]) and len(batches[-1]) == 3
    assert sampler_mod.CHUNK < 200_003  # several chunks were stitched
