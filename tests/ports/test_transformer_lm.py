"""Transformer language model (pytorch/examples word_language_model, Transformer)."""

import math

import numpy as np

import zengrad

from ._common import assert_losses_close, float64_torch, modules, twins

VOCAB, D, HEADS, FF, LAYERS = 11, 16, 2, 32, 2


def build(torch):
    torch, nn, F, optim = modules(torch)

    class TransformerLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, D)
            layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, LAYERS)
            self.head = nn.Linear(D, VOCAB)

        def forward(self, x):
            n = x.size(1)
            mask = nn.Transformer.generate_square_subsequent_mask(n)
            pos = torch.arange(n).unsqueeze(1)
            div = torch.exp(torch.arange(0, D, 2) * (-math.log(10000.0) / D))
            pe = torch.zeros(n, D)
            pe[:, 0::2] = torch.sin(pos * div)
            pe[:, 1::2] = torch.cos(pos * div)
            h = self.embed(x) * math.sqrt(D) + pe
            return self.head(self.encoder(h, mask=mask, is_causal=True))

    return TransformerLM().double()


def run(torch, model, seq, steps):
    torch, nn, F, optim = modules(torch)
    data = torch.from_numpy(seq)
    inp, target = data[:, :-1], data[:, 1:]
    optimizer = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(inp)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), target.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_transformer_lm_matches_torch():
    rng = np.random.default_rng(0)
    seq = rng.integers(0, VOCAB, size=(3, 9)).astype(np.int64)
    with float64_torch() as torch:
        ref_model, twin = twins(build, torch, zengrad)
        ref = run(torch, ref_model, seq, steps=4)
    zengrad.set_default_dtype(zengrad.float64)  # torch.zeros/exp above use the default dtype
    try:
        got = run(zengrad, twin, seq, steps=4)
    finally:
        zengrad.set_default_dtype(zengrad.float32)
    assert_losses_close(ref, got)
