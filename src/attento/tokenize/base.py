"""What every tokenizer offers, so models and tools never care which one they hold."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from attento.errors import UserError

CONFIG_FILE = "tokenizer.json"


class Tokenizer(ABC):
    """Text <-> token ids. Subclasses register a `kind` saved in `tokenizer.json`."""

    kind: ClassVar[str]

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def encode(self, text: str) -> list[int]: ...

    @abstractmethod
    def decode(self, ids: Sequence[int]) -> str: ...

    @abstractmethod
    def token_bytes(self, token_id: int) -> bytes:
        """The bytes one token stands for (a BPE token can be part of a character)."""

    def token_str(self, token_id: int) -> str:
        """One token as a person should see it; partial UTF-8 shows as U+FFFD."""
        return self.token_bytes(token_id).decode("utf-8", errors="replace")

    @property
    def eot_id(self) -> int | None:
        """Id of the end-of-text token, if the vocabulary has one."""
        return None

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-able settings written to `tokenizer.json` next to the data files."""

    def save(self, directory: str | Path) -> Path:
        """Write the tokenizer into `directory` (created if missing)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_data(directory)
        config = {"type": self.kind, **self.config()}
        (directory / CONFIG_FILE).write_text(
            json.dumps(config, indent=2, ensure_ascii=False) + "\n"
        )
        return directory

    def _save_data(self, directory: Path) -> None:
        """Write any data files besides `tokenizer.json` (e.g. BPE ranks)."""

    @classmethod
    @abstractmethod
    def from_config(cls, config: dict[str, Any], directory: Path) -> Tokenizer: ...


def check_ids(ids: Sequence[int], vocab_size: int) -> None:
    for i in ids:
        if not 0 <= i < vocab_size:
            raise UserError(f"token id {i} is outside the vocabulary (0..{vocab_size - 1})")
