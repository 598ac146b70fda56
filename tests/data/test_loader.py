"""Dataset, TensorDataset, Subset, ConcatDataset, random_split and DataLoader."""

import numpy as np
import pytest

import zengrad as zg
from zengrad.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)


class ListDataset(Dataset):
    """A dataset without arrays: the generic (collate) path."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def _data(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


def test_tensor_dataset_items_and_errors():
    x, y = _data()
    ds = TensorDataset(zg.from_numpy(x), y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x[3])
    assert yi.item() == 3
    assert ds.arrays[0] is x  # no copy
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, y[:5])


@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                            (10, 20, False), (10, 20, True), (7, 1, False)])
def test_batching_sizes_and_order(n, bs, drop_last):
    x, y = _data(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=bs, drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader)
    expected = n // bs if drop_last else -(-n // bs)
    assert len(loader) == expected
    if batches:
        got = np.concatenate([b[1].numpy() for b in batches])
        np.testing.assert_array_equal(got, y[: len(got)])
        assert all(isinstance(t, zg.Tensor) for b in batches for t in b)
        assert all(len(b[0]) == bs for b in batches[:-1])
        assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64


def test_shuffle_is_a_permutation_new_each_epoch_and_seeded():
    x, y = _data(50)
    ds = TensorDataset(x, y)
    loader = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    e1 = np.concatenate([b[1].numpy() for b in loader])
    e2 = np.concatenate([b[1].numpy() for b in loader])
    assert sorted(e1.tolist()) == list(range(50))
    assert not np.array_equal(e1, e2)  # a new permutation each epoch
    again = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in again]), e1)
    # rows stay paired with their labels
    for bx, by in DataLoader(ds, batch_size=8, shuffle=True, seed=3):
        np.testing.assert_array_equal(bx.numpy(), x[by.numpy()])


def test_unseeded_shuffle_follows_manual_seed():
    x, y = _data(30)
    ds = TensorDataset(x, y)

    def order():
        return np.concatenate([b[1].numpy() for b in DataLoader(ds, 4, shuffle=True)])

    zg.manual_seed(11)
    a = order()
    zg.manual_seed(11)
    b = order()
    zg.manual_seed(12)
    c = order()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_loader_state_dict_restores_the_shuffle_stream():
    x, y = _data(40)
    loader = DataLoader(TensorDataset(x, y), 5, shuffle=True, seed=1)
    list(loader)
    state = loader.state_dict()
    nxt = np.concatenate([b[1].numpy() for b in loader])
    other = DataLoader(TensorDataset(x, y), 5, shuffle=True, seed=999)
    other.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in other]), nxt)


def test_fast_path_does_one_fancy_index_per_array(monkeypatch):
    x, y = _data(20)
    ds = TensorDataset(x, y)

    def boom(*a):
        raise AssertionError("fast path must not read samples one by one")

    monkeypatch.setattr(TensorDataset, "__getitem__", boom)
    batches = list(DataLoader(ds, batch_size=6, shuffle=True, seed=0))
    assert sum(len(b[0]) for b in batches) == 20
    # a Subset of an array dataset takes the fast path too, in the Subset's order
    sub = Subset(ds, [5, 2, 9])
    (bx, by), = list(DataLoader(sub, batch_size=3))
    np.testing.assert_array_equal(by.numpy(), [5, 2, 9])


def test_batches_do_not_alias_the_dataset():
    x, y = _data(6)
    (bx, _), = list(DataLoader(TensorDataset(x, y), batch_size=6))
    bx.data[:] = -1
    assert x.min() >= 0


def test_generic_path_matches_fast_path():
    x, y = _data(13)
    fast = list(DataLoader(TensorDataset(x, y), 4, shuffle=True, seed=5))
    slow = list(DataLoader(ListDataset(x, y), 4, shuffle=True, seed=5))
    assert len(fast) == len(slow)
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())
        assert sy.dtype == np.int64


def test_default_collate_structures_and_custom_collate():
    batch = default_collate([{"a": 1.0, "b": np.zeros(2)}, {"a": 2.0, "b": np.ones(2)}])
    # Python floats collate to float64, as torch's default_collate
    assert batch["a"].dtype == np.float64 and batch["b"].shape == (2, 2)
    x, y = _data(4)
    loader = DataLoader(ListDataset(x, y), 2, collate_fn=lambda s: len(s))
    assert list(loader) == [2, 2]


def test_subset_concat_and_random_split():
    x, y = _data(10)
    ds = TensorDataset(x, y)
    cat = ConcatDataset([Subset(ds, [0, 1]), Subset(ds, [7, 8, 9])])
    assert len(cat) == 5 and cat[2][1].item() == 7 and cat[-1][1].item() == 9
    with pytest.raises(IndexError):
        cat[5]
    parts = random_split(ds, [0.7, 0.3], seed=0)
    assert [len(p) for p in parts] == [7, 3]
    idx = np.concatenate([p.indices for p in parts])
    assert sorted(idx.tolist()) == list(range(10))
    again = random_split(ds, [7, 3], seed=0)
    np.testing.assert_array_equal(again[0].indices, parts[0].indices)
    # floors then the remainder round-robin, as torch: [5, 2, 2] + 1 -> [6, 2, 2]
    assert [len(p) for p in random_split(ds, [0.5, 0.25, 0.25], seed=1)] == [6, 2, 2]
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        random_split(ds, [0.5, 0.2])


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_batch_size(bad):
    x, y = _data()
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(x, y), batch_size=bad)
