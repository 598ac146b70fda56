"""Training on a device: Trainer(device=...), its checkpoints and `zengrad train --device`,
on the fake 'cuda' of tests/backend/conftest.py (and the error without CuPy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zengrad as zg
from tests.backend.conftest import (
    KIND,
    cuda,  # noqa: F401  (the fixture)
)
from zengrad import nn, optim
from zengrad.cli import main
from zengrad.data import DataLoader, TensorDataset, make_moons
from zengrad.train import Trainer
from zengrad.train.callbacks import EarlyStopping, ModelCheckpoint

# float32 training on both devices: equal up to rounding on the fake (NumPy); a GPU rounds
# its own way (and Adam carries the differences through every step)
RTOL, ATOL = (1e-5, 1e-6) if KIND == "fake" else (2e-3, 1e-4)
no_cuda = pytest.mark.skipif(KIND == "cupy" or zg.cuda.is_available(),
                             reason="needs a machine without CUDA")


def _trainer(device, **kwargs):
    """A small classifier (no dropout: the same updates on every device), Adam, StepLR."""
    zg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = optim.lr_scheduler.StepLR(opt, 2, 0.5)
    return Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, verbose=0,
                   device=device, **kwargs)


def _loaders():
    x, y = make_moons(160, noise=0.2, seed=1)
    return (DataLoader(TensorDataset(x[:120], y[:120]), 16, shuffle=True, seed=0),
            DataLoader(TensorDataset(x[120:], y[120:]), 64))


def _weights(model) -> dict:
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def _assert_close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=RTOL, atol=ATOL, err_msg=k)


def test_fit_evaluate_predict_on_cuda_match_cpu(cuda):  # noqa: F811
    results = {}
    for device in ("cpu", "cuda"):
        trainer = _trainer(device)
        assert trainer.model[0].weight.device.type == device
        train, val = _loaders()
        history = trainer.fit(train, val, epochs=3)
        x = make_moons(160, noise=0.2, seed=1)[0][120:]
        pred = trainer.predict(x)
        assert type(pred) is np.ndarray
        results[device] = (history.history, trainer.evaluate(val), pred,
                           _weights(trainer.model))
    (h_cpu, e_cpu, p_cpu, w_cpu), (h_gpu, e_gpu, p_gpu, w_gpu) = results["cpu"], results["cuda"]
    for k in h_cpu:
        np.testing.assert_allclose(h_gpu[k], h_cpu[k], rtol=RTOL, atol=ATOL, err_msg=k)
    for k in e_cpu:
        np.testing.assert_allclose(e_gpu[k], e_cpu[k], rtol=RTOL, atol=ATOL, err_msg=k)
    np.testing.assert_allclose(p_gpu, p_cpu, rtol=RTOL, atol=ATOL)
    _assert_close(w_gpu, w_cpu)


def test_dict_free_batches_of_tensors_are_moved(cuda):  # noqa: F811
    trainer = _trainer("cuda", metrics=())
    x, y = make_moons(32, noise=0.2, seed=2)
    batches = [(zg.from_numpy(x[:16]), zg.from_numpy(y[:16])), [x[16:], y[16:]]]
    trainer.fit(batches, epochs=1)
    assert trainer.predict(batches).shape == (32, 2)


@pytest.mark.parametrize("resume_on", ["cuda", "cpu"])
def test_resume_from_a_cuda_checkpoint(cuda, tmp_path, resume_on):  # noqa: F811
    full = _trainer("cuda")
    full.fit(*_loaders(), epochs=4)
    first = _trainer("cuda")
    first.fit(*_loaders(), epochs=2, callbacks=[ModelCheckpoint(tmp_path / "ck.safetensors")])
    again = _trainer(resume_on)
    again.fit(*_loaders(), epochs=4, resume_from=tmp_path / "ck.safetensors")
    assert again.model[0].weight.device.type == resume_on
    state = again.optimizer.state[again.model[0].weight]
    assert zg.backend.device_of(state["exp_avg"]).type == resume_on
    _assert_close(_weights(again.model), _weights(full.model))


def test_early_stopping_restores_best_weights_on_cuda(cuda):  # noqa: F811
    trainer = _trainer("cuda")
    stop = EarlyStopping("val_loss", patience=1, restore_best_weights=True)
    trainer.fit(*_loaders(), epochs=3, callbacks=[stop])
    assert trainer.model[0].weight.device.type == "cuda"
    best = {k: zg.backend.asnumpy(v) for k, v in stop.best_weights.items()}
    _assert_close(_weights(trainer.model), best)


@no_cuda
def test_trainer_on_cuda_without_cupy_says_what_to_install():
    with pytest.raises(RuntimeError, match=r"Trainer.*CuPy.*pip install 'zengrad\[cuda\]'"):
        _trainer("cuda")


@no_cuda
def test_cli_train_on_cuda_without_cupy_is_a_usage_error(tmp_path, capsys):
    assert main(["train", "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zengrad train: error: --device:")
    assert "pip install 'zengrad[cuda]'" in err and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_cli_refuses_an_unknown_device(tmp_path, capsys):
    assert main(["train", "--device", "gpu", "--out", str(tmp_path / "r")]) == 2
    assert "gpu" in capsys.readouterr().err


def test_cli_train_on_cuda_writes_a_run_that_loads_on_the_cpu(cuda, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "r"
    assert main(["train", "--dataset", "iris", "--epochs", "2", "--verbose", "0",
                 "--device", "cuda", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["test"]
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert "device" not in json.loads((out / "config.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0  # the weights are host bytes
    assert "accuracy" in capsys.readouterr().out
