"""Whole modules whose constructors took functions (activation=F.gelu) save and load; the
allow-list takes functions as torch's does."""

import io

import pytest

import zengrad
import zengrad.nn as nn
import zengrad.nn.functional as F
from zengrad.serialization import UnsafeGlobalError, safe_globals


def halve(x):
    return x * 0.5


class Act(nn.Module):
    def __init__(self, fn=F.relu) -> None:
        super().__init__()
        self.fn = fn
        self.lin = nn.Linear(3, 2)

    def forward(self, x):
        return self.fn(self.lin(x))


def _saved(model) -> io.BytesIO:
    buf = io.BytesIO()
    zengrad.save(model, buf)
    buf.seek(0)
    return buf


def test_a_functional_argument_round_trips():
    m = Act(F.gelu)
    with safe_globals([Act, F.relu]):  # functions in the list, as torch programs write it
        back = zengrad.load(_saved(m))
    assert back.fn is F.gelu
    x = zengrad.randn(4, 3)
    assert zengrad.allclose(back(x), m(x))


def test_a_users_function_needs_the_allow_list():
    m = Act(halve)
    with safe_globals([Act]), pytest.raises(UnsafeGlobalError, match="halve"):
        zengrad.load(_saved(m))
    with safe_globals([Act, halve]):
        assert zengrad.load(_saved(m)).fn is halve


def test_safe_globals_refuses_what_is_neither_class_nor_function():
    with pytest.raises(TypeError, match="not a class or a function"):
        with safe_globals([3]):
            pass
