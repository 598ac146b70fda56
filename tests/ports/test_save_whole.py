"""A model saved whole with torch.save and reloaded under torch.serialization.safe_globals."""

import numpy as np

import zengrad

from ._common import assert_losses_close, copy_state, modules, real_torch, restore_default


def build(torch):
    torch, nn, F, optim = modules(torch)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2)).double()


def run(torch, model, xs, ys, path, steps):
    torch, nn, F, optim = modules(torch)
    x, y = torch.from_numpy(xs), torch.from_numpy(ys)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    torch.save(model, path)
    allowed = [nn.Sequential, nn.Linear, nn.Tanh]
    with torch.serialization.safe_globals(allowed):
        loaded = torch.load(path, weights_only=True)
    loaded.eval()
    with torch.no_grad():
        losses.append(F.mse_loss(loaded(x), y).item())
    return losses


def test_save_whole_matches_torch(tmp_path):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((16, 5))
    ys = rng.standard_normal((16, 2))
    torch = real_torch()
    try:
        ref_model = build(torch)
        twin = build(zengrad)
        copy_state(ref_model, twin)
        ref = run(torch, ref_model, xs, ys, tmp_path / "ref.pt", steps=3)
    finally:
        restore_default(torch)
    got = run(zengrad, twin, xs, ys, tmp_path / "zg.pt", steps=3)
    assert_losses_close(ref, got)
    assert got[-1] < got[0]
