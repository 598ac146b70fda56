"""Whole modules holding nn.ParameterList / nn.ParameterDict save and load without pickle."""

import io

import numpy as np
import pytest

import zengrad
import zengrad.nn as nn
from zengrad.io import CheckpointError
from zengrad.serialization import safe_globals


class Mixture(nn.Module):
    def __init__(self, k: int = 2) -> None:
        super().__init__()
        self.means = nn.ParameterList([nn.Parameter(zengrad.randn(3)) for _ in range(k)])
        self.scales = nn.ParameterDict({"a": nn.Parameter(zengrad.ones(2, 2))})

    def forward(self, x):
        return sum((x - m).pow(2).sum() for m in self.means) * self.scales["a"].sum()


def _round_trip(model):
    buf = io.BytesIO()
    zengrad.save(model, buf)
    buf.seek(0)
    with safe_globals([Mixture]):
        return zengrad.load(buf)


def test_parameter_containers_round_trip_with_items_added_later():
    m = Mixture(k=2)
    m.means.append(nn.Parameter(zengrad.randn(3)))  # after construction: recorded as it is
    m.scales["b"] = nn.Parameter(zengrad.zeros(4, dtype=zengrad.float64), requires_grad=False)
    back = _round_trip(m)
    assert len(back.means) == 3 and list(back.scales.keys()) == ["a", "b"]
    for k, v in m.state_dict().items():
        got = back.state_dict()[k]
        assert got.dtype == v.dtype and got.shape == v.shape
        np.testing.assert_array_equal(got.numpy(), v.detach().numpy())
    assert not back.scales["b"].requires_grad and back.means[2].requires_grad
    x = zengrad.randn(3)
    assert back(x).item() == pytest.approx(m(x).item())


def test_a_damaged_parameter_record_is_refused(tmp_path):
    from zengrad.io import module_record

    rec = module_record.module_record(Mixture(1))
    rec["children"]["means"]["args"] = [[{"__parameter__": {"shape": [-1], "dtype": "float32",
                                                            "requires_grad": True}}]]
    with safe_globals([Mixture]), pytest.raises(CheckpointError, match="bad parameter record"):
        module_record.rebuild_module(rec, "f.pt")
