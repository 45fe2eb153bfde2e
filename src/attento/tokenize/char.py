"""Character-level tokenizer: the simplest case, one token per Unicode character.

The vocabulary is the sorted set of characters seen in a corpus, so ids are stable for a
given text. A character that was never seen cannot be encoded: by default that is an
error, or, when the tokenizer is built with `unk=True`, it maps to an extra `<unk>` id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attento.errors import UserError
from attento.tokenize.base import Tokenizer, check_ids
from attento.tokenize.files import setting

UNK = "<unk>"


class CharTokenizer(Tokenizer):
    kind = "char"

    def __init__(self, chars: Sequence[str], unk: bool = False) -> None:
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise UserError("a character vocabulary must hold distinct single characters")
        self.chars = list(chars)
        self.unk = unk
        self._ids = {c: i for i, c in enumerate(self.chars)}
        self.unk_id = len(self.chars) if unk else None

    @classmethod
    def from_text(cls, text: str, unk: bool = False) -> CharTokenizer:
        if not text:
            raise UserError("cannot build a character vocabulary from empty text")
        return cls(sorted(set(text)), unk=unk)

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + (1 if self.unk else 0)

    def encode(self, text: str) -> list[int]:
        ids = self._ids
        try:
            return [ids[c] for c in text]
        except KeyError:
            if self.unk_id is None:
                bad = next(c for c in text if c not in ids)
                raise UserError(
                    f"character {bad!r} (U+{ord(bad):04X}) is not in this tokenizer's vocabulary",
                    code="unencodable",
                    params={"char": bad},
                ) from None
            return [ids.get(c, self.unk_id) for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        check_ids(ids, self.vocab_size)
        return "".join(UNK if i == self.unk_id else self.chars[i] for i in ids)

    def token_bytes(self, token_id: int) -> bytes:
        return self.decode([token_id]).encode("utf-8")

    def config(self) -> dict[str, Any]:
        return {"chars": "".join(self.chars), "unk": self.unk}

    @classmethod
    def from_config(cls, config: dict[str, Any], directory: Path) -> CharTokenizer:
        chars = setting(config, "chars", (str, list))
        if not chars or not all(isinstance(c, str) for c in chars):
            raise UserError("'chars' must be a non-empty string of the vocabulary's characters")
        return cls(list(chars), unk=setting(config, "unk", bool, False))
