"""Training: the one loop every model shares.

- `config.py`: `TrainConfig` and the presets (tiny, cpu, small, gpt2-small);
- `loop.py`: `train(config, out)` — batches, forward/backward, clipping, AdamW, eval;
- `optim.py`: AdamW with decay on matrices only; warm-up + cosine learning-rate schedule;
- `checkpoint.py`: atomic, resumable checkpoints (model folder + optimiser/RNG/data state);
- `log.py`: log.csv and the loss.png curve;
- `distributed.py`: torchrun / DistributedDataParallel.
"""

from attento.train.config import PRESETS, TrainConfig, preset
from attento.train.loop import TrainResult, train

__all__ = ["PRESETS", "TrainConfig", "TrainResult", "preset", "train"]
