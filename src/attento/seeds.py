"""The one range of random seeds, shared by every command that takes --seed.

Seeds are 32-bit: NumPy's global generator, which training seeds, accepts no more, and a
seed that works in one command should work in all of them. Kept free of torch so that the
CLI can check a seed before importing anything heavy.
"""

from __future__ import annotations

from attento.messages import user_error

SEED_LIMIT = 2**32  # seeds are integers in [0, SEED_LIMIT)


def check_seed(seed: object, name: str = "seed") -> None:
    """Raise a UserError unless `seed` is None or an integer in [0, SEED_LIMIT)."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise user_error("bad_seed", name=name, seed=seed)
