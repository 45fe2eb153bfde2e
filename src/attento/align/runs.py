"""How an alignment stage (the reward model, DPO) runs in the shared training loop: the
TrainConfig it hands the loop, and the folder the run is written to."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from torch import nn

from attento.train.config import TrainConfig


def align_config(objective: str, model: nn.Module, data: str, **fields) -> TrainConfig:
    """The TrainConfig of an alignment run: a constant learning rate (no warm-up, no decay
    of the rate), gradients clipped to norm 1, a log row every step, no best/ copy."""
    lr = fields["learning_rate"]
    return TrainConfig(
        corpus=data,
        objective=objective,
        arch=model.arch,
        model=model.config.to_dict(),
        min_lr=lr,
        warmup_steps=0,
        grad_clip=1.0,
        log_interval=1,
        save_best=False,
        **{"weight_decay": 0.0, "eval_batches": 1, **fields},
    )


@contextlib.contextmanager
def run_folder(out: str | Path | None) -> Iterator[Path]:
    """`out`, or a temporary folder for a run whose files nobody asked for."""
    if out is not None:
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="attento-") as tmp:
        yield Path(tmp) / "run"
