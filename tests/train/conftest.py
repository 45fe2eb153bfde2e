"""A tiny model and a slice of Shakespeare: enough to exercise the loop in seconds."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from attento.data.windows import CLMWindows
from attento.train.config import TrainConfig


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and much faster when other work shares the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(**changes) -> TrainConfig:
    base = TrainConfig(
        model=dict(block_size=16, n_layer=1, n_head=2, n_embd=16),
        batch_size=4,
        grad_accum=2,
        max_steps=12,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_steps=2,
        eval_interval=4,
        eval_batches=2,
        log_interval=1,
        seed=7,
    )
    return base.replace(**changes)


@pytest.fixture(scope="session")
def shakespeare(data_dir: Path) -> str:
    return (data_dir / "tinyshakespeare.txt").read_text()[:20000]


@pytest.fixture
def corpus_file(tmp_path: Path, shakespeare: str) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(shakespeare)
    return path


def read_log(out: Path) -> list[dict[str, str]]:
    with (out / "log.csv").open() as f:
        return list(csv.DictReader(f))


def interrupt_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    """Simulate a kill: the `calls`-th batch draw raises KeyboardInterrupt."""
    real = CLMWindows.train_batches
    count = {"n": 0}

    def draw(self, *args, **kwargs):
        count["n"] += 1
        if count["n"] == calls:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(CLMWindows, "train_batches", draw)
