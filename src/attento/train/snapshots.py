"""Snapshots of the weights along a run: the history the explainer scrubs to watch a model learn.

`attento train --keep-checkpoints N` keeps N copies of the weights, evenly spaced over the
run's `max_steps`, the untrained model (step 0) and the last step included:

    OUT/snapshots/step-000000.safetensors, ..., step-002000.safetensors

Weights only (no optimiser moments, no random state): a snapshot is for looking at, not for
resuming; its architecture and tokenizer are the run folder's (config.json, tokenizer.json).
Each file is written under a hidden name beside, fsynced and renamed into place, so a reader
never sees half of one. A checkpoint swaps the whole run folder (train/checkpoint.py), which
carries `snapshots/` over by hard links; a resumed run redoes the steps after its checkpoint
bit for bit, so a snapshot written before a kill is rewritten with the same numbers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from torch import nn

from attento.errors import UserError
from attento.files import fsync_path

SNAPSHOT_DIR = "snapshots"
_NAME = re.compile(r"step-(\d{6,9})\.safetensors")


def snapshot_steps(max_steps: int, n: int) -> list[int]:
    """The steps at which a run of `max_steps` keeps its `n` snapshots: evenly spaced from 0
    to max_steps (n = 1: the last step only); fewer when the run has fewer steps than that."""
    if n < 1:
        return []
    if n == 1:
        return [max_steps]
    return sorted({round(i * max_steps / (n - 1)) for i in range(n)})


def snapshot_path(folder: Path, step: int) -> Path:
    return Path(folder) / SNAPSHOT_DIR / f"step-{step:06d}.safetensors"


def save_snapshot(model: nn.Module, out: Path, step: int) -> Path:
    """Write `model`'s weights as the snapshot of `step` in the run folder `out`, atomically."""
    from attento.models.folder import unique_state_dict, write_safetensors

    path = snapshot_path(out, step)
    path.parent.mkdir(exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    write_safetensors(unique_state_dict(model), tmp)
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)
    return path


def list_snapshots(folder: Path) -> list[int]:
    """The steps of the snapshots in a run folder (or a bundled copy of one), in order."""
    where = Path(folder) / SNAPSHOT_DIR
    if not where.is_dir():
        return []
    return sorted(int(m[1]) for p in where.iterdir() if (m := _NAME.fullmatch(p.name)))


def load_snapshot(model: nn.Module, folder: Path, step: int) -> nn.Module:
    """Put the weights of snapshot `step` into `model` (built from the folder's config.json)."""
    from attento.models.folder import load_weights

    if step not in list_snapshots(folder):
        raise UserError(f"{folder} has no snapshot of step {step}")
    load_weights(model, snapshot_path(folder, step))
    return model
