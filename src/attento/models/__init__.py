"""Stage 2: the neural networks that turn token ids into next-token scores.

- `layers.py`: embeddings, positional encodings, attention, feed-forward, norms, blocks;
- `gpt.py`: the decoder-only language model (GPT-2, Llama and Qwen2 shapes);
- `hf.py`: every Hugging Face conversion (GPT-2, Llama, Qwen2, BERT), both ways;
- `trace.py`: record every intermediate of a forward pass;
- `checkpoint_io.py`: save/load a model folder (config.json + model.safetensors + tokenizer).
"""

from attento.models.gpt import GPT, GPTConfig

__all__ = ["GPT", "GPTConfig"]
