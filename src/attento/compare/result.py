"""What a comparison measured: one `ArchResult` per architecture, gathered in a
`CompareResult` that run.py fills and report.py draws (so each imports this, not the other).
Importable without torch."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from attento.compare.config import CompareConfig


@dataclass
class ArchResult:
    """What one architecture scored in every stage."""

    arch: str
    params: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    context: int | None = None  # tokens an output can depend on; None: unbounded (a state)
    step_time_s: dict[int, float] = field(default_factory=dict)  # sequence length -> s/step
    time_val_loss: float = math.nan  # stage 2
    time_steps: int = 0
    tokens_per_s: float = math.nan
    curve: list[tuple[float, float]] = field(default_factory=list)  # (elapsed s, val loss)
    steps_val_loss: float = math.nan  # stage 3
    steps_time_s: float = math.nan
    probe_params: int = 0  # stage 4
    probe_accuracy: dict[int, float] = field(default_factory=dict)


@dataclass
class CompareResult:
    config: CompareConfig
    archs: dict[str, ArchResult]
    equal_steps: int
    vocab_size: int
    elapsed_s: float
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (a missing measurement, NaN, becomes None)."""
        return _finite(
            {
                "config": self.config.to_dict(),
                "equal_steps": self.equal_steps,
                "vocab_size": self.vocab_size,
                "elapsed_s": self.elapsed_s,
                "files": self.files,
                "archs": {a: dataclasses.asdict(r) for a, r in self.archs.items()},
            }
        )


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x
