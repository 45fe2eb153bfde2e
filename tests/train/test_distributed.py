"""Two CPU processes (Gloo) end with the same weights as one process on the same global batch,
and an interrupted two-process run resumes bit for bit.

The workers are started the way torchrun starts them, told their place through RANK,
LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from attento.train import preset, train

from .conftest import tiny_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(command: list[str]) -> list[subprocess.Popen]:
    """Start `command` twice, as ranks 0 and 1 of one world."""
    port = str(free_port())
    return [
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


def wait(workers: list[subprocess.Popen]) -> None:
    """Wait for all; on failure show every failed worker (one crash makes its peer fail too)."""
    errors = [w.communicate(timeout=240)[1] for w in workers]
    failed = [
        f"worker {rank} (exit {w.returncode}): {err[-2000:]}"
        for rank, (w, err) in enumerate(zip(workers, errors, strict=True))
        if w.returncode
    ]
    if failed:
        pytest.fail("\n".join(failed))


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
    workers = launch(command)
    # meanwhile, the same global batch (8 sequences a step) in this one process
    train(
        preset("tiny").replace(corpus=str(corpus_file), max_steps=6),
        tmp_path / "one",
        progress=False,
    )
    wait(workers)

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


WORKER = """
import json, sys
from pathlib import Path
from attento.data.windows import CLMWindows
from attento.train import TrainConfig, train

mode, out, cfg = sys.argv[1], Path(sys.argv[2]), TrainConfig.from_dict(json.loads(sys.argv[3]))
if mode == "resume":
    train(None, out, resume=True, progress=False)
elif mode == "cut":  # killed while drawing step 7's batch, after the checkpoint at step 4
    real, calls = CLMWindows.train_batches, []
    def draw(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)
    CLMWindows.train_batches = draw
    try:
        train(cfg, out, progress=False)
    except KeyboardInterrupt:
        pass
else:
    train(cfg, out, progress=False)
"""


def test_two_processes_resume_bit_for_bit(tmp_path: Path, corpus_file: Path) -> None:
    """Each process draws its own dropout masks; a resumed run must continue every stream."""
    cfg = tiny_config(
        corpus=str(corpus_file),
        model=dict(block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.1),
        grad_accum=1,
    )
    config = json.dumps(cfg.to_dict())

    def run(mode: str, out: Path) -> None:
        wait(launch([sys.executable, "-c", WORKER, mode, str(out), config]))

    run("straight", tmp_path / "straight")
    run("cut", tmp_path / "cut")
    assert json.loads((tmp_path / "cut" / "train_state.json").read_text())["step"] == 4
    run("resume", tmp_path / "cut")

    assert losses(tmp_path / "cut") == losses(tmp_path / "straight")
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(tmp_path / "cut" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
