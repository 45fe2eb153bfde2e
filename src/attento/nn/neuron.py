"""One artificial neuron, computed step by step.

A neuron receives many inputs and produces one output (like a brain neuron with its
dendrites): it multiplies each input xᵢ by a weight wᵢ (the synapse that strengthens or damps
the signal), adds the products and a bias b, z = Σ xᵢwᵢ + b, then applies an activation.

The brain analogy is "all or nothing": the neuron fires (1) when the summed signal exceeds a
threshold, else stays silent (0): a step function. Artificial networks use a smooth
activation (sigmoid, tanh, ReLU, GELU) instead, because a step has no useful derivative:
nudging a weight a little almost never changes its output, so gradient descent cannot learn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from attento.messages import user_error
from attento.nn.activations import get_activation


@dataclass
class NeuronTrace:
    """Every number of one neuron's computation, in the order it happens."""

    inputs: list[float]
    weights: list[float]
    products: list[float]
    weighted_sum: float
    bias: float
    z: float
    threshold: float
    fires: int
    activation: str
    output: float
    derivative: float

    def to_dict(self) -> dict:
        return asdict(self)


def compute_neuron(
    inputs: Sequence[float],
    weights: Sequence[float],
    bias: float = 0.0,
    activation: str = "sigmoid",
    threshold: float = 0.0,
) -> NeuronTrace:
    """Run one neuron on `inputs` and record the products, the sum and both activations."""
    if not inputs:
        raise user_error("neuron_no_inputs")
    if len(inputs) != len(weights):
        raise user_error("neuron_weights", inputs=len(inputs), weights=len(weights))
    values = [*inputs, *weights, bias, threshold]
    if not all(math.isfinite(v) for v in values):
        raise user_error("neuron_finite")
    act = get_activation(activation)
    products = [x * w for x, w in zip(inputs, weights, strict=True)]
    weighted_sum = math.fsum(products)
    z = weighted_sum + bias
    return NeuronTrace(
        inputs=list(inputs),
        weights=list(weights),
        products=products,
        weighted_sum=weighted_sum,
        bias=bias,
        z=z,
        threshold=threshold,
        fires=int(z > threshold),
        activation=act.name,
        output=float(act.f(np.array(z))),
        derivative=float(act.df(np.array(z))),
    )
