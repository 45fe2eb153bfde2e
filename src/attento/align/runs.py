"""How an alignment stage (the reward model, DPO, PPO) runs in the shared training loop: the
TrainConfig it hands the loop, the device and folder the run uses, and what it brings back."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from attento.train.config import TrainConfig
from attento.train.distributed import pick_device


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


def run_device(name: str) -> torch.device:
    """The device `name` (TrainConfig.device) means for this process, the one the loop will
    train on; under torchrun, cuda is this process's GPU (LOCAL_RANK). The run's models go
    there before the loop starts, so that what is computed before it (the reference's
    log-probabilities, the reward scale) is computed there too."""
    return pick_device(name, int(os.environ.get("LOCAL_RANK", "0")))


def train_run(
    cfg: TrainConfig,
    model: nn.Module,
    tokenizer,
    batches,
    out: str | Path | None,
    resume: bool,
    progress: bool,
) -> tuple[nn.Module, list[float]]:
    """Train `model` in `out` (a temporary folder when None) -> (the trained model, on the
    starting model's device, in eval mode; its training loss at each step)."""
    from attento.models.folder import load_model
    from attento.train import train
    from attento.train.log import TrainLog

    device = next(model.parameters()).device
    with _run_folder(out) as folder:
        train(
            cfg, folder, resume=resume, progress=progress, init=(model, tokenizer), batches=batches
        )
        trained = load_model(folder)[0].to(device).eval()
        rows = TrainLog.read(folder, cfg.max_steps).rows
    # one loss per step (the row of the final evaluation repeats the last step's)
    return trained, list({row["step"]: row["train_loss"] for row in rows}.values())


@contextlib.contextmanager
def _run_folder(out: str | Path | None) -> Iterator[Path]:
    """`out`, or a temporary folder for a run whose files nobody asked for."""
    if out is not None:
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="attento-") as tmp:
        yield Path(tmp) / "run"
