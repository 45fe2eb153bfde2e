"""Two CPU processes (Gloo) end with the same weights as one process on the same global batch.

The workers are started the way torchrun starts them: the same `attento train` command,
told its place through RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from attento.train import preset, train


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def losses(out: Path) -> list[float]:
    with (out / "log.csv").open() as f:
        return [float(r["train_loss"]) for r in csv.DictReader(f)]


def test_two_processes_match_one(tmp_path: Path, corpus_file: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "attento.cli",
        "train",
        "--preset",
        "tiny",
        "--corpus",
        str(corpus_file),
        "--max-steps",
        "6",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "ddp"),
    ]
    port = str(free_port())
    workers = [
        subprocess.Popen(
            command,
            env={
                **os.environ,
                "OMP_NUM_THREADS": "1",
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": "2",
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": port,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    # meanwhile, the same global batch (8 sequences a step) in this one process
    train(
        preset("tiny").replace(corpus=str(corpus_file), max_steps=6),
        tmp_path / "one",
        progress=False,
    )
    for w in workers:
        _, err = w.communicate(timeout=240)
        if w.returncode:
            pytest.fail(f"a worker failed: {err[-3000:]}")

    a = load_file(tmp_path / "ddp" / "model.safetensors")
    b = load_file(tmp_path / "one" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=0)
    # process 0 alone wrote the log; it saw the global (averaged) loss of each step
    assert len(losses(tmp_path / "ddp")) == len(losses(tmp_path / "one")) > 0
    torch.testing.assert_close(
        losses(tmp_path / "ddp"), losses(tmp_path / "one"), atol=1e-5, rtol=0
    )
