"""Nothing in a run folder is lost: crashes mid-swap, two runs at once, a log cut short,
resuming a finished run, damaged state files, and a power cut (fsync)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from attento.cli import main
from attento.errors import UserError
from attento.train import checkpoint, train

from .conftest import interrupt_after, read_log, tiny_config


def one_line_error(capsys: pytest.CaptureFixture, *parts: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("attento: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err
    return err


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_fresh_run_after_a_crash_between_the_renames_keeps_the_checkpoint(
    tmp_path: Path, corpus_file: Path, capsys: pytest.CaptureFixture
) -> None:
    """Was: OUT missing, so the run started afresh and its first checkpoint deleted .OUT.old."""
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())

    def crash_between_the_renames() -> None:
        out.rename(tmp_path / ".run.old")
        (tmp_path / ".run.tmp").mkdir()
        (tmp_path / ".run.tmp" / "model.safetensors").write_bytes(b"half written")

    crash_between_the_renames()
    argv = ["train", "--preset", "tiny", "--corpus", str(corpus_file), "--out", str(out)]
    assert main([*argv, "--max-steps", "4"]) == 2
    one_line_error(capsys, "already holds a training checkpoint", "--resume")
    assert same_weights(out, kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "kept", "run"]

    crash_between_the_renames()  # --resume, with its flags, sees the checkpoint too
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 6


def has_state(folder: Path) -> bool:
    """Whether `folder` holds a checkpoint now: while a checkpoint is renamed in, the folder
    is missing for a moment (two renames), so a look in that moment sees nothing yet."""
    try:
        return checkpoint.STATE_JSON in os.listdir(folder)
    except FileNotFoundError:
        return False


def wait_for(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_two_runs_on_one_folder_at_once(
    tmp_path: Path, corpus_file: Path, capsys: pytest.CaptureFixture
) -> None:
    """Was: both wrote checkpoints into one folder and crashed each other. The second now
    stops at once, naming the first; once the first is killed the folder resumes."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "attento.cli", "train", "--preset", "tiny"]
    flags = ["--device", "cpu", "--corpus", str(corpus_file), "--out", str(out)]
    first = subprocess.Popen(
        [*command, *flags, "--max-steps", "100000"],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: has_state(out), "the first run's first checkpoint")
        for extra in (["--resume"], ["--preset", "tiny", "--corpus", str(corpus_file)]):
            assert main(["train", "--out", str(out), *extra]) == 2
            one_line_error(
                capsys,
                f"in use by another attento process (pid {first.pid} on "
                f"{socket.gethostname()}, since ",
            )
    finally:
        first.kill()
        first.wait(timeout=30)
    step = checkpoint.load_checkpoint(out).state.step
    assert main(["train", "--out", str(out), "--resume", "--max-steps", str(step + 1)]) == 0


def test_a_log_cut_short_by_a_kill_resumes(
    tmp_path: Path, corpus_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was a TypeError traceback from the partial last row."""
    cfg = tiny_config(corpus=str(corpus_file))
    straight = tmp_path / "straight"
    train(cfg, straight, progress=False)
    cut = tmp_path / "cut"
    with monkeypatch.context() as m:
        interrupt_after(m, 7)  # killed during step 7, after the checkpoint at step 4
        with pytest.raises(KeyboardInterrupt):
            train(cfg, cut, progress=False)
    with (cut / "log.csv").open("a") as f:
        f.write("1")  # what a kill leaves of the row "12,...": it reads as step 1
    train(None, cut, resume=True, progress=False)
    for column in ("step", "train_loss", "val_loss"):  # elapsed times differ, of course
        assert [r[column] for r in read_log(cut)] == [r[column] for r in read_log(straight)]


def test_a_damaged_log_row_is_one_line(
    tmp_path: Path, corpus_file: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    lines = (out / "log.csv").read_text().splitlines(keepends=True)
    lines[2] = "two,x,,,\r\n"
    (out / "log.csv").write_text("".join(lines))
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "5"]) == 2
    one_line_error(capsys, "log.csv, line 3: not a row of an attento log")


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path, corpus_file: Path) -> None:
    """Was: each resume evaluated the last step again and appended a copy of its row."""
    out = tmp_path / "run"
    cfg = tiny_config(corpus=str(corpus_file), max_steps=6)  # ends between two evaluations
    first = train(cfg, out, progress=False)
    log = (out / "log.csv").read_bytes()
    for _ in range(2):
        again = train(None, out, resume=True, progress=False)
        assert (out / "log.csv").read_bytes() == log
        assert (again.steps, again.final_val_loss, again.final_train_loss) == (
            first.steps,
            first.final_val_loss,
            first.final_train_loss,
        )


def edit_json(path: Path, key: str, value) -> None:
    data = json.loads(path.read_text())
    target = data
    *parents, last = key.split(".")
    for k in parents:
        target = target[k]
    target[last] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("file", "key", "value", "message"),
    [
        ("train_state.json", "rng.python", "abc", "train_state.json: rng.python is missing"),
        ("train_state.json", "rng.python", [3, [1, 2], None], "rng.python is missing or damaged"),
        ("train_state.json", "rng.numpy", ["MT19937", "0", 0, 0.0], "rng.numpy is missing"),
        ("train_state.json", "rng.numpy", 7, "rng.numpy is missing or damaged"),
        ("train_state.json", "rng", [], "train_state.json: rng should be a JSON object"),
        ("train_state.json", "step", "4", "train_state.json: step should be a whole number"),
        ("train_state.json", "best_val_loss", None, "best_val_loss should be a number"),
        ("train_config.json", "batch_size", "8", "train_config.json: batch_size should be an int"),
        ("train_config.json", "learning_rate", "fast", "learning_rate should be a number"),
        ("train_config.json", "model", 3, "train_config.json: model should be a JSON dict"),
        ("train_config.json", "max_steps", 2.5, "max_steps should be an integer or null"),
        ("train_config.json", "compile", "no", "compile should be true or false"),
        ("train_config.json", "min_lr", 1.0, "train_config.json: need 0 < min_lr <= learning"),
    ],
)
def test_wrong_types_in_the_state_files_are_one_line(
    tmp_path: Path,
    corpus_file: Path,
    capsys: pytest.CaptureFixture,
    file: str,
    key: str,
    value,
    message: str,
) -> None:
    """Were TypeError/ValueError tracebacks from random.setstate, numpy or TrainConfig."""
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    edit_json(out / file, key, value)
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "5"]) == 2
    one_line_error(capsys, message)


@pytest.mark.parametrize(
    ("key", "value"),
    [("torch", torch.zeros(5)), ("numpy_keys", torch.zeros(3, dtype=torch.int64))],
)
def test_a_wrong_rng_tensor_is_one_line(tmp_path: Path, corpus_file: Path, key: str, value):
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    state = torch.load(out / checkpoint.STATE_TENSORS, weights_only=True)
    state["rng"][key] = value
    torch.save(state, out / checkpoint.STATE_TENSORS)
    with pytest.raises(UserError, match=rf"train_state\.pt: rng\.{key} is missing or damaged"):
        train(None, out, resume=True, progress=False)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name descriptors")
def test_a_checkpoint_is_fsynced_before_it_is_renamed_in(
    tmp_path: Path, corpus_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill leaves the previous checkpoint whole; a power cut only if every file and
    folder reached the disk before the renames made them the checkpoint."""
    out = tmp_path / "run"
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    tmp = tmp_path / ".run.tmp"
    written = [p for p in out.rglob("*")]
    assert {"model.safetensors", "train_state.pt", "train_state.json", "best"} <= {
        p.name for p in written
    }
    for p in written:  # each one fsynced while it was still in the temporary folder
        assert str(tmp / p.relative_to(out)) in synced, p
    assert str(tmp) in synced and str(tmp_path) in synced
