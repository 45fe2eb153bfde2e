"""keep_freed_memory: memory a step frees stays with the allocator and is reused without page faults.

The steps call glibc's malloc and free directly. Through torch, whether glibc can trim its
heap depends on where small objects happen to land, which changes with paths and versions
(CI once saw no trimming at all), so the default case would not be a reliable control.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import pytest

from attento.train.malloc import has_glibc

STEPS = """
import ctypes, json, mmap, resource, sys
from attento.train.malloc import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(None)
libc.malloc.argtypes, libc.malloc.restype = (ctypes.c_size_t,), ctypes.c_void_p
libc.free.argtypes, libc.free.restype = (ctypes.c_void_p,), None
libc.mallinfo2.restype = MallInfo2
MIB = 1 << 20
if sys.argv[1] == "keep":
    assert keep_freed_memory()
blocks = (ctypes.c_void_p * 64)()

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def step():  # like a training step: 64 MiB of activations written, then all freed
    for i in range(64):
        blocks[i] = libc.malloc(MIB)
        ctypes.memset(blocks[i], 1, MIB)
    for i in reversed(range(64)):
        libc.free(blocks[i])

for _ in range(3):  # glibc's dynamic mmap threshold settles
    step()
before = faults()
step()
step_faults = faults() - before
probe = mmap.mmap(-1, 16 * MIB)  # fresh pages: does this kernel count their faults?
before = faults()
for page in range(0, 16 * MIB, mmap.PAGESIZE):
    probe[page] = 1
print(json.dumps({"step_faults": step_faults, "probe_faults": faults() - before,
                  "kept_mib": libc.mallinfo2().fordblks / MIB}))
"""

pytestmark = pytest.mark.skipif(not has_glibc(), reason="needs glibc")


@functools.cache
def run_steps(mode: str) -> dict[str, float]:
    """One subprocess per mode, with no allocator settings inherited from the environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MALLOC_") and k not in ("GLIBC_TUNABLES", "LD_PRELOAD")
    }
    run = subprocess.run(
        [sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(run.stdout)


def test_freed_memory_stays_with_the_allocator():
    assert run_steps("default")["kept_mib"] < 8  # glibc trims its heap and gives the pages back
    assert run_steps("keep")["kept_mib"] >= 64


def test_reused_memory_costs_no_page_faults():
    if run_steps("keep")["probe_faults"] < 1000:
        pytest.skip("this kernel does not count one fault per 4 KiB page")
    assert run_steps("default")["step_faults"] > 10_000  # 64 MiB of fresh 4 KiB pages
    assert run_steps("keep")["step_faults"] < 100
