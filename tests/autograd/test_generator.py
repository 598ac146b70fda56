"""zengrad.Generator as torch.Generator; generator= on every random draw; multinomial and
bernoulli with torch's errors."""

import numpy as np
import pytest
import torch

import zengrad as zg


def test_manual_seed_returns_the_default_generator_and_keeps_the_old_draws():
    g = zg.manual_seed(5)
    assert g is zg.default_generator and isinstance(g, zg.Generator)
    assert torch.manual_seed(5) is torch.default_generator
    assert zg.initial_seed() == 5
    # the same numbers as before Generator existed: NumPy's default_rng(seed)
    np.testing.assert_array_equal(
        zg.rand(3).numpy(), np.random.default_rng(5).random(3).astype(np.float32)
    )
    zg.manual_seed(5)
    a = zg.randn(4)
    zg.manual_seed(5)
    np.testing.assert_array_equal(a.numpy(), zg.randn(4).numpy())
    # as torch: the module function converts with int(), the method wants an integer
    assert zg.manual_seed(2.7).initial_seed() == torch.manual_seed(2.7).initial_seed() == 2


@pytest.mark.parametrize("fw", [zg, torch])
def test_generator_api(fw):
    g = fw.Generator()
    assert g.initial_seed() == 67280421310721 and str(g.device) == "cpu"
    assert g.manual_seed(3) is g and g.initial_seed() == 3
    assert g.manual_seed(-1).initial_seed() == 2**64 - 1
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    with pytest.raises(ValueError):
        g.manual_seed(2**64)
    with pytest.raises(RuntimeError, match="manual_seed expected a long, but got float"):
        g.manual_seed(1.5)
    assert fw.Generator(device="cpu").initial_seed() == 67280421310721


def test_fresh_generators_draw_the_same_numbers_and_leave_the_default_alone():
    zg.manual_seed(0)
    expected = zg.rand(5).numpy()
    zg.manual_seed(0)
    first = zg.rand(2, generator=zg.Generator()).numpy()
    second = zg.rand(2, generator=zg.Generator()).numpy()
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(zg.rand(5).numpy(), expected)  # default stream untouched


@pytest.mark.parametrize("draw", [
    lambda g: zg.rand(3, 2, generator=g),
    lambda g: zg.randn((4,), generator=g),
    lambda g: zg.randint(0, 10, (6,), generator=g),
    lambda g: zg.randint(7, size=(3,), generator=g),
    lambda g: zg.randperm(8, generator=g),
    lambda g: zg.normal(0.0, 2.0, (3,), generator=g),
    lambda g: zg.normal(zg.zeros(3), zg.ones(3), generator=g),
    lambda g: zg.rand_like(zg.ones(2, dtype=zg.float64), generator=g),
    lambda g: zg.randn_like(zg.ones(2), generator=g),
    lambda g: zg.multinomial(zg.tensor([0.2, 0.3, 0.5]), 2, generator=g),
    lambda g: zg.ones(2, 4).multinomial(3, replacement=True, generator=g),
    lambda g: zg.bernoulli(zg.full((5,), 0.5), generator=g),
])
def test_generator_keyword_reproduces(draw):
    a = draw(zg.Generator().manual_seed(11))
    b = draw(zg.Generator().manual_seed(11))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    g = zg.Generator().manual_seed(11)
    c, d = draw(g), draw(g)  # the generator advances
    np.testing.assert_array_equal(c.numpy(), a.numpy())
    assert c.numel() < 3 or not np.array_equal(c.numpy(), d.numpy())


@pytest.mark.parametrize("fw", [zg, torch])
def test_a_generator_of_another_type_is_a_type_error(fw):
    with pytest.raises(TypeError, match="generator"):
        fw.rand(2, generator=3)
    with pytest.raises(TypeError, match="generator"):
        fw.randperm(3, generator=np.random.default_rng(0))


def test_state_round_trip():
    g = zg.Generator().manual_seed(42)
    zg.rand(3, generator=g)
    state = g.get_state()
    assert state.data.dtype == np.uint8
    assert state.ndim == 1
    a = zg.rand(4, generator=g)
    g.manual_seed(7)
    assert g.set_state(state) is g
    assert g.initial_seed() == 42  # as torch: the seed comes back with the state
    np.testing.assert_array_equal(zg.rand(4, generator=g).numpy(), a.numpy())
    # the default generator takes the same tensor through set_rng_state
    zg.set_rng_state(state)
    np.testing.assert_array_equal(zg.rand(4).numpy(), a.numpy())
    # get_rng_state stays the JSON-able dict that checkpoints store
    d = zg.get_rng_state()
    assert isinstance(d, dict) and d["bit_generator"] == "PCG64"


@pytest.mark.parametrize("fw", [zg, torch])
def test_bad_states(fw):
    g = fw.Generator()
    with pytest.raises(TypeError, match="ByteTensor"):
        g.set_state(fw.zeros(3))
    with pytest.raises(TypeError, match="ByteTensor"):
        g.set_state([1, 2])
    with pytest.raises(RuntimeError):
        g.set_state(fw.zeros(3, dtype=fw.uint8 if fw is torch else np.uint8))


def test_cuda_generator_is_refused():
    with pytest.raises(RuntimeError, match="only 'cpu' generators"):
        zg.Generator(device="cuda")


def test_multinomial_frequencies_and_without_replacement():
    p = zg.tensor([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 1.0, 1.0]], dtype=zg.float64)
    draws = zg.multinomial(p, 20000, replacement=True, generator=zg.Generator().manual_seed(0))
    assert draws.shape == (2, 20000) and draws.dtype == zg.int64
    freq = np.stack([np.bincount(r, minlength=4) / 20000 for r in draws.numpy()])
    np.testing.assert_allclose(freq, [[0.1, 0.0, 0.6, 0.3], [0.25] * 4], atol=0.015)
    # without replacement: each row a permutation; zero-weight categories come last
    for _ in range(20):
        rows = zg.multinomial(p, 4).numpy()
        assert sorted(rows[0]) == [0, 1, 2, 3] and rows[0][-1] == 1
        assert sorted(rows[1]) == [0, 1, 2, 3]
    # the first draw without replacement follows the weights
    first = [int(zg.multinomial(p[0], 1).item()) for _ in range(3000)]
    np.testing.assert_allclose(np.bincount(first, minlength=4) / 3000, [0.1, 0, 0.6, 0.3],
                               atol=0.03)
    assert zg.multinomial(zg.ones(0, 3), 1).shape == (0, 1)


@pytest.mark.parametrize("call, error, message", [
    (lambda fw: fw.multinomial(fw.tensor([0.1, 0.0, 0.9]), 4), RuntimeError,
     r"cannot sample n_sample > prob_dist.size\(-1\) samples without replacement"),
    (lambda fw: fw.multinomial(fw.tensor([0.1, 0.9]), 0), RuntimeError,
     r"cannot sample n_sample <= 0 samples"),
    (lambda fw: fw.multinomial(fw.tensor([1, 2]), 1), RuntimeError,
     r"multinomial only supports floating-point dtypes for input"),
    (lambda fw: fw.multinomial(fw.tensor([-1.0, 2.0]), 1), RuntimeError,
     r"probability tensor contains either `inf`, `nan` or element < 0"),
    (lambda fw: fw.multinomial(fw.tensor([float("nan"), 2.0]), 1), RuntimeError,
     r"probability tensor contains either `inf`, `nan` or element < 0"),
    (lambda fw: fw.multinomial(fw.tensor([0.0, 0.0]), 1), RuntimeError,
     r"invalid multinomial distribution \(sum of probabilities <= 0\)"),
    (lambda fw: fw.multinomial(fw.ones(2, 2, 2), 1), RuntimeError,
     r"prob_dist must be 1 or 2 dim"),
    (lambda fw: fw.multinomial(fw.tensor(1.0), 1), RuntimeError,
     r"prob_dist must be 1 or 2 dim"),
    (lambda fw: fw.multinomial(fw.tensor([0.5, 0.5]), 1.5), TypeError,
     r"argument 'num_samples' \(position 2\) must be int, not float"),
    (lambda fw: fw.bernoulli(fw.tensor([0.0, 1.5])), RuntimeError, r"[01]"),
])
def test_multinomial_and_bernoulli_errors_as_torch(call, error, message):
    for fw in (zg, torch):
        with pytest.raises(error, match=message):
            call(fw)


def test_bernoulli():
    p = zg.tensor([0.0, 1.0, 0.3], dtype=zg.float64)
    draws = np.stack([zg.bernoulli(p).numpy() for _ in range(4000)])
    assert draws.dtype == np.float64 and set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.mean(axis=0), [0.0, 1.0, 0.3], atol=0.03)
    half = zg.bernoulli(zg.zeros(4000), 0.5)
    assert abs(half.numpy().mean() - 0.5) < 0.05 and half.dtype == zg.float32
    assert p.bernoulli().shape == (3,)
    t = zg.zeros(1000)
    assert t.bernoulli_(0.25) is t and abs(t.numpy().mean() - 0.25) < 0.06


def test_dataloader_and_random_split_take_a_generator():
    ds = zg.data.TensorDataset(np.arange(10))

    def epoch(loader):
        return np.concatenate([b[0].numpy() for b in loader])

    a = zg.data.DataLoader(ds, batch_size=4, shuffle=True, generator=zg.Generator().manual_seed(1))
    b = zg.data.DataLoader(ds, batch_size=4, shuffle=True, generator=zg.Generator().manual_seed(1))
    np.testing.assert_array_equal(epoch(a), epoch(b))
    assert sorted(epoch(a)) == list(range(10))
    # state_dict / load_state_dict resume the generator's stream
    state = a.state_dict()
    nxt = epoch(a)
    a.load_state_dict(state)
    np.testing.assert_array_equal(epoch(a), nxt)
    # the loader follows the generator it was given (manual_seed on it restarts the order)
    g = zg.Generator().manual_seed(2)
    c = zg.data.DataLoader(ds, batch_size=5, shuffle=True, generator=g)
    first = epoch(c)
    g.manual_seed(2)
    np.testing.assert_array_equal(epoch(c), first)
    with pytest.raises(TypeError, match="zengrad.Generator"):
        zg.data.DataLoader(ds, shuffle=True, generator=5)

    s1 = zg.data.random_split(ds, [3, 7], generator=zg.Generator().manual_seed(0))
    s2 = zg.data.random_split(ds, [3, 7], generator=zg.Generator().manual_seed(0))
    np.testing.assert_array_equal(s1[0].indices, s2[0].indices)
    assert len(s1[1]) == 7
    with pytest.raises(TypeError, match="random_split"):
        zg.data.random_split(ds, [3, 7], generator="seed")


def test_fork_rng_restores_the_default_stream():
    zg.manual_seed(3)
    expected = zg.rand(3).numpy()
    zg.manual_seed(3)
    with zg.random.fork_rng():
        zg.manual_seed(99)
        zg.rand(10)
    np.testing.assert_array_equal(zg.rand(3).numpy(), expected)
    assert zg.initial_seed() == 3
