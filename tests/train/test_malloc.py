"""keep_freed_memory: memory a step frees is reused by the next without page faults."""

from __future__ import annotations

import subprocess
import sys

import pytest

from attento.train.malloc import has_glibc

STEPS = """
import resource, sys, torch
from attento.train.malloc import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def step():  # like a training step: 128 MiB of activations written, then all freed
    blocks = [torch.ones(25_600) for _ in range(1280)]
    del blocks
for _ in range(5):  # the heap settles into its layout
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True
    )
    return int(run.stdout)


@pytest.mark.skipif(not has_glibc(), reason="needs glibc")
def test_freed_memory_is_reused_without_page_faults():
    assert page_faults("default") > 1000  # glibc trims its heap, so pages come back fresh
    assert page_faults("keep") < 100
