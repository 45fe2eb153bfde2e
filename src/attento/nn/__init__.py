"""Neural networks from scratch, in NumPy only: neurons, weights, activations, forward pass,
loss, backpropagation and gradient descent, with nothing hidden in a framework.

- autograd.py     `Tensor`: arrays that remember how they were computed, and `backward()`
- activations.py  step, sigmoid, tanh, ReLU, GELU, each with its derivative
- layers.py       Linear, MLP, Embedding
- losses.py       mean squared error, cross-entropy
- optim.py        SGD with momentum
- neuron.py       one neuron's computation, step by step
- gradcheck.py    finite differences: the independent check of backward()
- demos.py        XOR and two spirals: why a network needs an activation
- ngram.py        a character n-gram language model trained with this engine
"""

from attento.nn.activations import ACTIVATIONS, Activation, get_activation
from attento.nn.autograd import Tensor
from attento.nn.layers import MLP, Embedding, Linear, Module
from attento.nn.losses import cross_entropy, mse
from attento.nn.optim import SGD

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "SGD",
    "Activation",
    "Embedding",
    "Linear",
    "Module",
    "Tensor",
    "cross_entropy",
    "get_activation",
    "mse",
]
