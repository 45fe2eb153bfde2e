"""Which architectures exist: the "arch" of a model folder's config.json -> its class.

Each stage that defines models declares its own in its package as `ARCHS` ("arch" ->
"module:Class"; the class has `arch` and `config_class`, with to_dict/from_dict, and is built
as Class(config)). The registry asks the stages in data-flow order and imports a stage only
when the name is not among those before it, so a reward model opens in a process that never
imported `attento.align`, a GPT opens without importing it at all, and `models/` names
nothing of `align/`.
"""

from __future__ import annotations

import importlib

from torch import nn

from attento.errors import UserError

# the stages that define architectures, in the order of the data flow
STAGES = ("attento.models", "attento.align")


def _declared(stage: str) -> dict[str, str]:
    return importlib.import_module(stage).ARCHS


def arch_names() -> list[str]:
    """Every known architecture, sorted."""
    return sorted(name for stage in STAGES for name in _declared(stage))


def arch_class(name: str, source: object = "config.json") -> type[nn.Module]:
    """The class of architecture `name`; `source` is named in the error if it is unknown."""
    for stage in STAGES:
        target = _declared(stage).get(name)
        if target is not None:
            module, cls = target.split(":")
            return getattr(importlib.import_module(module), cls)
    raise UserError(f"{source}: unknown arch {name!r} (known: {', '.join(arch_names())})")
