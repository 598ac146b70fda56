"""Fixtures shared by the optimizer tests."""

from __future__ import annotations

import pytest

from zengrad.ops import threads


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def nthreads(request):
    """Run the test at one zengrad thread and at two (the count is restored after)."""
    before = threads.get_num_threads()
    threads.set_num_threads(request.param)
    yield request.param
    threads.set_num_threads(before)
