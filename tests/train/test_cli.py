"""`attento train`: flags -> TrainConfig, one-line errors, --json summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attento.cli import build_parser, main
from attento.cli.train_cmd import build_config
from attento.train import PRESETS, preset


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
        (["--arch", "seq2seq"], "--arch seq2seq has no default shape"),
        (["--arch", "gpt-reward"], "does not train --arch gpt-reward"),
        (["--set", "lr=1"], "--set lr: unknown setting (known: corpus, tokenizer"),
        (["--set", "learning_rate"], "expected KEY=VALUE"),
        (["--set", "batch_size=many"], "batch_size: expected int, got 'many'"),
        (["--set", "model.n_layr=2"], "--set model.n_layr: unknown setting (known: block_size"),
        (["--set", "model.n_layer=two"], "model.n_layer: expected int, got 'two'"),
        (["--set", "model.n_layer=0"], "n_layer must be a positive integer"),
        (["--config", "no-such.toml"], "--config replaces the preset"),
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


def test_set_changes_any_field_typed_as_declared() -> None:
    cfg = config_for(
        "--out", "x", "--preset", "tiny", "--set", "learning_rate=3e-4", "--set", "min_lr=1e-5",
        "--set", "model.n_layer=6", "--set", "eval_batches=none", "--set", "compile=true",
    )  # fmt: skip
    expected = preset("tiny").replace(
        learning_rate=3e-4, min_lr=1e-5, eval_batches=None, compile=True
    )
    assert cfg == expected.replace(model=expected.model | {"n_layer": 6})
    assert isinstance(cfg.model["n_layer"], int)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_config_file_is_the_run_it_describes(tmp_path: Path, suffix: str) -> None:
    """A run's train_config.json (what to_json writes) or TOML with the same keys."""
    want = preset("tiny").replace(seed=7, max_steps=11)
    path = tmp_path / f"run{suffix}"
    if suffix == ".json":
        path.write_text(want.to_json())
    else:
        shape = ", ".join(f"{k} = {v}" for k, v in want.model.items())
        path.write_text(
            "seed = 7\nmax_steps = 11\nbatch_size = 8\nlearning_rate = 3e-3\nmin_lr = 3e-4\n"
            "warmup_steps = 5\neval_interval = 20\neval_batches = 4\nlog_interval = 5\n"
            f"model = {{ {shape} }}\n"
        )
    assert config_for("--out", "x", "--config", str(path)) == want
    got = config_for("--out", "x", "--config", str(path), "--seed", "8", "--set", "seed=9")
    assert got.seed == 9  # the flags, then each --set


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"lr": 1}', "unknown training setting(s): lr (known: corpus"),
        ('{"batch_size": "8"}', "batch_size should be an integer"),
        ("[1]", "should hold a JSON object"),
        ("{", "is not valid JSON"),
    ],
)
def test_bad_config_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, text: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and str(path) in err


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_is_the_config_file_it_writes(tmp_path: Path, name: str) -> None:
    path = tmp_path / "train_config.json"
    path.write_text(preset(name).to_json())
    assert config_for("--out", "x", "--config", str(path)) == preset(name)
    preset(name).model["n_layer"] = 99  # a copy: the next one is the preset again
    assert preset(name) == PRESETS[name] and preset(name).model is not PRESETS[name].model
