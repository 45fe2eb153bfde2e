"""Losses: one number that says how wrong the network is, so that its gradient says how to fix it.

- Mean squared error, mean((y - t)²), for outputs that are numbers (regression).
- Cross-entropy, -mean(log p[target]), for outputs that are choices (a class, the next token):
  the network gives one score (logit) per choice, softmax turns scores into probabilities, and
  the loss is the surprise of the right answer. Computing log-softmax directly (never
  log(softmax)) keeps it finite even when a probability underflows to 0.
"""

from __future__ import annotations

import numpy as np

from attento.nn.autograd import ArrayLike, Tensor, as_tensor


def mse(prediction: Tensor, target: ArrayLike) -> Tensor:
    """mean((prediction - target)²); its gradient is 2·(prediction - target)/n."""
    diff = prediction - as_tensor(target)
    return (diff * diff).mean()


def cross_entropy(logits: Tensor, targets: ArrayLike) -> Tensor:
    """Mean negative log-probability of the `targets` (class ids) under softmax(`logits`).

    `logits` has shape (n, classes), `targets` shape (n,). The gradient with respect to the
    logits works out to (softmax - one_hot(target)) / n: push the right class up, the others
    down, each in proportion to the probability it was given.
    """
    targets = np.asarray(targets, dtype=np.int64)
    logp = logits.log_softmax(axis=-1)
    return -logp[np.arange(len(targets)), targets].mean()
