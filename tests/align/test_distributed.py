"""`attento reward | dpo | ppo` under torchrun: two CPU processes (Gloo) train as one process
on the same global batches (the same loss at every step), and only process 0 writes the run
folder.

The workers are started the way torchrun starts them (RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT), as in tests/train/test_distributed.py.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from attento.align.chat import add_chat_tokens
from attento.align.reward import RewardModel
from attento.models.folder import load_model, save_model

from .conftest import tiny_gpt

LR = 1e-3
PAIRS = [
    {"prompt": f"{a}+{b}=", "chosen": str(a + b), "rejected": f"{a + b} ok ok"}
    for a in range(4)
    for b in range(4)
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv: list[str], world: int) -> None:
    """`attento ARGV` as `world` processes of one torchrun world (1: a plain process)."""
    port = str(free_port())
    command = [sys.executable, "-m", "attento.cli", *argv, "--device", "cpu", "--json"]
    workers = []
    for rank in range(world):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        if world > 1:
            env |= {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world)}
            env |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        workers.append(subprocess.Popen(command, env=env, text=True, **pipes))
    errors = [w.communicate(timeout=240)[1] for w in workers]
    failed = [
        f"worker {r}: {e[-2000:]}"
        for r, (w, e) in enumerate(zip(workers, errors, strict=True))
        if w.returncode
    ]
    if failed:
        pytest.fail("\n".join(failed))


def losses(out) -> list[float]:
    with (out / "log.csv").open() as f:
        return [float(r["train_loss"]) for r in csv.DictReader(f)]


@pytest.fixture
def inputs(tmp_path, char_tokenizer):
    model, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    chat = save_model(model, tok, tmp_path / "chat")
    rm = save_model(RewardModel.from_lm(model), tok, tmp_path / "rm")
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps(PAIRS))
    return chat, rm, pairs


@pytest.mark.slow
@pytest.mark.parametrize("command", ["reward", "dpo", "ppo"])
def test_two_processes_match_one(tmp_path, inputs, command):
    chat, rm, pairs = inputs
    argv = [command, "--model", str(chat), "--data", str(pairs), "--steps", "3"]
    argv += ["--batch-size", "4", "--checkpoint-interval", "2", "--lr", str(LR)]
    if command == "ppo":
        argv += ["--reward", str(rm), "--max-new-tokens", "4"]
    run([*argv, "--out", str(tmp_path / "two")], world=2)
    run([*argv, "--out", str(tmp_path / "one")], world=1)

    a, b = (
        load_file(tmp_path / "two" / "model.safetensors"),
        load_file(tmp_path / "one" / "model.safetensors"),
    )
    assert a.keys() == b.keys()
    # The gradients agree to float rounding, but AdamW steps a weight whose gradient is ~0 by
    # about ±lr whatever its size, so rounding can flip a few such steps: at most 2 lr a step.
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2 * LR * 3, rtol=0)
    assert len(losses(tmp_path / "two")) == len(losses(tmp_path / "one")) > 0
    torch.testing.assert_close(
        losses(tmp_path / "two"), losses(tmp_path / "one"), atol=1e-5, rtol=0
    )
    assert load_model(tmp_path / "two")[0].arch == load_model(tmp_path / "one")[0].arch
    if command == "ppo":  # process 0 alone wrote the PPO log
        assert (tmp_path / "two" / "ppo_log.csv").read_text().count("\n") == 4
