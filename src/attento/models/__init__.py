"""Stage 2: the neural networks that turn token ids into next-token scores.

- `layers.py`: embeddings, positional encodings, attention, feed-forward, norms, blocks;
- `gpt.py`: the decoder-only language model (GPT-2, Llama and Qwen2 shapes);
- `hf.py`: every Hugging Face conversion (GPT-2, Llama, Qwen2, BERT), both ways;
- `trace.py`: record every intermediate of a forward pass;
- `folder.py`: save/load a model folder (config.json + model.safetensors + tokenizer).
"""

from attento.models.gpt import GPT, GPTConfig

# this stage's architectures for attento/registry.py: "arch" in config.json -> "module:Class"
ARCHS: dict[str, str] = {
    "gpt": "attento.models.gpt:GPT",
    "bert": "attento.models.bert:Bert",
    "seq2seq": "attento.models.seq2seq:Seq2Seq",
    "mlp": "attento.models.mlp_lm:MLPLM",
    "rnn": "attento.models.recurrent:RNNLM",
    "lstm": "attento.models.recurrent:LSTMLM",
    "gru": "attento.models.recurrent:GRULM",
    "cnn": "attento.models.conv:ConvLM",
}

__all__ = ["ARCHS", "GPT", "GPTConfig"]
