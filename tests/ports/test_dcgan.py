"""DCGAN (pytorch/examples dcgan), scaled down: one D step and one G step per iteration."""

import numpy as np

import zengrad

from ._common import assert_losses_close, copy_state, modules, real_torch, restore_default

NZ, NGF, NDF, NC = 8, 8, 8, 1


def build(torch):
    torch, nn, F, optim = modules(torch)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(
                nn.ConvTranspose2d(NZ, NGF * 2, 4, 1, 0, bias=False),  # 4x4
                nn.BatchNorm2d(NGF * 2),
                nn.ReLU(True),
                nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),  # 8x8
                nn.BatchNorm2d(NGF),
                nn.ReLU(True),
                nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False),  # 16x16
                nn.Tanh(),
            )

        def forward(self, z):
            return self.main(z)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(
                nn.Conv2d(NC, NDF, 4, 2, 1, bias=False),  # 8x8
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),  # 4x4
                nn.BatchNorm2d(NDF * 2),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(NDF * 2, 1, 4, 1, 0, bias=False),  # 1x1
                nn.Sigmoid(),
            )

        def forward(self, x):
            return self.main(x).view(-1, 1).squeeze(1)

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("BatchNorm") != -1:
            nn.init.constant_(m.bias, 0.1)

    net_g, net_d = Generator().double(), Discriminator().double()
    net_g.apply(weights_init)
    net_d.apply(weights_init)
    return net_g, net_d


def run(torch, net_g, net_d, real_np, noise_np, steps):
    torch, nn, F, optim = modules(torch)
    criterion = nn.BCELoss()
    optimizer_d = optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizer_g = optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.from_numpy(real_np)
    batch = real.size(0)
    losses = []
    for i in range(steps):
        noise = torch.from_numpy(noise_np[i])
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        net_d.zero_grad()
        label = torch.full((batch,), 1.0, dtype=real.dtype)
        err_d_real = criterion(net_d(real), label)
        err_d_real.backward()
        fake = net_g(noise)
        label.fill_(0.0)
        err_d_fake = criterion(net_d(fake.detach()), label)
        err_d_fake.backward()
        optimizer_d.step()
        # (2) Update G: maximize log(D(G(z)))
        net_g.zero_grad()
        label.fill_(1.0)
        err_g = criterion(net_d(fake), label)
        err_g.backward()
        optimizer_g.step()
        losses.append([(err_d_real + err_d_fake).item(), err_g.item()])
    return losses


def test_dcgan_matches_torch():
    rng = np.random.default_rng(0)
    real_np = np.tanh(rng.standard_normal((6, NC, 16, 16)))
    noise_np = rng.standard_normal((4, 6, NZ, 1, 1))
    torch = real_torch()
    try:
        ref_g, ref_d = build(torch)
        twin_g, twin_d = build(zengrad)
        copy_state(ref_g, twin_g)
        copy_state(ref_d, twin_d)
        ref = run(torch, ref_g, ref_d, real_np, noise_np, steps=4)
    finally:
        restore_default(torch)
    got = run(zengrad, twin_g, twin_d, real_np, noise_np, steps=4)
    assert_losses_close(ref, got)
