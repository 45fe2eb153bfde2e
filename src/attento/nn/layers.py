"""Layers: the weights and biases that training adjusts.

A `Linear` layer is a row of neurons side by side: neuron j computes Σᵢ xᵢ·W[i, j] + b[j], so
one matrix product computes all of them for a whole batch of inputs at once (x @ W + b).
An `MLP` stacks Linear layers with an activation in between (none after the last one: it
outputs raw scores, "logits", that the loss turns into probabilities). An `Embedding` is a
table with one learned vector per token id; looking a token up is just picking its row.

Initial weights are random (identical weights would get identical gradients and stay equal
forever) and small, scaled by 1/√fan_in so the weighted sums neither explode nor vanish with
width. The uniform ±1/√fan_in bound is what PyTorch's nn.Linear uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from attento.errors import UserError
from attento.nn.activations import get_activation
from attento.nn.autograd import Tensor, zero_grad


class Module:
    """Something with parameters: a layer or a whole network."""

    def parameters(self) -> list[Tensor]:
        return []

    def zero_grad(self) -> None:
        zero_grad(self.parameters())


class Linear(Module):
    """y = x @ W + b, with W of shape (n_in, n_out): one column of weights per neuron."""

    def __init__(
        self, n_in: int, n_out: int, bias: bool = True, rng: np.random.Generator | None = None
    ) -> None:
        rng = rng or np.random.default_rng()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = Tensor(rng.uniform(-bound, bound, (n_in, n_out)))
        self.bias = Tensor(rng.uniform(-bound, bound, n_out)) if bias else None

    def __call__(self, x: Tensor) -> Tensor:
        y = x @ self.weight
        return y + self.bias if self.bias is not None else y

    def parameters(self) -> list[Tensor]:
        return [self.weight] + ([self.bias] if self.bias is not None else [])


class MLP(Module):
    """A multi-layer perceptron: Linear -> activation -> ... -> Linear (logits)."""

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "tanh",
        rng: np.random.Generator | None = None,
    ) -> None:
        if len(sizes) < 2 or any(n < 1 for n in sizes):
            raise UserError("an MLP needs at least an input and an output size, all positive")
        rng = rng or np.random.default_rng()
        self.activation = get_activation(activation)
        self.layers = [Linear(a, b, rng=rng) for a, b in pairwise(sizes)]

    def __call__(self, x: Tensor) -> Tensor:
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)

    def parameters(self) -> list[Tensor]:
        return [p for layer in self.layers for p in layer.parameters()]


class Embedding(Module):
    """A lookup table: row `i` is the learned vector of token id `i`."""

    def __init__(self, num: int, dim: int, rng: np.random.Generator | None = None) -> None:
        rng = rng or np.random.default_rng()
        self.weight = Tensor(rng.standard_normal((num, dim)))

    def __call__(self, ids: np.ndarray) -> Tensor:
        return self.weight[np.asarray(ids, dtype=np.int64)]

    def parameters(self) -> list[Tensor]:
        return [self.weight]
