"""--keep-checkpoints: weight snapshots along a run, atomic, carried through checkpoints and
equal after a kill and --resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from attento.cli import main as cli
from attento.errors import UserError
from attento.models.folder import load_model
from attento.train import train
from attento.train.snapshots import list_snapshots, load_snapshot, snapshot_path, snapshot_steps

from .conftest import interrupt_after, tiny_config


def test_snapshot_steps_spread_over_the_run() -> None:
    assert snapshot_steps(12, 4) == [0, 4, 8, 12]
    assert snapshot_steps(10, 3) == [0, 5, 10]
    assert snapshot_steps(10, 1) == [10]
    assert snapshot_steps(3, 10) == [0, 1, 2, 3]  # a short run has fewer distinct steps
    assert snapshot_steps(10, 0) == []


def test_a_run_keeps_its_snapshots(tmp_path: Path, corpus_file: Path) -> None:
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), keep_checkpoints=4), out, progress=False)
    assert list_snapshots(out) == [0, 4, 8, 12]
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == [
        f"step-{s:06d}.safetensors" for s in (0, 4, 8, 12)
    ]  # no temporary file left behind
    final = load_file(out / "model.safetensors")
    last = load_file(snapshot_path(out, 12))
    assert final.keys() == last.keys() and all(torch.equal(final[k], last[k]) for k in final)
    first = load_file(snapshot_path(out, 0))
    assert not all(torch.equal(first[k], final[k]) for k in final)  # the model learned
    model, _ = load_model(out)
    load_snapshot(model, out, 4)
    saved = load_file(snapshot_path(out, 4))
    assert all(torch.equal(model.state_dict()[k], saved[k]) for k in saved)
    with pytest.raises(UserError, match="no snapshot of step 5"):
        load_snapshot(model, out, 5)


def test_snapshots_survive_a_kill_and_resume_bitwise(
    tmp_path: Path, corpus_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny_config(corpus=str(corpus_file), keep_checkpoints=7)  # steps 0, 2, 4, ..., 12
    straight = tmp_path / "straight"
    train(cfg, straight, progress=False)
    cut = tmp_path / "cut"
    with monkeypatch.context() as m:
        interrupt_after(m, 7)  # killed during step 7: snapshot 6 was written after checkpoint 4
        with pytest.raises(KeyboardInterrupt):
            train(cfg, cut, progress=False)
    assert list_snapshots(cut) == [0, 2, 4, 6]
    train(None, cut, resume=True, progress=False)
    assert list_snapshots(cut) == list_snapshots(straight) == [0, 2, 4, 6, 8, 10, 12]
    for step in list_snapshots(straight):
        a, b = load_file(snapshot_path(straight, step)), load_file(snapshot_path(cut, step))
        assert all(torch.equal(a[k], b[k]) for k in a), step


def test_keep_checkpoints_needs_a_number_of_steps(tmp_path: Path, capsys) -> None:
    with pytest.raises(UserError, match="give --max-steps"):
        tiny_config(max_steps=None, time_budget_min=1.0, keep_checkpoints=3)
    with pytest.raises(UserError, match="cannot be negative"):
        tiny_config(keep_checkpoints=-1)
    code = cli(
        [
            "train",
            "--preset",
            "tiny",
            "--time-budget",
            "1",
            "--keep-checkpoints",
            "3",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert code == 2
    assert "give --max-steps" in capsys.readouterr().err
