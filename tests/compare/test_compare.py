"""`attento compare` end to end with minuscule budgets: the tables, plots and results.json are
written and agree with each other; bad settings are one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

from attento.cli import main
from attento.compare import CompareConfig, compare
from attento.compare.report import NAMES, PLOTS
from attento.errors import UserError

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def corpus(tmp_path, data_dir):
    path = tmp_path / "corpus.txt"
    path.write_text((data_dir / "tinyshakespeare.txt").read_text()[:20000])
    return path


def test_compare_cli_writes_tables_plots_and_results(tmp_path, corpus, capsys):
    out = tmp_path / "cmp"
    args = [
        "compare", "--out", str(out), "--corpus", str(corpus), "--archs", "mlp,lstm,gpt",
        "--params", "4000", "--block-size", "16", "--batch-size", "4", "--budget", "0.3",
        "--steps", "2", "--lengths", "8,32", "--probe-params", "3000", "--probe-budget", "0.3",
        "--distances", "1,4,12", "--json",
    ]  # fmt: skip
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["archs"]) == ["mlp", "lstm", "gpt"]
    assert result["equal_steps"] == 2
    report = (out / "report.md").read_text()
    for arch, r in result["archs"].items():
        assert r["params"] > 0 and r["time_steps"] >= 1 and r["tokens_per_s"] > 0
        assert r["steps_val_loss"] > 0 and r["curve"], arch
        assert set(r["step_time_s"]) == {"8", "16", "32"}  # the lengths plus the block size
        assert set(r["probe_accuracy"]) == {"1", "4", "12"}
        assert all(0 <= a <= 1 for a in r["probe_accuracy"].values())
        row = next(line for line in report.splitlines() if line.startswith(f"| {NAMES[arch]} |"))
        assert f"{r['params']:,}" in row and f"{r['steps_val_loss']:.4f}" in row
    assert result["archs"]["mlp"]["context"] == 16 and result["archs"]["gpt"]["context"] == 16
    assert result["archs"]["lstm"]["context"] is None
    assert report.count("| MLP (fixed window) |") == 3  # one row in each of the three tables
    assert "T=8 | T=16 | T=32" in report and "d=1 | d=4 | d=12" in report
    for name in PLOTS:
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and 5_000 < len(data) < 200_000
    assert json.loads((out / "results.json").read_text())["archs"].keys() == result["archs"].keys()
    # every run went through the shared loop and left a loadable checkpoint
    assert (out / "runs" / "time" / "lstm" / "train_state.json").is_file()
    assert (out / "runs" / "probe" / "gpt" / "model.safetensors").is_file()
    # a second comparison into the same folder is refused
    assert main(args) == 2
    assert "already holds a comparison" in capsys.readouterr().err


def test_bad_settings_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown arch"):
        CompareConfig(archs=("gpt", "transformer-xl"))
    with pytest.raises(UserError, match="budget_s"):
        CompareConfig(budget_s=0)
    with pytest.raises(UserError, match="lengths"):
        CompareConfig(lengths=())
    with pytest.raises(UserError, match="params"):
        CompareConfig(params=-5)
    with pytest.raises(UserError, match="neither a file"):
        compare(CompareConfig(corpus=str(tmp_path / "missing.txt")), tmp_path / "o", False)
