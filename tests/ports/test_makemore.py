"""makemore (karpathy/makemore: makemore.py) after the import swap.

Its six models written by hand (Bigram lookup table, Bengio MLP with torch.roll and an
in-place <BLANK> column, RNN and GRU cells with torch.cat over an expanded start state,
causal bag of words, GPT-2 Transformer), CharDataset batches through DataLoader, the
__main__ block's AdamW step, evaluate() under inference_mode, generate and print_samples.
"""

import types

import numpy as np
import pytest

import zengrad

from ._common import assert_losses_close
from ._program import both, float64_default, state_to_numpy

# a made-up word list (makemore reads names.txt; nothing is downloaded)
WORDS = ["emma", "ava", "mia", "zoe", "leo", "max", "ida", "noa", "eli", "amy", "lia"]
ARGS = types.SimpleNamespace(device="cpu", top_k=-1, learning_rate=1e-2, weight_decay=0.01)


@pytest.fixture(scope="module")
def programs():
    return both("makemore", args=ARGS)


def datasets(prog):
    chars = sorted(set("".join(WORDS)))
    max_len = max(len(w) for w in WORDS)
    return prog.CharDataset(WORDS[:8], chars, max_len), prog.CharDataset(WORDS[8:], chars, max_len)


def build(prog, kind, train_dataset):
    config = prog.ModelConfig(vocab_size=train_dataset.get_vocab_size(),
                              block_size=train_dataset.get_output_length(),
                              n_layer=2, n_head=2, n_embd=8, n_embd2=12)
    if kind in ("rnn", "gru"):
        return prog.RNN(config, cell_type=kind)
    return getattr(prog, kind)(config)


def train(lib, prog, model, dataset, steps):
    """The training loop of makemore's __main__, on a fixed full batch."""
    args = prog.args
    optimizer = lib.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay, betas=(0.9, 0.99), eps=1e-8)  # noqa: E501  (verbatim)
    X, Y = next(iter(lib.utils.data.DataLoader(dataset, batch_size=len(dataset))))
    losses = []
    for _ in range(steps):
        logits, loss = model(X, Y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("kind", ["Bigram", "MLP", "rnn", "gru", "BoW", "Transformer"])
def test_makemore_model_matches_torch(programs, kind):
    import torch

    ref_prog, prog = programs
    torch.manual_seed(0)
    with float64_default(torch):
        ref_train, ref_test = datasets(ref_prog)
        ref_model = build(ref_prog, kind, ref_train)
        start = state_to_numpy(ref_model)
        ref = train(torch, ref_prog, ref_model, ref_train, 3)
        ref.append(ref_prog.evaluate(ref_model, ref_test, batch_size=100))
        ref_gen = ref_prog.generate(ref_model, torch.zeros(2, 1, dtype=torch.long), 4)
    with float64_default(zengrad):
        train_ds, test_ds = datasets(prog)
        model = build(prog, kind, train_ds)
        model.load_state_dict(start)
        got = train(zengrad, prog, model, train_ds, 3)
        got.append(prog.evaluate(model, test_ds, batch_size=100))
        gen = prog.generate(model, zengrad.zeros(2, 1, dtype=zengrad.long), 4)
    assert_losses_close(ref, got)
    np.testing.assert_array_equal(gen.numpy(), ref_gen.numpy())


def test_makemore_print_samples_runs(programs, capsys):
    """print_samples draws with torch.multinomial and decodes; it reads __main__'s globals."""
    _, prog = programs
    train_ds, test_ds = datasets(prog)
    zengrad.manual_seed(0)
    prog.train_dataset, prog.test_dataset = train_ds, test_ds
    prog.model = build(prog, "gru", train_ds)
    prog.print_samples(num=5)
    out = capsys.readouterr().out
    counts = [int(line.split()[0]) for line in out.splitlines() if "samples that are" in line]
    assert sum(counts) == 5
