"""Gradient checkpointing (TrainConfig.grad_checkpoint, `attento train --grad-checkpoint`):
the blocks' activations are recomputed in the backward pass, and the gradients are those of
the plain path, bit for bit, with and without dropout."""

from __future__ import annotations

import pytest
import torch

from attento.models.folder import load_model
from attento.models.gpt import GPT, GPTConfig
from attento.train import train

from .conftest import tiny_config


def gradients(model: GPT, recompute: bool, idx: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    model.checkpoint_blocks = recompute
    torch.manual_seed(11)  # the same dropout masks for both paths
    _, loss = model(idx[:, :-1], idx[:, 1:])
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize(
    "settings",
    [dict(), dict(dropout=0.2), dict(pos_encoding="rope", norm="rmsnorm", n_kv_head=1)],
)
def test_recomputed_blocks_give_bitwise_equal_gradients(settings):
    torch.manual_seed(0)
    model = GPT(GPTConfig(50, 24, 3, 2, 16, **settings)).train()
    idx = torch.randint(0, 50, (3, 25), generator=torch.Generator().manual_seed(1))
    plain, recomputed = gradients(model, False, idx), gradients(model, True, idx)
    assert plain.keys() == recomputed.keys()
    for name in plain:
        assert torch.equal(plain[name], recomputed[name]), name
    if settings.get("dropout"):  # dropout really drew masks: another seed gives other grads
        model.zero_grad(set_to_none=True)
        torch.manual_seed(12)
        model(idx[:, :-1], idx[:, 1:])[1].backward()
        assert not torch.equal(
            model.blocks[0].attn.qkv.weight.grad, plain["blocks.0.attn.qkv.weight"]
        )


def test_recomputing_saves_the_blocks_activations():
    """Tensors autograd keeps for the backward pass: the plain path keeps every block's, the
    checkpointed one only the blocks' inputs (and the head's)."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(50, 64, 4, 2, 32)).train()
    idx = torch.randint(0, 50, (2, 65))

    def saved_bytes(recompute: bool) -> int:
        model.checkpoint_blocks = recompute
        total = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(idx[:, :-1], idx[:, 1:])
        return total

    assert saved_bytes(True) < saved_bytes(False) / 2


def test_a_checkpointed_run_trains_the_same_weights(tmp_path, shakespeare):
    cfg = tiny_config(max_steps=3)
    cfg = cfg.replace(model={**cfg.model, "dropout": 0.1})  # the recomputed masks must match
    plain = train(cfg, tmp_path / "plain", text=shakespeare, progress=False)
    ckpt = train(
        cfg.replace(grad_checkpoint=True), tmp_path / "ckpt", text=shakespeare, progress=False
    )
    assert plain.final_train_loss == ckpt.final_train_loss
    a, _ = load_model(tmp_path / "plain")
    b, _ = load_model(tmp_path / "ckpt")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


def test_an_arch_without_blocks_to_recompute_is_one_line(tmp_path, shakespeare):
    from attento.errors import UserError

    cfg = tiny_config(arch="mlp", model={"block_size": 8}, grad_checkpoint=True)
    with pytest.raises(UserError, match="gradient checkpointing"):
        train(cfg, tmp_path / "run", text=shakespeare, progress=False)
