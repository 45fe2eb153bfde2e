"""Muon: Newton–Schulz orthogonalisation, parameter split with AdamW, lr scaling."""

from __future__ import annotations

import pytest
import torch

from attento.errors import UserError
from attento.models.gpt import GPT, GPTConfig
from attento.models.recurrent import GRULM, RecurrentConfig
from attento.train.config import TrainConfig
from attento.train.muon import Muon, Optimizers, orthogonalize
from attento.train.optim import build_optimizer


@pytest.mark.parametrize("shape", [(64, 64), (96, 32), (32, 128)])
def test_orthogonalize_approximates_u_vt(shape: tuple[int, int]) -> None:
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    o = orthogonalize(g)
    s = torch.linalg.svdvals(o)
    # the quintic iteration drives the singular values into roughly [0.7, 1.2]; only the
    # tiniest ones of a random square matrix (near 0) need more than five steps
    assert s.max() < 1.3 and (s > 0.6).float().mean() > 0.9
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    exact = u @ vh
    cosine = (o * exact).sum() / (o.norm() * exact.norm())
    assert cosine > 0.95


def test_muon_step_is_orthogonal_and_scaled_for_tall_matrices() -> None:
    tall = torch.nn.Parameter(torch.zeros(96, 32))
    tall.grad = torch.randn(96, 32)
    Muon([tall], lr=0.1, momentum=0.0).step()
    expected = -0.1 * 3**0.5 * orthogonalize(tall.grad)
    torch.testing.assert_close(tall.detach(), expected)


def test_muon_takes_the_block_matrices_and_adamw_the_rest() -> None:
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=16))
    cfg = TrainConfig(optimizer="muon", learning_rate=1e-3, muon_lr=0.02)
    opt = build_optimizer(model, cfg)
    assert isinstance(opt, Optimizers)
    muon = {id(p) for g in opt.optimizers["muon"].param_groups for p in g["params"]}
    adamw = {id(p) for g in opt.optimizers["adamw"].param_groups for p in g["params"]}
    expected = {id(p) for p in model.blocks.parameters() if p.dim() == 2}
    assert muon == expected
    assert muon.isdisjoint(adamw)
    assert muon | adamw == {id(p) for p in model.parameters()}
    assert id(model.embed.tok.weight) in adamw
    scales = sorted({g.get("lr_scale", 1.0) for g in opt.param_groups})
    assert scales == [1.0, pytest.approx(20.0)]


def test_muon_state_round_trips() -> None:
    model = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16))
    cfg = TrainConfig(optimizer="muon")
    opt = build_optimizer(model, cfg)
    model(torch.randint(50, (2, 8)), torch.randint(50, (2, 8)))[1].backward()
    opt.step()
    again = build_optimizer(model, cfg)
    again.load_state_dict(opt.state_dict())
    for name in ("adamw", "muon"):
        a = opt.optimizers[name].state_dict()["state"]
        b = again.optimizers[name].state_dict()["state"]
        assert a.keys() == b.keys() and a
        for k in a:
            for key, value in a[k].items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(b[k][key]))


def test_muon_needs_transformer_blocks_and_a_known_name() -> None:
    rnn = GRULM(RecurrentConfig(vocab_size=20, block_size=8, n_embd=8))
    with pytest.raises(UserError, match="transformer blocks"):
        build_optimizer(rnn, TrainConfig(optimizer="muon"))
    with pytest.raises(UserError, match="unknown optimizer"):
        TrainConfig(optimizer="sgd")
    with pytest.raises(UserError, match="muon_lr"):
        TrainConfig(optimizer="muon", muon_lr=0)


def test_a_batch_is_orthogonalised_as_each_matrix_alone() -> None:
    gen = torch.Generator().manual_seed(1)
    for shape in [(3, 96, 32), (2, 32, 64)]:
        batch = torch.randn(*shape, generator=gen)
        together = orthogonalize(batch)
        for g, o in zip(batch, together, strict=True):
            torch.testing.assert_close(o, orthogonalize(g), atol=1e-6, rtol=1e-5)
