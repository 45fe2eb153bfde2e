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
from dataclasses import asdict, dataclass

import numpy as np

from attento.config import Config
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


@dataclass
class NeuronSettings(Config):
    """One neuron and what it receives; checked when made.

    inputs: the signals x₁, x₂, ... arriving at the neuron
    weights: one weight per input (the synapses)
    bias: the bias b, added to the weighted sum
    threshold: the step fires (1) when z is above this
    activation: the smooth activation shown next to the step
    """

    inputs: tuple[float, ...] = (1.0, 0.5, -0.2)
    weights: tuple[float, ...] = (0.8, -0.4, 0.3)
    bias: float = 0.1
    threshold: float = 0.0
    activation: str = "sigmoid"

    def check(self) -> None:
        if not self.inputs:
            raise user_error("neuron_no_inputs")
        if len(self.inputs) != len(self.weights):
            raise user_error("neuron_weights", inputs=len(self.inputs), weights=len(self.weights))
        values = [*self.inputs, *self.weights, self.bias, self.threshold]
        if not all(math.isfinite(v) for v in values):
            raise user_error("neuron_finite")
        get_activation(self.activation)


def compute_neuron(s: NeuronSettings) -> NeuronTrace:
    """Run one neuron on its inputs and record the products, the sum and both activations."""
    act = get_activation(s.activation)
    products = [x * w for x, w in zip(s.inputs, s.weights, strict=True)]
    weighted_sum = math.fsum(products)
    z = weighted_sum + s.bias
    return NeuronTrace(
        inputs=list(s.inputs),
        weights=list(s.weights),
        products=products,
        weighted_sum=weighted_sum,
        bias=s.bias,
        z=z,
        threshold=s.threshold,
        fires=int(z > s.threshold),
        activation=act.name,
        output=float(act.f(np.array(z))),
        derivative=float(act.df(np.array(z))),
    )
