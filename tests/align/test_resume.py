"""Every alignment command trains with the shared loop: killed with SIGKILL just after a
checkpoint, `--resume` ends with the same weights and the same log as an uninterrupted run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from attento.align.chat import add_chat_tokens
from attento.align.reward import RewardModel
from attento.models.folder import load_model, save_model

from .conftest import tiny_gpt

PAIRS = [
    {"prompt": f"{a}+{b}=", "chosen": str(a + b), "rejected": f"{a + b} ok ok"}
    for a in range(4)
    for b in range(4)
]


def start(argv, out, *extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "attento.cli", *argv, "--out", str(out), "--json", *extra]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    return subprocess.Popen(command, env=env, text=True, **quiet)


def kill_and_resume(argv, tmp_path, steps):
    straight, cut = tmp_path / "straight", tmp_path / "cut"
    runs = [start(argv, straight), start(argv, cut)]
    deadline = time.monotonic() + 240
    while not (cut / "train_state.json").is_file():
        assert runs[1].poll() is None, runs[1].stderr.read()
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.005)
    runs[1].send_signal(signal.SIGKILL)
    assert runs[1].wait(timeout=30) == -signal.SIGKILL
    assert json.loads((cut / "train_state.json").read_text())["step"] < steps

    resumed = start(argv, cut, "--resume")
    for run in (runs[0], resumed):
        assert run.wait(timeout=240) == 0, run.stderr.read()
    a, b = load_file(straight / "model.safetensors"), load_file(cut / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with (straight / "log.csv").open() as fa, (cut / "log.csv").open() as fb:
        rows_a, rows_b = list(csv.DictReader(fa)), list(csv.DictReader(fb))
    assert len(rows_a) >= steps
    for column in ("step", "train_loss", "val_loss", "lr"):  # times and speeds differ
        assert [r[column] for r in rows_a] == [r[column] for r in rows_b]
    assert (cut / "loss.png").is_file()


@pytest.fixture
def chat_dir(tmp_path, char_tokenizer):
    model, tok, _ = add_chat_tokens(
        tiny_gpt(char_tokenizer.vocab_size, dropout=0.1), char_tokenizer
    )
    return save_model(model, tok, tmp_path / "chat")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["reward", "dpo"])
def test_killed_after_a_checkpoint_resumes_bit_for_bit(tmp_path, chat_dir, command):
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps(PAIRS))
    argv = [command, "--model", str(chat_dir), "--data", str(pairs), "--steps", "30"]
    argv += ["--batch-size", "4", "--checkpoint-interval", "5", "--train-dropout"]
    kill_and_resume(argv, tmp_path, 30)


@pytest.mark.slow
def test_ppo_killed_after_a_checkpoint_resumes_bit_for_bit(tmp_path, chat_dir):
    """PPO's checkpoints fall between rollouts; the resumed run's next rollouts draw the same
    prompts, sampling seeds and mini-batch order, and its dropout the same masks."""
    model, tokenizer = load_model(chat_dir)
    rm = save_model(RewardModel.from_lm(model), tokenizer, tmp_path / "rm")
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(PAIRS))
    argv = ["ppo", "--model", str(chat_dir), "--reward", str(rm), "--data", str(prompts)]
    argv += ["--steps", "6", "--batch-size", "4", "--max-new-tokens", "4"]
    argv += ["--checkpoint-interval", "1", "--train-dropout"]
    updates = 6 * 4 * 2  # PPO steps x ppo_epochs x mini-batches of 2
    kill_and_resume(argv, tmp_path, updates)
    logs = [(tmp_path / run / "ppo_log.csv").read_text() for run in ("straight", "cut")]
    assert logs[0] == logs[1] and len(logs[0].splitlines()) == 7
