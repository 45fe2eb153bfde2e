"""JSON for the models' dataclass configs, shared by every architecture, and the dtypes a
model loads in.

A checkpoint's `config.json` is read back with `from_dict`, so a file from another tool or an
older version fails with one clear line (unknown or missing settings) instead of a TypeError.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import torch

from attento.errors import UserError

# The number formats a model can be loaded in: float32 (the default) trains and runs anywhere;
# bfloat16 and float16 halve the memory where the hardware computes in them.
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def dtype_named(name: str) -> torch.dtype:
    """ "bfloat16" -> torch.bfloat16, for a --dtype flag."""
    if name not in DTYPES:
        raise UserError(f"unknown dtype {name!r} (choose from {', '.join(DTYPES)})")
    return DTYPES[name]


def check_dtype(dtype: torch.dtype) -> None:
    if dtype not in DTYPES.values():
        raise UserError(f"models load as {', '.join(DTYPES)}, not {dtype}")


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
