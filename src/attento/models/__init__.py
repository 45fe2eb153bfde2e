"""Stage 2: the neural networks that turn token ids into next-token scores.

- `layers.py`: embeddings, positional encodings, attention, feed-forward, norms, blocks;
- `gpt.py`: the decoder-only language model (and HF GPT-2 import/export);
- `trace.py`: record every intermediate of a forward pass;
- `checkpoint_io.py`: save/load a model folder (config.json + model.safetensors + tokenizer).
"""

from attento.models.gpt import GPT, GPTConfig

__all__ = ["GPT", "GPTConfig"]
