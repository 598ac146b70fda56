"""minGPT (karpathy/minGPT: mingpt/model.py + mingpt/trainer.py) after the import swap.

The GPT with hand-written causal self-attention (masked_fill on a registered tril buffer,
softmax, view/transpose), configure_optimizers' AdamW param groups with weight-decay
blacklists by module type, generate with topk, and the Trainer's loop (clip_grad_norm_).
"""

import numpy as np
import pytest

import zengrad

from ._common import assert_losses_close
from ._program import address_space_cap, both, float64_default, state_to_numpy

VOCAB, BLOCK = 7, 6


def gpt_config(prog):
    config = prog.GPT.get_default_config()
    config.model_type = None
    config.n_layer, config.n_head, config.n_embd = 2, 2, 8
    config.vocab_size, config.block_size = VOCAB, BLOCK
    config.embd_pdrop = config.resid_pdrop = config.attn_pdrop = 0.0
    return config


def train_config(prog, steps):
    config = prog.Trainer.get_default_config()
    config.num_workers, config.max_iters, config.batch_size = 0, steps, 3
    config.learning_rate = 1e-2
    return config


@pytest.fixture(scope="module")
def twins():
    """(torch program, zengrad program, torch GPT, zengrad GPT with its initial weights)."""
    ref_prog, prog = both("mingpt")
    import torch

    with float64_default(torch):
        ref_model = ref_prog.GPT(gpt_config(ref_prog))
    with float64_default(zengrad):
        model = prog.GPT(gpt_config(prog))
    model.load_state_dict(state_to_numpy(ref_model))
    return ref_prog, prog, ref_model, model


def batch(lib, seed=0):
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, VOCAB, size=(3, BLOCK + 1))
    x, y = lib.tensor(seq[:, :-1]), lib.tensor(seq[:, 1:])
    y[0, -2:] = -1  # ignore_index=-1, as minGPT's datasets mark padding
    return x, y


def train_steps(lib, model, tconfig, steps):
    """The body of minGPT's Trainer.run, with a fixed batch (the sampler draws differ)."""
    optimizer = model.configure_optimizers(tconfig)
    x, y = batch(lib)
    losses = []
    for _ in range(steps):
        logits, loss = model(x, y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), tconfig.grad_norm_clip)
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_mingpt_param_groups_match_torch(twins):
    ref_prog, prog, ref_model, model = twins
    ref_opt = ref_model.configure_optimizers(train_config(ref_prog, 1))
    opt = model.configure_optimizers(train_config(prog, 1))
    assert isinstance(opt, zengrad.optim.AdamW)
    ref_groups = [[tuple(p.shape) for p in g["params"]] for g in ref_opt.param_groups]
    assert [[tuple(p.shape) for p in g["params"]] for g in opt.param_groups] == ref_groups
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]


def test_mingpt_training_matches_torch(twins):
    import torch

    ref_prog, prog, ref_model, model = twins
    with float64_default(torch):
        ref = train_steps(torch, ref_model, train_config(ref_prog, 4), 4)
    with float64_default(zengrad):
        got = train_steps(zengrad, model, train_config(prog, 4), 4)
    assert_losses_close(ref, got)


def test_mingpt_generate_matches_torch(twins):
    import torch

    ref_prog, prog, ref_model, model = twins
    start = np.array([[1, 2], [3, 0]])
    ref_model.eval()
    model.eval()
    ref = ref_model.generate(torch.tensor(start), 6, do_sample=False)
    got = model.generate(zengrad.tensor(start), 6, do_sample=False)
    np.testing.assert_array_equal(got.numpy(), ref.numpy())
    # sampling from the top 2: every drawn token is one of the 2 most likely
    zengrad.manual_seed(0)
    sampled = model.generate(zengrad.tensor(start), 6, do_sample=True, top_k=2)
    assert sampled.shape == (2, 8) and sampled.dtype == zengrad.int64
    assert (sampled.numpy() >= 0).all() and (sampled.numpy() < VOCAB).all()


def run_trainer(lib, prog, model, steps):
    """minGPT's Trainer.run as written; a 1-item dataset makes every batch the same."""

    class OneSequence(lib.utils.data.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, idx):
            x, y = batch(lib)
            return x[1], y[1]

    trainer = prog.Trainer(train_config(prog, steps), model, OneSequence())
    losses = []
    trainer.add_callback("on_batch_end", lambda t: losses.append(t.loss.item()))
    trainer.run()
    return losses


@pytest.mark.filterwarnings("ignore:'pin_memory' argument")
def test_mingpt_trainer_run_matches_torch(twins):
    import torch

    ref_prog, prog, ref_model, model = twins
    with float64_default(torch):
        ref = run_trainer(torch, ref_prog, ref_model, 3)
    with float64_default(zengrad), address_space_cap(2 * 2**30):
        got = run_trainer(zengrad, prog, model, 3)
    assert_losses_close(ref, got)
