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


# ---------------------------------------------------------------- torch parity (issue 11)

import collections  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402
import torch.utils.data as tud  # noqa: E402

from zengrad.data import (  # noqa: E402
    BatchSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
    default_convert,
    get_worker_info,
)


def _plain(x):
    """A batch as comparable plain data: Tensors as (dtype name, nested list)."""
    if isinstance(x, torch.Tensor):
        return ("T", str(x.dtype).replace("torch.", ""), x.tolist())
    if isinstance(x, zg.Tensor):
        return ("T", str(x.dtype), x.numpy().tolist())
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [_plain(v) for v in x])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    return x


def _same(ours, theirs):
    assert _plain(ours) == _plain(theirs)


class PairDataset:
    """A torch-style map dataset: (Tensor features, int label); works for both libraries."""

    def __init__(self, lib, n=11):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.lib.tensor([float(i), 2.0 * i]), i % 3


class ZgPairs(Dataset):
    def __len__(self):
        return 11

    def __getitem__(self, i):
        return zg.tensor([float(i), 2.0 * i]), i % 3


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("samples", [
    [1.5, 2.0],
    [1, 2, 3],
    [True, False],
    [np.float32(1), np.float32(2)],
    [np.int16(1), np.int16(2)],
    [np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)],
    [np.arange(3), np.arange(3)],
    ["a", "b"],
    [b"a", b"b"],
    [{"x": 1.0, "y": [1, 2]}, {"x": 2.0, "y": [3, 4]}],
    [Point(1, 2.0), Point(3, 4.0)],
    [(1, "s", 2.5), (2, "t", 3.5)],
    [[1, [2.0, 3]], [4, [5.0, 6]]],
])
def test_default_collate_matches_torch(samples):
    _same(default_collate(samples), tud.default_collate(samples))


def test_default_collate_tensors_and_errors_match_torch():
    _same(default_collate([zg.tensor([1, 2]), zg.tensor([3, 4])]),
          tud.default_collate([torch.tensor([1, 2]), torch.tensor([3, 4])]))
    _same(default_collate([(zg.tensor([1.0]), 1), (zg.tensor([2.0]), 0)]),
          tud.default_collate([(torch.tensor([1.0]), 1), (torch.tensor([2.0]), 0)]))
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="equal size"):
        tud.default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([zg.tensor([1, 2]), zg.tensor([3])])
    for bad in ([object(), object()], [np.array(["a"]), np.array(["b"])]):
        with pytest.raises(TypeError) as theirs:
            tud.default_collate(bad)
        with pytest.raises(TypeError) as ours:
            default_collate(bad)
        assert str(ours.value).split(";")[0] == str(theirs.value).split(";")[0]
    with pytest.raises(ValueError, match="empty batch"):
        default_collate([])


@pytest.mark.parametrize("sample", [np.arange(3), np.float64(2.5), (np.arange(2), 3, "s"),
                                    {"a": np.ones(2)}, [np.int32(1), 2.0]])
def test_default_convert_matches_torch(sample):
    _same(default_convert(sample), tud.default_convert(sample))


@pytest.mark.parametrize("kw", [dict(batch_size=4), dict(batch_size=4, drop_last=True),
                                dict(batch_size=None), dict(batch_size=20),
                                dict(batch_size=3, drop_last=True)])
def test_torch_style_dataset_batches_match_torch(kw):
    ours = DataLoader(PairDataset(zg), **kw)
    theirs = tud.DataLoader(PairDataset(torch), **kw)
    assert len(ours) == len(theirs)
    _same(list(ours), list(theirs))
    # a zengrad Dataset subclass too
    _same(list(DataLoader(ZgPairs(), **kw)), list(theirs))


def test_tensor_dataset_fast_path_matches_torch():
    x, y = _data(10)
    ours = list(DataLoader(TensorDataset(x, y), batch_size=4))
    theirs = list(tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                 batch_size=4))
    _same(ours, theirs)  # a list [x, y] per batch, as torch


def test_samplers_drive_the_loader_as_in_torch():
    x, y = _data(12)
    ds = TensorDataset(x, y)
    # an explicit SequentialSampler / BatchSampler: same batches as torch
    tds = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    for ours, theirs in [
        (DataLoader(ds, 5, sampler=SequentialSampler(ds)),
         tud.DataLoader(tds, 5, sampler=tud.SequentialSampler(tds))),
        (DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 5, True)),
         tud.DataLoader(tds, batch_sampler=tud.BatchSampler(tud.SequentialSampler(tds), 5,
                                                             True))),
        (DataLoader(ds, batch_sampler=[[3, 1], [0], [11, 2, 5]]),
         tud.DataLoader(tds, batch_sampler=[[3, 1], [0], [11, 2, 5]])),
        (DataLoader(ds, 4, sampler=[7, 2, 2, 9, 0]),
         tud.DataLoader(tds, 4, sampler=[7, 2, 2, 9, 0])),
    ]:
        assert len(ours) == len(theirs)
        _same(list(ours), list(theirs))
    # RandomSampler with replacement and num_samples: the loader's length follows it
    s = RandomSampler(ds, replacement=True, num_samples=30)
    loader = DataLoader(ds, 7, sampler=s)
    assert len(loader) == len(tud.DataLoader(tds, 7, sampler=tud.RandomSampler(
        tds, replacement=True, num_samples=30))) == 5
    got = np.concatenate([b[1].numpy() for b in loader])
    assert got.shape == (30,) and got.max() < 12
    for bx, by in loader:
        np.testing.assert_array_equal(bx.numpy(), x[by.numpy()])
    # SubsetRandomSampler / WeightedRandomSampler on the generic path
    sub = DataLoader(ListDataset(x, y), 2, sampler=SubsetRandomSampler([1, 4, 6]))
    assert sorted(np.concatenate([b[1].numpy() for b in sub]).tolist()) == [1, 4, 6]
    w = DataLoader(ds, 10, sampler=WeightedRandomSampler([0.0] * 11 + [1.0], 20))
    assert set(np.concatenate([b[1].numpy() for b in w]).tolist()) == {11}
    # the fast path gives the generic path's batches for any sampler
    fast = list(DataLoader(ds, 5, sampler=RandomSampler(ds, generator=zg.Generator())))
    slow = list(DataLoader(ListDataset(x, y), 5,
                           sampler=RandomSampler(ds, generator=zg.Generator())))
    _same(fast, slow)
    with pytest.raises(IndexError, match="out of range"):
        list(DataLoader(ds, 2, sampler=[0, 12]))


def _errors(make):
    with pytest.raises((ValueError, TypeError)) as theirs:
        make(tud, torch)
    with pytest.raises(type(theirs.value)) as ours:
        make(zg.data, zg)
    assert str(ours.value) == str(theirs.value)


class _Stream:
    """An IterableDataset for either library (the base class is passed in)."""

    @staticmethod
    def make(base, n=7):
        class Stream(base):
            def __iter__(self):
                info = (tud if base is tud.IterableDataset else zg.data).get_worker_info()
                start, step = (0, 1) if info is None else (info.id, info.num_workers)
                return iter(range(start, n, step))

            def __len__(self):
                return n

        return Stream()


@pytest.mark.parametrize("case", [
    lambda d, t: d.DataLoader(list(range(4)), shuffle=True, sampler=[0, 1]),
    lambda d, t: d.DataLoader(list(range(4)), batch_size=2, batch_sampler=[[0]]),
    lambda d, t: d.DataLoader(list(range(4)), shuffle=True, batch_sampler=[[0]]),
    lambda d, t: d.DataLoader(list(range(4)), sampler=[0], batch_sampler=[[0]]),
    lambda d, t: d.DataLoader(list(range(4)), drop_last=True, batch_sampler=[[0]]),
    lambda d, t: d.DataLoader(list(range(4)), batch_size=None, drop_last=True),
    lambda d, t: d.DataLoader(list(range(4)), num_workers=-1),
    lambda d, t: d.DataLoader(list(range(4)), timeout=-1),
    lambda d, t: d.DataLoader(list(range(4)), prefetch_factor=2),
    lambda d, t: d.DataLoader(list(range(4)), num_workers=1, prefetch_factor=-1),
    lambda d, t: d.DataLoader(list(range(4)), persistent_workers=True),
    lambda d, t: d.DataLoader(list(range(4)), multiprocessing_context="fork"),
    lambda d, t: d.DataLoader(list(range(4)), num_workers=1, multiprocessing_context="nope"),
    lambda d, t: d.DataLoader(list(range(4)), batch_size=0),
    lambda d, t: d.DataLoader(list(range(4)), batch_size=2, drop_last=1),
    lambda d, t: d.DataLoader(_Stream.make(d.IterableDataset), shuffle=True),
    lambda d, t: d.DataLoader(_Stream.make(d.IterableDataset), sampler=None, batch_sampler=5),
])
def test_argument_errors_match_torch(case):
    _errors(case)


def test_loader_attributes_are_frozen_as_in_torch():
    loader = DataLoader(list(range(4)))
    for name in ("batch_size", "sampler", "dataset", "drop_last"):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set after "
                                             "DataLoader is initialized"):
            setattr(loader, name, 2)
    loader.num_workers = 0  # others may change, as torch
    assert (loader.batch_size, loader.drop_last) == (1, False)
    assert isinstance(loader.sampler, SequentialSampler)
    assert isinstance(DataLoader(list(range(4)), shuffle=True).sampler, RandomSampler)
    assert loader.generator is None and loader.collate_fn is default_collate


def test_iterable_dataset_matches_torch():
    for kw in (dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)):
        ours = DataLoader(_Stream.make(IterableDataset), **kw)
        theirs = tud.DataLoader(_Stream.make(tud.IterableDataset), **kw)
        assert len(ours) == len(theirs)
        _same(list(ours), list(theirs))


def test_pin_memory_warns_as_torch_without_an_accelerator():
    with pytest.warns(UserWarning, match="pin_memory"):
        list(DataLoader(list(range(3)), pin_memory=True))


# ------------------------------------------------ worker processes (num_workers > 0)

_init_ids = []


def _record_init(worker_id):
    # runs in the worker: its id and info are visible to the dataset through this global
    _init_ids.append((worker_id, get_worker_info().id, get_worker_info().num_workers))


class WhoLoads(Dataset):
    """Each sample says which process read it."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        info = get_worker_info()
        init = _init_ids[0] if _init_ids else (-9, -9, -9)
        return i, -1 if info is None else info.id, init[0], init[1], init[2], len(_init_ids)


def test_workers_load_in_their_processes_in_order():
    assert get_worker_info() is None
    batches = list(DataLoader(WhoLoads(), batch_size=3, num_workers=2,
                              worker_init_fn=_record_init))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    # batches go to the workers round-robin, as torch
    assert [b[1].tolist() for b in batches] == [[0] * 3, [1] * 3, [0] * 3, [1]]
    # worker_init_fn ran once in each worker, with that worker's id
    for b in batches:
        assert b[2].tolist() == b[1].tolist() == b[3].tolist()  # init's id == worker's id
        assert set(b[4].tolist()) == {2} and set(b[5].tolist()) == {1}  # once per worker
    assert _init_ids == []  # not in the main process
    # the same batches as torch's loader with workers
    theirs = list(tud.DataLoader(PairDataset(torch), batch_size=4, num_workers=2))
    _same(list(DataLoader(PairDataset(zg), batch_size=4, num_workers=2)), theirs)


def test_workers_fast_path_shuffle_and_persistence():
    x, y = _data(40)
    ds = TensorDataset(x, y)
    inproc = [b[1].numpy() for b in DataLoader(ds, 6, shuffle=True, seed=4)]
    workers = [b[1].numpy() for b in DataLoader(ds, 6, shuffle=True, seed=4, num_workers=2)]
    assert len(workers) == len(inproc) == 7
    for a, b in zip(inproc, workers):
        np.testing.assert_array_equal(a, b)
    loader = DataLoader(ds, 8, shuffle=True, num_workers=2, persistent_workers=True)
    epochs = [np.concatenate([b[1].numpy() for b in loader]) for _ in range(3)]
    assert all(sorted(e.tolist()) == list(range(40)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])
    # a worker seeds zengrad's generator from base_seed + id: its draws differ per worker
    seeds = [b[0].item() for b in DataLoader(_SeedSet(), 1, num_workers=2)]
    assert seeds[0] != seeds[1] and seeds[0] == seeds[2]


class _SeedSet(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return get_worker_info().seed


def test_iterable_dataset_with_workers_matches_torch():
    ours = DataLoader(_Stream.make(IterableDataset), batch_size=2, num_workers=2)
    theirs = tud.DataLoader(_Stream.make(tud.IterableDataset), batch_size=2, num_workers=2)
    _same(list(ours), list(theirs))  # interleaved: [0, 2], [1, 3], [4, 6], [5], ...


class _Fails(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 4:
            raise KeyError(f"no sample {i}")
        return i


def test_worker_errors_reach_the_main_process():
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 0"):
        list(DataLoader(_Fails(), 2, num_workers=2))

    def bad_init(worker_id):
        raise ValueError("init failed")

    with pytest.raises(ValueError, match="init failed"):
        list(DataLoader(_Fails(), 2, num_workers=1, worker_init_fn=bad_init))


def test_dataloader_with_random_sampler_and_workers_trains_like_torch():
    """The issue's program: a RandomSampler and num_workers feeding a linear model."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]
    w0 = rng.normal(size=(1, 3)).astype(np.float32)
    order = rng.permutation(64).tolist()  # the same sample order for both libraries

    def run(lib, data):
        ds = data.TensorDataset(lib.tensor(x), lib.tensor(y))
        loader = data.DataLoader(ds, batch_size=16, sampler=order, num_workers=2)
        model = lib.nn.Linear(3, 1)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(w0))
            model.bias.zero_()
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        for xb, yb in loader:
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
        return float(loss.item())

    assert run(zg, zg.data) == pytest.approx(run(torch, tud), rel=1e-5)
    # and a RandomSampler with workers covers the dataset once per epoch
    ds = TensorDataset(x, y)
    loader = DataLoader(ds, 16, sampler=RandomSampler(ds), num_workers=2)
    assert sum(len(b[0]) for b in loader) == 64


def test_worker_timeout_is_a_clear_error():
    class Slow(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            import time

            time.sleep(2)
            return i

    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(DataLoader(Slow(), 1, num_workers=1, timeout=0.5))


def test_no_warning_without_pin_memory():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(DataLoader(list(range(3))))


def test_default_collate_keeps_the_graph_of_samples_that_require_grad():
    a = zg.tensor([1.0, 2.0], requires_grad=True)
    batch = default_collate([a, a * 3])
    assert batch.requires_grad
    batch.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [4.0, 4.0])
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    tud.default_collate([t, t * 3]).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy())


def test_numpy_integer_batch_size_is_taken():
    x, y = _data(10)
    assert len(DataLoader(TensorDataset(x, y), batch_size=np.int64(4))) == 3


def test_spawned_workers_and_unpicklable_arguments():
    x, y = _data(9)
    ds = TensorDataset(x, y)
    got = [b[1].numpy().tolist() for b in DataLoader(ds, 4, num_workers=1,
                                                     multiprocessing_context="spawn")]
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    with pytest.raises(TypeError, match="must be picklable"):
        list(DataLoader(ds, 4, num_workers=1, multiprocessing_context="spawn",
                        worker_init_fn=lambda i: None))
    with pytest.raises(ValueError, match="prefetch_factor option should be positive"):
        DataLoader(ds, 4, num_workers=1, prefetch_factor=0)


def test_more_workers_than_cpus_warns_as_torch(monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    with pytest.warns(UserWarning, match="will create 2 worker processes in total"):
        assert len(list(DataLoader(list(range(4)), 2, num_workers=2))) == 2


class _Dies(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        import os

        os._exit(3)


def test_a_dead_worker_and_a_failing_sampler_are_clear_errors():
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(_Dies(), 2, num_workers=1))
    bad = WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(RuntimeError, match="element < 0"):
        list(DataLoader(list(range(2)), 1, sampler=bad, num_workers=1))


_PROGRAM = """
import torch

nn = torch.nn


class Points(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def run(x, y, w0):
    ds = Points(torch.tensor(x), torch.tensor(y))
    sampler = torch.utils.data.RandomSampler(ds)
    loader = torch.utils.data.DataLoader(ds, batch_size=len(ds), sampler=sampler,
                                         num_workers=2, persistent_workers=True)
    model = nn.Linear(3, 1)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(w0))
        model.bias.zero_()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(4):
        for xb, yb in loader:
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
    return loss.item()
"""


def test_a_torch_program_with_random_sampler_and_workers_runs_after_the_import_swap():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(48, 3)).astype(np.float32)
    y = (x @ np.array([0.5, 1.0, -1.5], np.float32))[:, None]
    w0 = rng.normal(size=(1, 3)).astype(np.float32)
    losses = []
    for source in (_PROGRAM, _PROGRAM.replace("import torch\n", "import zengrad as torch\n", 1)):
        namespace = {"__name__": "ported_program"}
        exec(compile(source, "ported_program", "exec"), namespace)  # noqa: S102
        losses.append(namespace["run"](x, y, w0))
    # one shuffled full batch per epoch: the order differs, the mean gradient doesn't
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)


def test_generic_dataset_classes_and_chaining_as_in_torch():
    class Typed(Dataset[int]):  # subscripted as torch's Dataset
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i

    assert [b.tolist() for b in DataLoader(Typed(), 2)] == [[0, 1], [2]]
    chained = _Stream.make(IterableDataset, 3) + _Stream.make(IterableDataset, 2)
    theirs = _Stream.make(tud.IterableDataset, 3) + _Stream.make(tud.IterableDataset, 2)
    assert list(chained) == list(theirs) == [0, 1, 2, 0, 1]
    _same(list(DataLoader(chained, 2)), list(tud.DataLoader(theirs, 2)))
    with pytest.raises(TypeError, match="can't be indexed"):
        _Stream.make(IterableDataset)[0]
    with pytest.raises(ValueError, match="seed= or generator="):
        DataLoader(list(range(3)), shuffle=True, seed=1, generator=zg.Generator())
    with pytest.raises(TypeError, match="map-style dataset"):
        DataLoader(5)


class _NumpyDraws(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.random.rand()


def test_each_worker_draws_its_own_numpy_stream():
    draws = [b.item() for b in DataLoader(_NumpyDraws(), 1, num_workers=2)]
    assert len(set(draws)) == 4  # the two workers do not repeat each other's numbers


def test_the_iterator_has_the_loaders_length_as_torch():
    x, y = _data(10)
    for kw in ({}, {"num_workers": 1}):
        it = iter(DataLoader(TensorDataset(x, y), 4, **kw))
        assert len(it) == 3
        xb, yb = next(it)
        assert yb.tolist() == [0, 1, 2, 3]
        assert len(list(it)) == 2
