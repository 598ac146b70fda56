"""The GPU generator's state in checkpoints: a run with dropout on the fake 'cuda' (tests/
backend/conftest.py) resumes to the weights of an uninterrupted run; damaged or foreign
device states are refused before anything changes."""

from __future__ import annotations

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import (
    KIND,
    cuda,  # noqa: F401  (the fixture)
)
from zengrad import nn, optim
from zengrad.data import DataLoader, TensorDataset, make_moons
from zengrad.io import load_checkpoint, save_checkpoint
from zengrad.io.checkpoint import CheckpointError
from zengrad.train import Trainer
from zengrad.train.callbacks import ModelCheckpoint

# the fake draws exactly as the CPU would; a real GPU's kernels round differently
TOL = {"rtol": 1e-6, "atol": 1e-7} if KIND == "fake" else {"rtol": 1e-4, "atol": 1e-5}


def _trainer(device="cuda"):
    """A classifier with dropout (its masks drawn on the device), Adam, shuffled batches."""
    zg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
    return Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02),
                   verbose=0, device=device)


def _loader():
    x, y = make_moons(96, noise=0.2, seed=1)
    return DataLoader(TensorDataset(x, y), 16, shuffle=True, seed=0)


def _weights(trainer) -> dict:
    return {k: v.detach().cpu().numpy() for k, v in trainer.model.state_dict().items()}


def _resumed(tmp_path, between=None) -> tuple[dict, dict]:
    """(weights after 4 uninterrupted epochs, weights after 2 + a resume to 4); between()
    runs before the resume (e.g. draws that move the device generator on)."""
    full = _trainer()
    full.fit(_loader(), epochs=4)
    first = _trainer()
    first.fit(_loader(), epochs=2, callbacks=[ModelCheckpoint(tmp_path / "ck.safetensors")])
    if between is not None:
        between()
    again = _trainer()
    again.fit(_loader(), epochs=4, resume_from=tmp_path / "ck.safetensors")
    return _weights(full), _weights(again)


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], err_msg=k, **TOL)


def test_checkpoint_holds_the_device_generator_state(cuda, tmp_path):  # noqa: F811
    trainer = _trainer()
    trainer.fit(_loader(), epochs=1, callbacks=[ModelCheckpoint(tmp_path / "ck.safetensors")])
    saved = load_checkpoint(tmp_path / "ck.safetensors")["cuda_rng"]
    assert len(saved) == zg.cuda.device_count() >= 1
    live = zg.cuda.get_rng_state_all()
    np.testing.assert_array_equal(saved[0].numpy(), live[0].numpy())


def test_resume_with_dropout_on_cuda_reproduces_the_run(cuda, tmp_path):  # noqa: F811
    # a fresh process would restart the device generator from the seed: reseeding it
    # between the runs (and drawing from it) stands in for that
    def elsewhere():
        zg.manual_seed(123)
        zg.nn.functional.dropout(zg.ones(64, device="cuda"), 0.5)

    full, resumed = _resumed(tmp_path, elsewhere)
    _assert_same(full, resumed)


def test_without_the_device_state_the_resumed_run_differs(cuda, tmp_path, monkeypatch):  # noqa: F811
    # the test above can fail: a checkpoint lacking the field resumes with other masks
    from zengrad.train import device_rng

    monkeypatch.setattr(device_rng, "in_use", lambda: False)
    full, resumed = _resumed(tmp_path, lambda: zg.manual_seed(123))
    assert any(not np.allclose(full[k], resumed[k]) for k in full)


def test_a_damaged_device_state_is_refused_before_anything_changes(cuda, tmp_path):  # noqa: F811
    trainer = _trainer()
    trainer.fit(_loader(), epochs=1, callbacks=[ModelCheckpoint(tmp_path / "ck.safetensors")])
    state = load_checkpoint(tmp_path / "ck.safetensors")
    good = state["cuda_rng"][0].numpy()
    bad = {"not a list": zg.from_numpy(good),
           "cut short": [zg.from_numpy(good[:-3].copy())],
           "no header": [zg.from_numpy(np.zeros(16, np.uint8))],
           "wrong dtype": [zg.from_numpy(good.astype(np.int64))]}
    before = _weights(trainer)
    rng_before = zg.cuda.get_rng_state().numpy()
    for why, value in bad.items():
        save_checkpoint({**state, "cuda_rng": value}, tmp_path / "bad.safetensors")
        with pytest.raises(CheckpointError, match="cuda_rng"):
            trainer.load_checkpoint(tmp_path / "bad.safetensors")
        _assert_same(_weights(trainer), before)
        np.testing.assert_array_equal(zg.cuda.get_rng_state().numpy(), rng_before, err_msg=why)


def test_a_cpu_checkpoint_has_no_device_state(tmp_path):
    if zg.cuda.is_initialized():
        pytest.skip("device 'cuda' is in use in this process")
    trainer = _trainer(device=None)
    trainer.fit(_loader(), epochs=1, callbacks=[ModelCheckpoint(tmp_path / "ck.safetensors")])
    assert "cuda_rng" not in load_checkpoint(tmp_path / "ck.safetensors")
