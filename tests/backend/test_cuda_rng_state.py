"""zengrad.cuda.get_rng_state / set_rng_state / get_rng_state_all / set_rng_state_all as
torch has them, on the 'cuda' backend of tests/backend/conftest.py, and torch's answers on a
machine without CUDA."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import KIND
from zengrad import backend
from zengrad.nn import functional as F


def _masks(n: int = 256) -> np.ndarray:
    return F.dropout(zg.ones(n, device="cuda"), 0.5).cpu().numpy()


def test_set_rng_state_replays_the_draws_that_followed(cuda):
    zg.manual_seed(4)
    _masks()
    state = zg.cuda.get_rng_state()
    assert state.dtype == np.uint8 and state.ndim == 1 and state.device.type == "cpu"
    first = _masks(), _masks(64)
    zg.cuda.set_rng_state(state)
    again = _masks(), _masks(64)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], _masks())  # and the generator goes on from there


def test_the_state_survives_a_reseed_and_the_cpu_generator_is_left_alone(cuda):
    zg.manual_seed(1)
    state = zg.cuda.get_rng_state()
    want = _masks()
    zg.manual_seed(2)
    cpu_before = zg.get_rng_state()
    zg.cuda.set_rng_state(state)
    np.testing.assert_array_equal(_masks(), want)
    assert zg.get_rng_state() == cpu_before


def test_get_and_set_rng_state_all(cuda):
    zg.manual_seed(0)
    states = zg.cuda.get_rng_state_all()
    assert len(states) == zg.cuda.device_count() >= 1
    want = _masks()
    zg.cuda.manual_seed_all(9)
    zg.cuda.set_rng_state_all(states)
    np.testing.assert_array_equal(_masks(), want)
    by_index, by_name = zg.cuda.get_rng_state(0), zg.cuda.get_rng_state("cuda:0")
    np.testing.assert_array_equal(by_index.numpy(), by_name.numpy())


def test_bad_states_are_refused_with_what_is_wrong(cuda):
    good = zg.cuda.get_rng_state()
    with pytest.raises(TypeError, match="ByteTensor"):
        zg.cuda.set_rng_state(good.numpy())
    with pytest.raises(RuntimeError, match="not a device RNG state"):
        zg.cuda.set_rng_state(zg.from_numpy(np.arange(12, dtype=np.uint8)))
    with pytest.raises(RuntimeError, match="uint8"):
        zg.cuda.set_rng_state(zg.from_numpy(good.numpy().astype(np.int32)))
    with pytest.raises(RuntimeError, match="cut short or padded"):
        zg.cuda.set_rng_state(zg.from_numpy(good.numpy()[:-1].copy()))
    with pytest.raises(RuntimeError, match="invalid device ordinal 3"):
        zg.cuda.get_rng_state(3)
    with pytest.raises(TypeError, match="ByteTensors"):
        zg.cuda.set_rng_state_all([good.numpy()])


@pytest.mark.skipif(KIND != "fake", reason="builds a state of the fake's layout")
def test_a_state_of_another_thread_count_gets_a_generator_of_its_size(cuda):
    # a checkpoint from a GPU with more multiprocessors holds more per-thread states
    bigger = cuda.random.default_rng(cuda.random.XORWOW(7, size=16))
    want = bigger.random((5,)).get()
    bigger = cuda.random.default_rng(cuda.random.XORWOW(7, size=16))
    raw = cuda.asnumpy(bigger.bit_generator._state).view(np.uint8)
    header, _ = backend.parse_device_rng_state(zg.cuda.get_rng_state().numpy())
    header |= {"size": 16, "nbytes": int(raw.size)}
    state = np.concatenate([np.frombuffer(json.dumps(header).encode() + b"\0", np.uint8), raw])
    zg.cuda.set_rng_state(zg.from_numpy(state))
    np.testing.assert_array_equal(backend.rng_for(cuda).random((5,)).get(), want)
    assert zg.cuda.get_rng_state().numpy().size == state.size


@pytest.mark.skipif(backend.registered_module("cuda") is not None or zg.cuda.is_available(),
                    reason="needs a machine without CUDA")
def test_without_cuda_the_answers_are_torchs():
    assert zg.cuda.get_rng_state_all() == []
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        zg.cuda.get_rng_state()
    zg.cuda.set_rng_state(zg.from_numpy(np.zeros(3, np.uint8)))  # deferred by torch: no-op
    zg.cuda.set_rng_state_all([])
    with pytest.raises(TypeError, match="ByteTensor"):
        zg.cuda.set_rng_state([1, 2])


def test_fork_rng_forks_the_gpu_generator_too(cuda):
    zg.manual_seed(5)
    before = zg.cuda.get_rng_state().numpy()
    with zg.random.fork_rng():
        _masks()
    np.testing.assert_array_equal(zg.cuda.get_rng_state().numpy(), before)
    with zg.random.fork_rng(devices=[]):  # as torch: only the CPU generator is forked
        _masks()
    assert not np.array_equal(zg.cuda.get_rng_state().numpy(), before)
