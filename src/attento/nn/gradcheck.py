"""How we know backpropagation is right: compare it with finite differences.

The derivative is the slope: df/dx ≈ (f(x + h) - f(x - h)) / 2h for a small h (the *central*
difference, whose error shrinks like h² rather than h). Nudging every input number one at a
time costs two forward passes each, far too slow for training, but it is an independent check
of the gradients that `backward()` computes in a single pass. Use float64: in float32 the
rounding error of f swamps the tiny difference f(x + h) - f(x - h).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from attento.nn.autograd import Tensor


def numerical_grads(
    f: Callable[[], Tensor], tensors: Sequence[Tensor], h: float = 1e-6
) -> list[np.ndarray]:
    """Central-difference gradient of the scalar `f()` with respect to each of `tensors`."""
    grads = []
    for t in tensors:
        grad = np.zeros_like(t.data)
        for i in np.ndindex(t.shape):
            original = t.data[i]
            t.data[i] = original + h
            plus = f().item()
            t.data[i] = original - h
            minus = f().item()
            t.data[i] = original
            grad[i] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def analytic_grads(f: Callable[[], Tensor], tensors: Sequence[Tensor]) -> list[np.ndarray]:
    """The gradients that backpropagation computes for the same function."""
    for t in tensors:
        t.grad = np.zeros_like(t.data)
    f().backward()
    return [t.grad.copy() for t in tensors]
