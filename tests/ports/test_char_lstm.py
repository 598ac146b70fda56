"""Character-level LSTM language model (pytorch/examples word_language_model, LSTM)."""

import numpy as np

import zengrad

from ._common import assert_losses_close, float64_torch, modules, twins

VOCAB, EMB, HID, LAYERS = 12, 8, 16, 2


def build(torch):
    torch, nn, F, optim = modules(torch)

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(VOCAB, EMB)
            self.rnn = nn.LSTM(EMB, HID, LAYERS, dropout=0.0, batch_first=True)
            self.decoder = nn.Linear(HID, VOCAB)

        def forward(self, x, hidden):
            out, hidden = self.rnn(self.encoder(x), hidden)
            return self.decoder(out), hidden

        def init_hidden(self, bsz):
            w = next(self.parameters())
            return (w.new_zeros(LAYERS, bsz, HID), w.new_zeros(LAYERS, bsz, HID))

    return CharRNN().double()


def run(torch, model, seq, steps):
    torch, nn, F, optim = modules(torch)
    data = torch.from_numpy(seq)
    inp, target = data[:, :-1], data[:, 1:]
    optimizer = optim.RMSprop(model.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss()
    hidden = model.init_hidden(data.size(0))
    losses = []
    for _ in range(steps):
        hidden = tuple(h.detach() for h in hidden)  # truncated BPTT
        optimizer.zero_grad()
        output, hidden = model(inp, hidden)
        loss = criterion(output.reshape(-1, VOCAB), target.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_char_lstm_matches_torch():
    rng = np.random.default_rng(0)
    seq = rng.integers(0, VOCAB, size=(3, 11)).astype(np.int64)
    with float64_torch() as torch:
        ref_model, twin = twins(build, torch, zengrad)
        ref = run(torch, ref_model, seq, steps=4)
    got = run(zengrad, twin, seq, steps=4)
    assert_losses_close(ref, got)
