"""`attento train`: flags -> TrainConfig, one-line errors, --json summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attento.cli import build_parser, main
from attento.cli.train_cmd import build_config
from attento.train import preset


def config_for(*argv: str):
    return build_config(build_parser().parse_args(["train", *argv]))


def test_without_limits_the_preset_decides_how_long() -> None:
    cpu = config_for("--out", "x")
    assert (cpu.max_steps, cpu.time_budget_min) == (None, 10.0)
    tiny = config_for("--out", "x", "--preset", "tiny")
    assert tiny.max_steps == preset("tiny").max_steps and tiny.time_budget_min is None


def test_one_limit_replaces_the_presets() -> None:
    steps = config_for("--out", "x", "--max-steps", "7")
    assert (steps.max_steps, steps.time_budget_min) == (7, None)
    budget = config_for("--out", "x", "--preset", "tiny", "--time-budget", "0.5")
    assert (budget.max_steps, budget.time_budget_min) == (None, 0.5)
    both = config_for("--out", "x", "--max-steps", "7", "--time-budget", "2", "--seed", "3")
    assert (both.max_steps, both.time_budget_min, both.seed) == (7, 2.0, 3)


def test_train_prints_json_and_resumes(
    tmp_path: Path, corpus_file: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--corpus", str(corpus_file), "--out", str(out)]
    assert main([*argv, "--max-steps", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 3 and summary["best_val_loss"] < 5
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--resume"], "nothing to resume"),
        (["--max-steps", "0"], "max_steps must be at least 1"),
        (["--time-budget", "-1"], "positive number of minutes"),
        (["--tokenizer", "bpe:lots"], "bpe:N"),
        (["--corpus", "no-such-corpus"], "neither a file nor a known name"),
        (["--objective", "mlm", "--arch", "bert"], "--arch bert has no default shape"),
        (["--arch", "seq2seq"], "does not train --arch seq2seq"),
        (["--arch", "gpt-reward"], "does not train --arch gpt-reward"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    corpus = tmp_path / "corpus.txt"  # a local text, so no case depends on the shared corpora
    corpus.write_text("To be, or not to be, that is the question.\n" * 100)
    base = ["train", "--preset", "tiny", "--corpus", str(corpus), "--out", str(tmp_path / "run")]
    code = main([*base, *argv])  # a case's own --corpus comes later and wins
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("gpu", "unknown device 'gpu'"),
        ("cuda", "no CUDA GPU"),
        ("cuda:1", "no CUDA GPU"),
    ],
)
def test_bad_device_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    device: str,
    message: str,
) -> None:
    """Were torch's RuntimeError and "Torch not compiled with CUDA enabled" tracebacks."""
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)  # the same on a GPU machine
    argv = ["train", "--preset", "tiny", "--max-steps", "1", "--device", device]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error: ") and message in err and err.count("\n") == 1
