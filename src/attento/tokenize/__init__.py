"""Stage 1 of the model: text <-> token ids.

- `char.py`: one token per character (the simplest case);
- `bpe.py`: byte-level BPE as GPT-2/GPT-4 use it (train, encode, decode, special tokens);
- `tiktoken_io.py`: the `.tiktoken` rank files that store a BPE vocabulary;
- `wordpiece.py`: BERT's WordPiece, for encoder models.

`load_tokenizer` opens any of them from a name or a path.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from attento.errors import UserError
from attento.tokenize.base import CONFIG_FILE, Tokenizer
from attento.tokenize.char import CharTokenizer

# kind saved in tokenizer.json -> class implementing it (imported on first use)
KINDS = {
    "char": "attento.tokenize.char:CharTokenizer",
    "bpe": "attento.tokenize.bpe:BPETokenizer",
    "wordpiece": "attento.tokenize.wordpiece:WordPieceTokenizer",
}
PRETRAINED = ("cl100k_base", "o200k_base")


def tokenizer_class(kind: str) -> type[Tokenizer]:
    if kind not in KINDS:
        raise UserError(f"unknown tokenizer type {kind!r} (known: {', '.join(KINDS)})")
    module, name = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def load_tokenizer(name_or_path: str | Path) -> Tokenizer:
    """Open a tokenizer from a pretrained name, a saved folder, a `.tiktoken` file or a `vocab.txt`."""
    key = str(name_or_path)
    if key in PRETRAINED:
        return tokenizer_class("bpe").pretrained(key)  # type: ignore[attr-defined]
    path = Path(name_or_path)
    if path.is_dir():
        if (path / CONFIG_FILE).is_file():
            try:
                config = json.loads((path / CONFIG_FILE).read_text())
                kind = config["type"]
            except (json.JSONDecodeError, KeyError, TypeError):
                # a Hugging Face BERT folder has its own tokenizer.json next to vocab.txt
                if not (path / "vocab.txt").is_file():
                    raise UserError(
                        f"{path / CONFIG_FILE} is not an attento tokenizer file"
                    ) from None
            else:
                return tokenizer_class(kind).from_config(config, path)
        if (path / "vocab.txt").is_file():
            return tokenizer_class("wordpiece").from_vocab_file(path / "vocab.txt")  # type: ignore[attr-defined]
        raise UserError(f"{path} holds no tokenizer.json or vocab.txt")
    if path.is_file():
        if path.name.endswith((".tiktoken", ".tiktoken.gz")):
            return tokenizer_class("bpe").from_tiktoken_file(path)  # type: ignore[attr-defined]
        if path.name == "vocab.txt":
            return tokenizer_class("wordpiece").from_vocab_file(path)  # type: ignore[attr-defined]
        raise UserError(f"{path}: expected a tokenizer folder, a .tiktoken file or a vocab.txt")
    raise UserError(
        f"tokenizer {key!r} not found: give {' or '.join(PRETRAINED)}, or a path to a saved tokenizer"
    )


__all__ = ["KINDS", "PRETRAINED", "CharTokenizer", "Tokenizer", "load_tokenizer", "tokenizer_class"]
