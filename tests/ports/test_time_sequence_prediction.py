"""pytorch/examples time_sequence_prediction, both scripts run whole as __main__.

generate_sine_wave.py: torch.save of a NumPy array into an open file. train.py: two
LSTMCells stepped over input.split(1, dim=1), LBFGS with a closure, a 1000-step no_grad
forecast, matplotlib plots. The data file is cut to 6 series of 40 points (the "shrink
sizes" the port allows) and train.py runs 1 LBFGS step; the printed losses must match torch.
"""

import functools
import sys

import numpy as np
import pytest

import zengrad

from ._common import assert_losses_close
from ._program import load, run_main, state_to_numpy

pytest.importorskip("matplotlib")


def printed(out: str, label: str) -> list[float]:
    return [float(line.split()[-1]) for line in out.splitlines() if line.startswith(label)]


def run_example(lib, framework, folder, monkeypatch, capsys, before_main=None):
    """Both scripts in `folder`; returns train.py's stdout."""
    monkeypatch.chdir(folder)
    run_main("tsp_generate_sine_wave", framework)
    data = lib.load("traindata.pt", weights_only=False)
    assert isinstance(data, np.ndarray) and data.shape == (100, 1000)
    lib.save(data[:6, :40].copy(), open("traindata.pt", "wb"))
    monkeypatch.setattr(sys, "argv", ["train.py", "--steps", "1"])
    capsys.readouterr()
    run_main("tsp_train", framework, before_main=before_main)
    assert (folder / "predict0.pdf").stat().st_size > 0
    return capsys.readouterr().out


def same_weights(torch):
    """before_main for the zengrad run: its Sequence() gets the torch run's first weights.

    train.py seeds torch with 0, builds Sequence() and calls .double(); the twin loads the
    same float64 weights right after its own .double().
    """
    torch.manual_seed(0)
    start = state_to_numpy(load("tsp_train", "torch").Sequence().double())

    def patch(module):
        # a method on the freshly loaded class (a subclass under the same name would loop
        # through train.py's super(Sequence, self))
        plain_double = module.Sequence.double

        def double(self):
            out = plain_double(self)
            self.load_state_dict(start)
            return out

        module.Sequence.double = double

    return patch


def test_time_sequence_prediction_matches_torch(tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    (tmp_path / "torch").mkdir()
    (tmp_path / "zengrad").mkdir()
    # torch >= 2.6 refuses train.py's torch.load('traindata.pt') of a pickled ndarray
    # (weights_only=True by default); the reference run gets the old default back.
    # zengrad's safetensors file loads as written.
    with monkeypatch.context() as patch:
        patch.setattr(torch, "load", functools.partial(torch.load, weights_only=False))
        ref_out = run_example(torch, "torch", tmp_path / "torch", monkeypatch, capsys)
    got_out = run_example(zengrad, "zengrad", tmp_path / "zengrad", monkeypatch, capsys,
                          before_main=same_weights(torch))
    ref, got = printed(ref_out, "loss:"), printed(got_out, "loss:")
    assert len(ref) > 5  # LBFGS evaluated its closure many times
    assert_losses_close(ref, got)
    assert_losses_close(printed(ref_out, "test loss:"), printed(got_out, "test loss:"))
