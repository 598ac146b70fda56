"""Test setup for zengrad.tune.

* ``tune_objectives`` must be importable by name: worker processes (spawn, Dask) import the
  objectives from there, so they must not live in a test module's namespace.
* BLAS runs on one thread for every test (tests/conftest.py): the GP's matrices are small.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
