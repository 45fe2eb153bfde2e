"""What the settings dataclasses of SFT, the reward model, PPO and DPO share.

`check_settings`, run in `__post_init__`, turns a zero batch or a negative learning rate into
one clear `UserError` when the settings are made, instead of an IndexError or a torch
ValueError deep inside training (or, for zero steps, a silent run that learns nothing).

`TrainDropout` is the one dropout setting of the reward model, PPO and DPO, and `evaluating`
is how every forward pass that must not see dropout gets its way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from attento.errors import UserError

if TYPE_CHECKING:
    from torch import nn


def check_settings(settings: object, counts: Iterable[str], positive: Iterable[str] = ()) -> None:
    """`counts` must be integers >= 1 and `positive` finite numbers > 0."""
    for name in counts:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{name} must be a positive integer, got {value!r}")
    for name in positive:
        value = getattr(settings, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise UserError(f"{name} must be a positive number, got {value!r}")


@dataclass
class TrainDropout:
    """Whether the model being trained keeps its dropout in its own training forward passes.

    Off by default, as in TRL (`disable_dropout=True` in its DPO and reward configs; its PPO
    trainer always turns dropout off): alignment compares log-probabilities of one model
    against another or against an earlier copy of itself, and dropout noise makes them
    differ where they must agree (at the first step PPO's ratio π/π_old is 1 and the KL to
    the reference 0, DPO's implicit rewards are 0). Whatever this says, sampling, PPO's old
    log-probabilities and values, the reference and every evaluation run without dropout.
    Keyword-only, so that it follows each command's own fields."""

    train_dropout: bool = field(default=False, kw_only=True)


@contextmanager
def evaluating(*models: nn.Module) -> Iterator[None]:
    """Run the block with `models` in eval mode (no dropout), then give each its mode back."""
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(models, modes, strict=True):
            m.train(mode)
