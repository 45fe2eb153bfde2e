"""What the settings dataclasses of the reward model, PPO and DPO share.

Like every config they are `attento.config.Config`s, whose `check()` turns a zero batch or a
negative learning rate into one clear `UserError` when the settings are made. `TrainDropout`
is the one dropout setting of the reward model, PPO and DPO, `RunDevice` the device they
train on (as `attento train --device`), and `evaluating` is how every forward pass that must
not see dropout gets its way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from attento.config import Config
from attento.train.config import TrainConfig
from attento.train.distributed import pick_device

if TYPE_CHECKING:
    from torch import nn


@dataclass
class TrainDropout(Config):
    """Whether the model being trained keeps its dropout in its own training forward passes.

    Off by default, as in TRL (`disable_dropout=True` in its DPO and reward configs; its PPO
    trainer always turns dropout off): alignment compares log-probabilities of one model
    against another or against an earlier copy of itself, and dropout noise makes them
    differ where they must agree (at the first step PPO's ratio π/π_old is 1 and the KL to
    the reference 0, DPO's implicit rewards are 0). Whatever this says, sampling, PPO's old
    log-probabilities and values, the reference and every evaluation run without dropout.
    Keyword-only, so that it follows each command's own fields.

    train_dropout: keep the model's dropout in the forward passes that train it; sampling,
        the reference and evaluations never use it (TRL's default is off)
    """

    train_dropout: bool = field(default=False, kw_only=True)


@dataclass
class RunDevice(Config):
    """The device an alignment run trains on: the same setting, default and check as
    `attento train --device` (TrainConfig.device); under torchrun each process takes its own
    GPU. Keyword-only, so that it follows each command's own fields.

    device: cpu, cuda, cuda:N or auto (cuda when available); under torchrun, cuda is each
        process's own GPU
    """

    device: str = field(default=TrainConfig.device, kw_only=True)

    def check(self) -> None:
        pick_device(self.device)  # an unknown name or a missing GPU: one line, before loading


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
