"""Training: the one loop every model shares.

- `config.py`: `TrainConfig` and the presets (tiny, cpu, small, gpt2-small, the bundled models);
- `setup.py`: the tokenizer, a fresh model and the batch source of a run from a corpus;
- `loop.py`: `train(config, out)` — batches, forward/backward, clipping, AdamW, eval;
- `optim.py`: AdamW with decay on matrices only; warm-up + cosine learning-rate schedule;
- `checkpoint.py`: atomic, resumable checkpoints (model folder + optimiser/RNG/data state);
- `log.py`: log.csv and the loss.png curve;
- `distributed.py`: torchrun / DistributedDataParallel.

`train` and `TrainResult` load torch, so they are imported on first use: reading the presets
(e.g. for `attento --help`) stays instant.
"""

from typing import Any

from attento.train.config import PRESETS, TrainConfig, preset

__all__ = ["PRESETS", "TrainConfig", "TrainResult", "preset", "train"]


def __getattr__(name: str) -> Any:
    if name in ("train", "TrainResult"):
        from attento.train import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'attento.train' has no attribute {name!r}")
