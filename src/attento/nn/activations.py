"""Activation functions, each with the derivative that backpropagation needs.

A neuron computes a weighted sum z = Σ xᵢwᵢ + b and then an activation a = f(z). Without f a
stack of layers is still one linear map (W₂(W₁x) = (W₂W₁)x), however deep: f is what lets a
network bend its decision boundary. Backpropagation only needs f and its derivative f'(z):
the gradient that reaches z is f'(z) times the gradient that reached a (the chain rule).

- step: the brain-neuron analogy, "all or nothing": 1 when z > 0, else 0. Its derivative is 0
  everywhere except at z = 0, where it does not exist (we use 0 there too). A zero gradient
  tells the weights nothing, which is why networks use smooth activations instead.
- sigmoid: a smooth step from 0 to 1. f' = f(1 - f), at most 1/4, so it fades in deep stacks.
- tanh: a smooth step from -1 to 1, centred on 0. f' = 1 - f².
- relu: max(0, z). f' = 1 for z > 0, 0 for z < 0 (we use 0 at z = 0, like PyTorch).
- gelu: the *exact* GELU, z·Φ(z) with Φ the standard normal CDF (via erf), used by BERT/GPT-2
  code as "gelu". f' = Φ(z) + z·φ(z), φ the normal density.
- gelu_tanh: GELU's tanh approximation 0.5·z·(1 + tanh(√(2/π)(z + 0.044715z³))), the formula
  of the original GPT-2 code (PyTorch: gelu(approximate="tanh")).
- linear: f(z) = z, no activation at all, to show what a network cannot learn without one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from attento.errors import UserError
from attento.nn.autograd import Tensor

Fn = Callable[[np.ndarray], np.ndarray]


def _erf(z: np.ndarray) -> np.ndarray:
    """The error function, element by element: NumPy has none, so use math.erf (exact, slow)."""
    return np.fromiter(map(math.erf, z.ravel().tolist()), np.float64, z.size).reshape(z.shape)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True)
class Activation:
    """f and f' on plain arrays; calling it on a Tensor adds a node to the autograd graph."""

    name: str
    f: Fn
    df: Fn
    summary: str

    def __call__(self, x: Tensor) -> Tensor:
        out = Tensor(self.f(x.data), (x,), self.name)

        def _backward() -> None:
            x.grad += self.df(x.data) * out.grad

        out._backward = _backward
        return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 0.5 * (1 + tanh(z/2)) equals 1 / (1 + e^-z) but never overflows for large |z|
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _gelu_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))


def _gelu_tanh(z: np.ndarray) -> np.ndarray:
    return 0.5 * z * (1.0 + np.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z**3)))


def _gelu_tanh_derivative(z: np.ndarray) -> np.ndarray:
    t = np.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z**3))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t**2) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * z**2)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("linear", lambda z: z, np.ones_like, "no activation: f(z) = z"),
        Activation(
            "step",
            lambda z: (z > 0).astype(z.dtype),
            np.zeros_like,
            "all or nothing: 1 if z > 0 else 0 (derivative 0 almost everywhere)",
        ),
        Activation(
            "sigmoid",
            _sigmoid,
            lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)),
            "1 / (1 + e^-z), a smooth step from 0 to 1",
        ),
        Activation("tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2, "a smooth step from -1 to 1"),
        Activation(
            "relu",
            lambda z: np.maximum(z, 0.0),
            lambda z: (z > 0).astype(z.dtype),
            "max(0, z)",
        ),
        Activation(
            "gelu",
            lambda z: z * _gelu_cdf(z),
            lambda z: _gelu_cdf(z) + z * np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi),
            "exact GELU z·Φ(z) (erf)",
        ),
        Activation(
            "gelu_tanh",
            _gelu_tanh,
            _gelu_tanh_derivative,
            "GELU, tanh approximation (GPT-2)",
        ),
    ]
}


def get_activation(name: str) -> Activation:
    """The activation called `name`; an unknown name is a user mistake."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise UserError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}"
        ) from None
