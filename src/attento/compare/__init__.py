"""Before attention: MLP, RNN, LSTM, GRU and CNN language models raced against GPT.

- `sizing.py`: the contenders' shapes, each sized to a common parameter count;
- `speed.py`: training step time as the sequence grows (sequential vs parallel);
- `run.py`: `compare(config, out)`, equal wall clock, equal steps, long-range recall;
- `result.py`: what was measured, per architecture;
- `report.py`: the markdown tables and the plots of a result.
"""

from typing import Any

from attento.compare.config import CompareConfig
from attento.compare.result import CompareResult

__all__ = ["CompareConfig", "CompareResult", "compare"]


def __getattr__(name: str) -> Any:
    if name == "compare":  # loads torch, so only on first use
        from attento.compare import run

        return run.compare
    raise AttributeError(f"module 'attento.compare' has no attribute {name!r}")
