"""Layers, losses and SGD against PyTorch on the same weights (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attento.errors import UserError
from attento.nn import MLP, SGD, Embedding, Tensor, cross_entropy, mse

TORCH_ACT = {
    "tanh": torch.nn.Tanh(),
    "relu": torch.nn.ReLU(),
    "sigmoid": torch.nn.Sigmoid(),
    "gelu": torch.nn.GELU(),
    "gelu_tanh": torch.nn.GELU(approximate="tanh"),
}


def torch_copy(mlp: MLP, activation: str) -> torch.nn.Sequential:
    """The same network in PyTorch; nn.Linear stores W transposed (out, in)."""
    modules: list[torch.nn.Module] = []
    for i, layer in enumerate(mlp.layers):
        lin = torch.nn.Linear(*layer.weight.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(layer.weight.data.T))
            lin.bias.copy_(torch.from_numpy(layer.bias.data))
        modules.append(lin)
        if i < len(mlp.layers) - 1:
            modules.append(TORCH_ACT[activation])
    return torch.nn.Sequential(*modules)


@pytest.mark.parametrize("activation", list(TORCH_ACT))
def test_mlp_forward_and_backward_match_torch(activation: str) -> None:
    rng = np.random.default_rng(3)
    mlp = MLP([5, 8, 7, 4], activation=activation, rng=rng)
    ref = torch_copy(mlp, activation)
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 4, 16)

    logits = mlp(Tensor(x))
    loss = cross_entropy(logits, y)
    loss.backward()
    ref_logits = ref(torch.from_numpy(x))
    ref_loss = torch.nn.functional.cross_entropy(ref_logits, torch.from_numpy(y))
    ref_loss.backward()

    np.testing.assert_allclose(logits.data, ref_logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert abs(loss.item() - ref_loss.item()) < 1e-12
    for layer, lin in zip(
        mlp.layers, [m for m in ref if isinstance(m, torch.nn.Linear)], strict=True
    ):
        # far tighter than 1e-6: both compute the same sums in float64
        np.testing.assert_allclose(
            layer.weight.grad, lin.weight.grad.numpy().T, rtol=1e-9, atol=1e-13
        )
        np.testing.assert_allclose(layer.bias.grad, lin.bias.grad.numpy(), rtol=1e-9, atol=1e-13)


def test_mse_matches_torch() -> None:
    rng = np.random.default_rng(4)
    p, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    pred = Tensor(p)
    loss = mse(pred, t)
    loss.backward()
    ref = torch.tensor(p, requires_grad=True)
    ref_loss = torch.nn.functional.mse_loss(ref, torch.from_numpy(t))
    ref_loss.backward()
    assert abs(loss.item() - ref_loss.item()) < 1e-12
    np.testing.assert_allclose(pred.grad, ref.grad.numpy(), rtol=1e-12)


def test_embedding_gradient_matches_torch_with_repeated_ids() -> None:
    rng = np.random.default_rng(5)
    emb = Embedding(6, 3, rng=rng)
    ids = np.array([[1, 1, 4], [0, 1, 5]])
    upstream = rng.standard_normal((2, 3, 3))
    (emb(ids) * upstream).sum().backward()
    ref = torch.nn.Embedding(6, 3, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.weight.data))
    (ref(torch.from_numpy(ids)) * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(emb.weight.grad, ref.weight.grad.numpy(), rtol=1e-12)
    assert np.all(emb.weight.grad[[2, 3]] == 0)  # rows never looked up get no gradient


def test_sgd_momentum_matches_torch_over_several_steps() -> None:
    rng = np.random.default_rng(6)
    mlp = MLP([3, 6, 2], activation="tanh", rng=rng)
    ref = torch_copy(mlp, "tanh")
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 2, 10)
    opt = SGD(mlp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        cross_entropy(mlp(Tensor(x)), y).backward()
        opt.step()
        ref_opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        ref_opt.step()
    np.testing.assert_allclose(
        mlp.layers[0].weight.data, ref[0].weight.detach().numpy().T, rtol=1e-10
    )
    np.testing.assert_allclose(mlp.layers[1].bias.data, ref[2].bias.detach().numpy(), rtol=1e-10)


def test_bad_settings_are_user_errors() -> None:
    with pytest.raises(UserError):
        MLP([4])
    with pytest.raises(UserError):
        SGD([], lr=0.0)
    with pytest.raises(UserError):
        SGD([], lr=0.1, momentum=1.0)
