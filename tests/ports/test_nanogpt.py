"""nanoGPT (karpathy/nanoGPT: model.py) after the import swap, trained by train.py's step.

F.scaled_dot_product_attention(is_causal=True), F.layer_norm with an optional bias, weight
tying (wte.weight = lm_head.weight), configure_optimizers' 2-D/1-D groups (inspect.signature
of AdamW), generate with topk + torch.multinomial; train.py's warmup/cosine get_lr written
into param_groups, gradient accumulation, clip_grad_norm_ and the GradScaler calls.
"""

import math
from contextlib import nullcontext

import numpy as np
import pytest

import zengrad

from ._common import assert_losses_close
from ._program import both, float64_default, state_to_numpy

VOCAB, BLOCK, BATCH = 11, 8, 3
# train.py's settings, shrunk
learning_rate, min_lr, warmup_iters, lr_decay_iters = 6e-3, 6e-4, 2, 5
gradient_accumulation_steps, grad_clip, decay_lr = 2, 1.0, True
DATA = np.random.default_rng(0).integers(0, VOCAB, size=200).astype(np.uint16)


def get_lr(it):
    # train.py's get_lr, verbatim
    # 1) linear warmup for warmup_iters steps
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    # 2) if it > lr_decay_iters, return min learning rate
    if it > lr_decay_iters:
        return min_lr
    # 3) in between, use cosine decay down to min learning rate
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio)) # coeff ranges 0..1
    return min_lr + coeff * (learning_rate - min_lr)


def get_batch(torch, step):
    """train.py's get_batch with the offsets drawn by NumPy (torch.randint draws differ)."""
    data, block_size = DATA, BLOCK
    ix = np.random.default_rng(step).integers(len(data) - block_size, size=BATCH)
    x = torch.stack([torch.from_numpy((data[i:i+block_size]).astype(np.int64)) for i in ix])
    y = torch.stack([torch.from_numpy((data[i+1:i+1+block_size]).astype(np.int64)) for i in ix])
    return x, y


class NoOpScaler:
    """What torch.cuda.amp.GradScaler(enabled=False) does: nothing."""

    def scale(self, loss):
        return loss

    def unscale_(self, optimizer):
        pass

    def step(self, optimizer):
        optimizer.step()

    def update(self):
        pass


def train(torch, model, scaler, steps):
    """The body of train.py's loop (no DDP, no eval, no logging)."""
    optimizer = model.configure_optimizers(0.1, learning_rate, (0.9, 0.95), "cpu")
    ctx = nullcontext()
    X, Y = get_batch(torch, 0)
    losses = []
    for iter_num in range(steps):
        lr = get_lr(iter_num) if decay_lr else learning_rate
        for param_group in optimizer.param_groups:
            param_group['lr'] = lr
        for micro_step in range(gradient_accumulation_steps):
            with ctx:
                logits, loss = model(X, Y)
                loss = loss / gradient_accumulation_steps
            X, Y = get_batch(torch, 1 + iter_num * gradient_accumulation_steps + micro_step)
            scaler.scale(loss).backward()
        if grad_clip != 0.0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item() * gradient_accumulation_steps)
    return losses


def config(prog, bias):
    return prog.GPTConfig(block_size=BLOCK, vocab_size=VOCAB, n_layer=2, n_head=2, n_embd=8,
                          dropout=0.0, bias=bias)


@pytest.fixture(scope="module")
def programs():
    return both("nanogpt")


def twins(programs, bias):
    import torch

    ref_prog, prog = programs
    with float64_default(torch):
        ref_model = ref_prog.GPT(config(ref_prog, bias))
    with float64_default(zengrad):
        model = prog.GPT(config(prog, bias))
    model.load_state_dict(state_to_numpy(ref_model))
    return ref_model, model


@pytest.mark.parametrize("bias", [True, False])
def test_nanogpt_training_matches_torch(programs, bias):
    import torch

    ref_model, model = twins(programs, bias)
    # weight tying survives construction and loading
    assert model.transformer.wte.weight is model.lm_head.weight
    assert model.get_num_params() == ref_model.get_num_params()
    with float64_default(torch):
        ref = train(torch, ref_model, torch.amp.GradScaler("cpu", enabled=False), 6)
    with float64_default(zengrad):
        got = train(zengrad, model, NoOpScaler(), 6)
    assert_losses_close(ref, got)
    assert model.transformer.wte.weight is model.lm_head.weight


def test_nanogpt_generate_matches_torch(programs):
    import torch

    ref_model, model = twins(programs, True)
    ref_model.eval()
    model.eval()
    start = np.array([[1, 2, 3], [4, 0, 5]])
    # top_k=1 leaves one token with probability 1: multinomial must pick it
    ref = ref_model.generate(torch.tensor(start), 7, top_k=1)
    got = model.generate(zengrad.tensor(start), 7, top_k=1)
    np.testing.assert_array_equal(got.numpy(), ref.numpy())  # crosses block_size: cropping
    zengrad.manual_seed(0)
    sampled = model.generate(zengrad.tensor(start), 4, temperature=0.8, top_k=3)
    assert sampled.shape == (2, 7) and (sampled.numpy() < VOCAB).all()


def test_nanogpt_grad_scaler_disabled(programs):
    _, model = twins(programs, True)
    scaler = zengrad.cuda.amp.GradScaler(enabled=False)
    with float64_default(zengrad):
        assert np.isfinite(train(zengrad, model, scaler, 1)).all()
