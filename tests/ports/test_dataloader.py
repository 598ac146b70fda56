"""Training through a DataLoader with a RandomSampler and worker processes.

The two frameworks draw different permutations, so each epoch is one batch holding the whole
dataset: the mean loss does not depend on the order, and the sampler must still cover every
sample exactly once per epoch.
"""

import numpy as np

import zengrad

from ._common import assert_losses_close, copy_state, modules, real_torch, restore_default

N = 24


def build(torch):
    torch, nn, F, optim = modules(torch)
    return nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 1)).double()


def run(torch, model, xs, ys, epochs):
    torch, nn, F, optim = modules(torch)
    from_data = torch.utils.data
    dataset = from_data.TensorDataset(torch.from_numpy(xs), torch.from_numpy(ys))
    sampler = from_data.RandomSampler(dataset)
    loader = from_data.DataLoader(dataset, batch_size=N, sampler=sampler, num_workers=2)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(epochs):
        for x, y in loader:
            assert sorted(x[:, 0].tolist()) == sorted(xs[:, 0].tolist())
            optimizer.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def test_dataloader_matches_torch():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((N, 3))
    ys = xs @ np.array([[0.5], [-1.0], [2.0]])
    torch = real_torch()
    try:
        ref_model = build(torch)
        twin = build(zengrad)
        copy_state(ref_model, twin)
        ref = run(torch, ref_model, xs, ys, epochs=3)
    finally:
        restore_default(torch)
    got = run(zengrad, twin, xs, ys, epochs=3)
    assert len(got) == 3
    assert_losses_close(ref, got)
