"""Timing shared by the benchmarks: interleaved best-of-N, so load bursts hit every side alike."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_times(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Fastest of `repeats` runs of each function, taking turns (after one warm-up call each).

    `clock` is wall time by default; `time.process_time` measures CPU time instead, which other
    processes on a shared machine disturb less."""
    best = {name: float("inf") for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            best[name] = min(best[name], clock() - start)
    return best
