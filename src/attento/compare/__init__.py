"""Before attention: MLP, RNN, LSTM, GRU and CNN language models raced against GPT.

- `sizing.py`: the contenders' shapes, each sized to a common parameter count;
- `speed.py`: training step time as the sequence grows (sequential vs parallel);
- `run.py`: `compare(config, out)`, equal wall clock, equal steps, long-range recall;
- `report.py`: the markdown tables and the plots.
"""

from typing import Any

from attento.compare.config import CompareConfig

__all__ = ["CompareConfig", "CompareResult", "compare"]


def __getattr__(name: str) -> Any:
    if name in ("compare", "CompareResult"):  # these load torch, so only on first use
        from attento.compare import run

        return getattr(run, name)
    raise AttributeError(f"module 'attento.compare' has no attribute {name!r}")
