"""Checks shared by the settings dataclasses of SFT, the reward model, PPO and DPO.

Run in `__post_init__`, they turn a zero batch or a negative learning rate into one clear
`UserError` when the settings are made, instead of an IndexError or a torch ValueError deep
inside training (or, for zero steps, a silent run that learns nothing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from attento.errors import UserError


def check_settings(settings: object, counts: Iterable[str], positive: Iterable[str] = ()) -> None:
    """`counts` must be integers >= 1 and `positive` finite numbers > 0."""
    for name in counts:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{name} must be a positive integer, got {value!r}")
    for name in positive:
        value = getattr(settings, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise UserError(f"{name} must be a positive number, got {value!r}")
