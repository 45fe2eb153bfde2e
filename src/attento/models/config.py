"""JSON for the models' dataclass configs, shared by every architecture.

A checkpoint's `config.json` is read back with `from_dict`, so a file from another tool or an
older version fails with one clear line (unknown or missing settings) instead of a TypeError.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from attento.errors import UserError

C = TypeVar("C", bound="JSONConfig")


class JSONConfig:
    """Mixin for a `@dataclass` model config: `to_dict()` and a checked `from_dict()`."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        if not isinstance(d, dict):
            raise UserError("a model config must be a JSON object")
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        unknown = sorted(set(d) - {f.name for f in fields})
        if unknown:
            raise UserError(f"unknown model setting(s): {', '.join(unknown)}")
        missing = [f.name for f in fields if f.default is dataclasses.MISSING and f.name not in d]
        if missing:
            raise UserError(f"model config lacks: {', '.join(missing)}")
        return cls(**d)
