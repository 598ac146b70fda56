# ruff: noqa
# Source: pytorch/examples at commit 77f55b912142e11fcfdf5b530231fb9c52f181e8: time_sequence_prediction/generate_sine_wave.py, verbatim.
# License: BSD 3-Clause, Copyright (c) 2017, Pytorch contributors
# (https://github.com/pytorch/examples/blob/main/LICENSE).
# tests/ports/test_time_sequence_prediction.py runs it as __main__ under real torch, and
# under zengrad with only its torch imports swapped (tests/ports/_program.py).

import numpy as np
import torch

np.random.seed(2)

T = 20
L = 1000
N = 100

x = np.empty((N, L), 'int64')
x[:] = np.array(range(L)) + np.random.randint(-4 * T, 4 * T, N).reshape(N, 1)
data = np.sin(x / 1.0 / T).astype('float64')
torch.save(data, open('traindata.pt', 'wb'))
