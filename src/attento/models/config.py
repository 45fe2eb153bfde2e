"""The base of the models' dataclass configs, shared by every architecture, and the dtypes a
model loads in.

A checkpoint's `config.json` is read back with `from_dict`, so a file from another tool or an
older version fails with one clear line (unknown or missing settings) instead of a TypeError.
`check_model_fits` sizes a config's model before it is built.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from attento.config import Config
from attento.errors import UserError
from attento.memory import check_fits

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


class ModelConfig(Config):
    """What every architecture's `@dataclass` config is: a `Config` named "model" in messages.

    A checkpoint's `config.json` is read back with `from_dict`."""

    what = "model"


def model_bytes(cls: type[nn.Module], config: Any) -> tuple[int, int]:
    """(parameters, bytes of parameters and buffers) of `cls(config)`, without allocating it.

    An architecture may count itself in closed form (`size_of(config)`, tested equal to the
    built model); the others are built on the meta device, where tensors have a shape but no
    storage. The closed form matters at start-up: the first random initialisation on the meta
    device imports torch's compiler stack, about 2.4 s of CPU in every process."""
    size_of = getattr(cls, "size_of", None)
    size = size_of(config) if size_of is not None else None
    if size is not None:
        return size
    with torch.device("meta"):
        shape = cls(config)
    params = sum(p.numel() for p in shape.parameters())
    tensors = itertools.chain(shape.parameters(), shape.buffers())
    return params, sum(t.numel() * t.element_size() for t in tensors)


def check_model_fits(
    cls: type[nn.Module], config: Any, copies: int = 1, action: str = "building", where: str = ""
) -> None:
    """Refuse, before allocating anything, a model whose `copies` exceed the available
    memory: 1 to build it, 2 to load weights into it, 4 to train it (weights, gradients and
    two AdamW moments; activations come on top)."""
    params, nbytes = model_bytes(cls, config)
    check_fits(nbytes * copies, f"{action} a {cls.__name__} with {params:,} parameters{where}")
