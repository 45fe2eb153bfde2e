"""The contenders, each at a chosen number of parameters.

A fair race gives every architecture the same budget of weights. Each one has a fixed
*shape* (depth, window, input size: the choices that define it) and one *width* (hidden
units or channels); `settings_for` picks the width whose parameter count, counted on the
built model, is closest to the target. Widths are multiples of 8 (GPT's heads need
n_embd divisible by 2·n_head for RoPE).
"""

from __future__ import annotations

from typing import Any

from attento.compare.config import ARCHS
from attento.errors import UserError
from attento.models.config import check_model_fits, model_bytes
from attento.registry import arch_class

# arch -> (fixed shape, the setting that is the width)
SHAPES: dict[str, tuple[dict[str, Any], str]] = {
    "mlp": ({"context": 16, "n_embd": 24}, "n_hidden"),  # Bengio: a 16-token window
    "rnn": ({"n_embd": 64, "n_layer": 1}, "n_hidden"),
    "lstm": ({"n_embd": 64, "n_layer": 1}, "n_hidden"),
    "gru": ({"n_embd": 64, "n_layer": 1}, "n_hidden"),
    "cnn": ({"n_layer": 6, "kernel_size": 2}, "n_embd"),  # receptive field 2**6 = 64
    "gpt": (
        {"n_layer": 2, "n_head": 4, "pos_encoding": "rope", "norm": "rmsnorm", "bias": False},
        "n_embd",
    ),
}


def build(arch: str, settings: dict[str, Any]):
    """The model, once it is known to fit in memory for training."""
    cls = arch_class(arch, "the comparison")
    config = cls.config_class.from_dict(settings)
    check_model_fits(cls, config, copies=4, action="training")
    return cls(config)


def count_params(arch: str, settings: dict[str, Any]) -> int:
    """Counted without allocating (on the meta device): the search tries many widths."""
    cls = arch_class(arch, "the comparison")
    return model_bytes(cls, cls.config_class.from_dict(settings))[0]


def settings_for(arch: str, params: int, vocab_size: int, block_size: int) -> dict[str, Any]:
    """The model settings of `arch` with about `params` parameters (vocab_size included)."""
    if arch not in SHAPES:
        raise UserError(f"cannot compare arch {arch!r} (choose from {', '.join(ARCHS)})")
    shape, width = SHAPES[arch]
    base = {**shape, "vocab_size": vocab_size, "block_size": block_size}

    def size(w: int) -> int:
        return count_params(arch, {**base, width: 8 * w})

    lo, hi = 1, 1
    while size(hi) < params:  # the count grows with the width: double, then bisect
        lo, hi = hi, hi * 2
        if hi > 4096:
            raise UserError(f"{params} parameters is too many for the comparison's {arch}")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if size(mid) < params else (lo, mid)
    best = min((lo, hi), key=lambda w: abs(size(w) - params))
    return {**base, width: 8 * best}
