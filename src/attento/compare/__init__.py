"""Before attention: MLP, RNN, LSTM, GRU and CNN language models raced against GPT.

- `sizing.py`: the contenders' shapes, each sized to a common parameter count;
- `speed.py`: training step time as the sequence grows (sequential vs parallel);
- `run.py`: `compare(config, out)`, equal wall clock, equal steps, long-range recall;
- `report.py`: the markdown tables and the plots.
"""

from attento.compare.run import CompareConfig, CompareResult, compare

__all__ = ["CompareConfig", "CompareResult", "compare"]
