"""A training history: the loss curve and the model at each kept snapshot (history.html).

A run trained with `attento train --keep-checkpoints N` holds N snapshots of its weights
(train/snapshots.py) and its log.csv. The page shows the loss curve with a cursor at one
snapshot and, for the same prompt, what the model at that step computes: its next-token
logits (exact float32, turned into probabilities by the page's sampling.js as in the final
step) and its attention weights, from a traced forward pass of that snapshot's weights.

`Snapshots` keeps the last few snapshot models built (each a copy of the final model with
that step's weights), so scrubbing back and forth costs a forward pass, not a file read.
"""

from __future__ import annotations

import copy
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from attento.errors import UserError
from attento.explain import traces
from attento.explain.encoder_view import decoder_attention
from attento.explain.trace_view import final_view
from attento.train.log import TrainLog
from attento.train.snapshots import list_snapshots, load_snapshot

SNAPSHOT_MODELS = 8  # snapshot models kept built, across all histories


def _number(v: float) -> float | None:
    return v if math.isfinite(v) else None


def history_view(folder: Path) -> dict[str, Any]:
    """The snapshots' steps and the run's logged losses (None where a row has none)."""
    steps = list_snapshots(folder)
    if not steps:
        raise UserError("this model has no training history", code="no_history")
    rows = TrainLog.read(folder, up_to_step=2**62).rows
    return {
        "steps": steps,
        "log": {
            "step": [int(r["step"]) for r in rows],
            "train_loss": [_number(r["train_loss"]) for r in rows],
            "val_loss": [_number(r["val_loss"]) for r in rows],
        },
    }


def check_step(step: int, steps: list[int]) -> None:
    if step not in steps:
        raise UserError(
            f"this history has no snapshot of step {step}",
            code="bad_step",
            params={"step": step, "steps": ", ".join(map(str, steps))},
        )


class Snapshots:
    """A bounded, thread-safe LRU of models built from snapshots, keyed by (folder, step)."""

    def __init__(self, size: int = SNAPSHOT_MODELS) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Path, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, folder: Path, step: int, final: Any) -> Any:
        """The model of snapshot `step` of `folder`, shaped like `final` (the folder's model)."""
        key = (folder, step)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            model = load_snapshot(copy.deepcopy(final), folder, step).eval()
            self._items[key] = model
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return model


def snapshot_view(model: Any, tokenizer: Any, ids: list[int], step: int) -> dict[str, Any]:
    """What the snapshot model of `step` computes for `ids`: next-token logits, attention."""
    rec = traces.record(model, ids)
    return {
        "step": step,
        "final": final_view(rec, tokenizer),
        "attention": decoder_attention(model, tokenizer, ids, rec),
    }
