"""How much memory the machine can still give, and a check made before a big allocation.

A model or a data set that does not fit is better refused at once, with the two numbers,
than allocated: a huge `torch.empty` fails with a C++ traceback, and a slowly growing one
gets the process killed by the kernel with no message at all. Callers estimate what they
are about to allocate (parameters from a config, rows times columns) and call

    check_fits(nbytes, "training a GPT with 10,000,000,000 parameters")

which raises a `UserError` naming both sizes in GiB when `nbytes` exceeds `available_bytes()`.
"""

from __future__ import annotations

import os
from pathlib import Path

from attento.errors import UserError

MEMINFO = Path("/proc/meminfo")
# cgroup v2: a container's own limit and use, lower than the machine's when the limit is set
CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")
CGROUP_USAGE = Path("/sys/fs/cgroup/memory.current")
GIB = 2**30


def _meminfo_available() -> int | None:
    """Linux's own estimate of what can be allocated without swapping (MemAvailable)."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the file counts kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_available() -> int | None:
    """Free physical pages (other Unix systems, or a Linux without MemAvailable)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_available() -> int | None:
    """What the container's memory limit still allows, when it has one."""
    try:
        limit = CGROUP_LIMIT.read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int(CGROUP_USAGE.read_text()))
    except (OSError, ValueError):
        return None


def available_bytes() -> int | None:
    """Bytes this process can still allocate: the lower of the machine's available memory
    (/proc/meminfo MemAvailable, else os.sysconf) and a cgroup v2 limit; None when the
    system tells neither (then nothing is refused)."""
    known = [
        n
        for n in (_meminfo_available() or _sysconf_available(), _cgroup_available())
        if n is not None
    ]
    return min(known) if known else None


def gib(nbytes: float) -> str:
    """A size in GiB for messages: "0.25 GiB", "21.7 GiB", "196,608 GiB"."""
    value = nbytes / GIB
    return f"{value:,.0f} GiB" if value >= 100 else f"{value:.3g} GiB"


def check_fits(nbytes: float, what: str) -> None:
    """Raise a UserError when `what` (it needs `nbytes`) cannot fit in the available memory.

    `what` starts the sentence: "training a GPT with 10,000,000 parameters", "--points 10^12".
    """
    available = available_bytes()
    if available is not None and nbytes > available:
        raise UserError(
            f"{what} needs {gib(nbytes)} of memory, but only {gib(available)} is available"
        )
