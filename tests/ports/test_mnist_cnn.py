"""MNIST-style CNN (pytorch/examples mnist) with Adadelta and StepLR, on bundled digits."""

import numpy as np

import zengrad
from zengrad.data import load_digits

from ._common import assert_losses_close, copy_state, modules, real_torch, restore_default


def build(torch):
    torch, nn, F, optim = modules(torch)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, 1)
            self.conv2 = nn.Conv2d(8, 16, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(16 * 2 * 2, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = nn.ReLU()(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    return Net().double()


def run(torch, model, data, target, steps):
    torch, nn, F, optim = modules(torch)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.7)
    model.eval()  # dropout off: the two frameworks draw different masks
    x = torch.tensor(data, dtype=torch.float64)
    y = torch.tensor(target, dtype=torch.long)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        output = model(x)
        loss = F.nll_loss(output, y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses


def test_mnist_cnn_matches_torch():
    (xtr, ytr), _ = load_digits()
    data = np.asarray(xtr[:64], dtype=np.float64)
    target = np.asarray(ytr[:64], dtype=np.int64)
    torch = real_torch()
    try:
        ref_model = build(torch)
        twin = build(zengrad)
        copy_state(ref_model, twin)
        ref = run(torch, ref_model, data, target, steps=5)
    finally:
        restore_default(torch)
    got = run(zengrad, twin, data, target, steps=5)
    assert_losses_close(ref, got)
