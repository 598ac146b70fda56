"""zengrad.allocator: glibc's malloc keeps a step's freed arrays mapped (no page faults again)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from zengrad import allocator

# 20 rounds of eight 4 MiB arrays made and freed, as a training step's activations are
SCRIPT = """
import resource, numpy as np, zengrad
print(int(zengrad.allocator.malloc_tuned()))
b = [np.ones(1 << 20, np.float32) for _ in range(8)]; del b
r = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    b = [np.ones(1 << 20, np.float32) for _ in range(8)]; del b
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r)
"""


def _run(tuning: str) -> tuple[bool, int]:
    env = {**os.environ, allocator.ENV: tuning}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0] == "1", int(out[1])


def test_opt_out_leaves_malloc_alone():
    tuned, _ = _run("0")
    assert not tuned


@pytest.mark.skipif(not allocator.malloc_tuned(), reason="not glibc: malloc is left alone")
def test_freed_arrays_stay_mapped():
    tuned, faults = _run("1")
    untuned, faults_before = _run("0")
    assert tuned and not untuned
    if faults_before < 1000:
        pytest.skip(f"this glibc re-faults only {faults_before} pages without the tuning")
    assert faults < faults_before / 10, (faults, faults_before)
