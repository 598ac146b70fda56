"""DistributedSampler against torch's: the same indices for the same seed and epoch."""

import numpy as np
import pytest
import torch

import zengrad as zg
from zengrad.data import DataLoader, DistributedSampler, TensorDataset
from zengrad.data.sampler import torch_randperm


@pytest.mark.parametrize("n", [0, 1, 7, 10, 101])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_same_shards_as_torch(n, replicas, shuffle, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        for seed, epoch in ((0, 0), (3, 2), (2**32 + 1, 1)):
            tz = torch.utils.data.DistributedSampler(data, replicas, rank, shuffle, seed,
                                                     drop_last)
            zz = DistributedSampler(data, replicas, rank, shuffle, seed, drop_last)
            tz.set_epoch(epoch)
            zz.set_epoch(epoch)
            assert list(zz) == list(tz), (rank, seed, epoch)
            assert len(zz) == len(tz)


def test_shards_are_disjoint_and_cover_the_dataset():
    shards = [set(DistributedSampler(range(12), 3, r, seed=5)) for r in range(3)]
    assert set().union(*shards) == set(range(12))
    assert sum(map(len, shards)) == 12


def test_randperm_matches_torch_for_large_n():
    g = torch.Generator()
    g.manual_seed(11)
    assert np.array_equal(torch_randperm(60000, 11), torch.randperm(60000, generator=g).numpy())


def test_epochs_differ_and_repeat():
    s = DistributedSampler(range(50), 2, 0)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first
    s.set_epoch(0)
    assert list(s) == first


def test_in_a_dataloader():
    ds = TensorDataset(zg.arange(10))
    sampler = DistributedSampler(ds, 2, 1, shuffle=False)
    got = [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=sampler)]
    assert got == [[1, 3], [5, 7], [9]]


def test_torch_module_paths():
    from zengrad.utils.data.distributed import DistributedSampler as D

    assert D is DistributedSampler is zg.utils.data.DistributedSampler


def test_bad_arguments():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas must be positive"):
        DistributedSampler(range(4), 0, 0)
    with pytest.raises(TypeError, match="rank must be an int"):
        DistributedSampler(range(4), 2, 0.5)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))
