"""An OpInfo-style registry of zengrad's public ops (issue 10): one entry per op, by family.

test_registry.py makes the forward, gradient, gradcheck, dtype, method and error tests from
the entries; coverage.py finds public ops without one. A new op is one entry in its family's
file.
"""

from tests.ops.registry import (
    activation,
    elementwise,
    indexing,
    linalg,
    loss,
    nn,
    reduce,
    shape,
    sorting,
)

ENTRIES = [
    *elementwise.ENTRIES, *reduce.ENTRIES, *shape.ENTRIES, *indexing.ENTRIES, *sorting.ENTRIES,
    *linalg.ENTRIES, *activation.ENTRIES, *loss.ENTRIES, *nn.ENTRIES,
]
