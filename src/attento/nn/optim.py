"""Gradient descent: move every weight a small step against its gradient.

Plain SGD: w <- w - lr · dL/dw. The gradient points uphill, so a small step the other way
lowers the loss. With momentum the step follows a running sum of past gradients instead,

    v <- μ·v + dL/dw        w <- w - lr · v

like a ball rolling downhill: it speeds up along directions where the gradients agree and
damps the zig-zag where they flip sign. This is the same update as torch.optim.SGD.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from attento.errors import UserError
from attento.nn.autograd import Tensor, zero_grad


class SGD:
    """Stochastic gradient descent with optional momentum."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0) -> None:
        if lr <= 0:
            raise UserError(f"the learning rate must be positive, got {lr}")
        if not 0 <= momentum < 1:
            raise UserError(f"momentum must be in [0, 1), got {momentum}")
        self.params = list(params)
        self.lr = lr
        self.momentum = momentum
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        for p, v in zip(self.params, self.velocity, strict=True):
            v *= self.momentum
            v += p.grad
            p.data -= self.lr * v

    def zero_grad(self) -> None:
        zero_grad(self.params)
