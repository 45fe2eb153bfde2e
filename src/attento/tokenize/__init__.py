"""Stage 1 of the model: text <-> token ids.

- `char.py`: one token per character (the simplest case);
- `bpe.py`: byte-level BPE as GPT-2/GPT-4 use it (train, encode, decode, special tokens);
- `tiktoken_io.py`: the `.tiktoken` rank files that store a BPE vocabulary;
- `wordpiece.py`: BERT's WordPiece, for encoder models;
- `hf_json.py`: Hugging Face's `tokenizer.json` (GPT-2, SmolLM2, Llama, Qwen2) and GPT-2's
  `vocab.json` + `merges.txt`; `chat_template.py`: those models' Jinja chat templates.

`load_tokenizer` opens any of them from a name or a path.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from attento.errors import UserError
from attento.messages import user_error
from attento.tokenize import hf_json
from attento.tokenize.base import CONFIG_FILE, Tokenizer
from attento.tokenize.char import CharTokenizer
from attento.tokenize.files import read_json

# kind saved in tokenizer.json -> class implementing it (imported on first use)
KINDS = {
    "char": "attento.tokenize.char:CharTokenizer",
    "bpe": "attento.tokenize.bpe:BPETokenizer",
    "wordpiece": "attento.tokenize.wordpiece:WordPieceTokenizer",
}
PRETRAINED = ("cl100k_base", "o200k_base", "r50k_base", "gpt2")


def tokenizer_class(kind: str, source: Path | str = "") -> type[Tokenizer]:
    if kind not in KINDS:
        where = f"{source}: " if source else ""
        raise UserError(f"{where}unknown tokenizer type {kind!r} (known: {', '.join(KINDS)})")
    module, name = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def load_tokenizer(name_or_path: str | Path) -> Tokenizer:
    """Open a tokenizer from a pretrained name, a saved folder (attento's or a Hugging Face
    model's), a `.tiktoken` file, a `vocab.txt` or a Hugging Face `tokenizer.json`."""
    key = str(name_or_path)
    if key in PRETRAINED:
        return tokenizer_class("bpe").pretrained(key)  # type: ignore[attr-defined]
    path = Path(name_or_path)
    if path.is_dir():
        config_path = path / CONFIG_FILE
        if config_path.is_file():
            try:
                config = read_json(config_path)
            except UserError:
                # a Hugging Face BERT folder has its own tokenizer.json next to vocab.txt
                if not (path / "vocab.txt").is_file():
                    raise
                config = None
            if hf_json.is_hf_tokenizer_json(config):
                # Hugging Face's file of the same name; BERT's WordPiece is read from vocab.txt
                if not (config["model"]["type"] == "WordPiece" and (path / "vocab.txt").is_file()):
                    return hf_json.load_hf_folder(path)
            elif isinstance(config, dict) and isinstance(config.get("type"), str):
                return _from_config(tokenizer_class(config["type"], config_path), config, path)
            elif not (path / "vocab.txt").is_file():
                raise UserError(f"{config_path} is not an attento tokenizer file (no type)")
        if (path / "vocab.txt").is_file():
            return tokenizer_class("wordpiece").from_vocab_file(path / "vocab.txt")  # type: ignore[attr-defined]
        if (path / "vocab.json").is_file() or (path / "tokenizer.model").is_file():
            return hf_json.load_hf_folder(path)  # GPT-2's pair of files, or a clear refusal
        raise user_error("no_tokenizer_files", path=str(path))
    if path.is_file():
        if path.name.endswith((".tiktoken", ".tiktoken.gz")):
            return tokenizer_class("bpe").from_tiktoken_file(path)  # type: ignore[attr-defined]
        if path.name == "vocab.txt":
            return tokenizer_class("wordpiece").from_vocab_file(path)  # type: ignore[attr-defined]
        if path.name == CONFIG_FILE:
            return load_tokenizer(path.parent)
        raise UserError(f"{path}: expected a tokenizer folder, a .tiktoken file or a vocab.txt")
    raise UserError(
        f"tokenizer {key!r} not found: give {' or '.join(PRETRAINED)}, or a path to a saved tokenizer"
    )


def _from_config(cls: type[Tokenizer], config: dict, directory: Path) -> Tokenizer:
    """`cls.from_config`; a complaint that names no file of the folder gets tokenizer.json's."""
    try:
        return cls.from_config(config, directory)
    except UserError as exc:
        if str(exc).startswith(str(directory)):
            raise
        raise UserError(f"{directory / CONFIG_FILE}: {exc}") from None


__all__ = ["KINDS", "PRETRAINED", "CharTokenizer", "Tokenizer", "load_tokenizer", "tokenizer_class"]
