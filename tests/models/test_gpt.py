"""GPT: config validation, loss, init, optimiser groups, FLOP estimate."""

from __future__ import annotations

import math

import torch

from attento.models.gpt import GPT, GPTConfig


def small(**kw) -> GPTConfig:
    base = dict(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32)
    return GPTConfig(**(base | kw))


def test_forward_shapes_and_loss_matches_cross_entropy():
    torch.manual_seed(0)
    model = GPT(small()).eval()
    idx = torch.randint(0, 50, (3, 10))
    targets = idx.clone()
    targets[0, :4] = -100
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 10, 50)
    keep = targets != -100
    expected = -torch.log_softmax(logits, -1)[keep].gather(1, targets[keep][:, None]).mean()
    assert torch.allclose(loss, expected, atol=1e-6)
    assert torch.equal(model(idx), logits)


def test_untrained_loss_is_near_uniform():
    torch.manual_seed(0)
    model = GPT(small(vocab_size=200)).eval()
    idx = torch.randint(0, 200, (4, 16))
    _, loss = model(idx, torch.randint(0, 200, (4, 16)))
    assert abs(loss.item() - math.log(200)) < 0.1
