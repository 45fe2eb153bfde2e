"""The report card: written by `attento train`, printed by `attento report`, numbers checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attento.cli import main
from attento.models import GPT, GPTConfig
from attento.train.report import REPORT_FILE, flops_per_token, matmul_peak


def test_flops_per_token_by_hand():
    c = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=8)
    model = GPT(c)
    weights = sum(p.numel() for p in model.parameters())
    tables = 50 * 8 + 16 * 8  # token and learned position tables: lookups, no arithmetic
    assert flops_per_token(model) == 6 * (weights - tables) + 12 * 2 * 16 * 8


def test_the_peak_is_a_plausible_rate():
    assert 1e7 < matmul_peak(seconds=0.05, n=256) < 1e14


@pytest.fixture
def run(tmp_path: Path, capsys) -> tuple[Path, dict]:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("To be, or not to be, that is the question. " * 60)
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--corpus", str(corpus), "--out", str(out)]
    assert main([*argv, "--max-steps", "8", "--json"]) == 0
    return out, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_writes_a_card_whose_score_is_attento_eval(run, capsys):
    out, result = run
    card = (out / REPORT_FILE).read_text()
    whole = result["whole_split"]
    assert f"{whole['loss']:.4f} nats/token over {whole['tokens']:,} tokens" in card
    assert "MFU" in card and "![loss](loss.png)" in card and "## Samples" in card
    assert main(["eval", "--model", str(out), "--json"]) == 0  # the corpus from train_config
    scored = json.loads(capsys.readouterr().out)
    assert scored["loss"] == pytest.approx(whole["loss"], rel=1e-9)
    assert scored["bits_per_byte"] == pytest.approx(whole["bits_per_byte"], rel=1e-9)


def test_report_prints_and_rewrites_the_card(run, capsys):
    out, _ = run
    card = (out / REPORT_FILE).read_text()
    (out / REPORT_FILE).unlink()
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == (out / REPORT_FILE).read_text()

    def steady(text: str) -> list[str]:  # the peak is measured anew: only MFU may differ
        return [line for line in text.splitlines() if not line.startswith("| MFU")]

    assert steady(printed) == steady(card)


def test_report_of_a_folder_that_is_no_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a training run folder" in err and "Traceback" not in err
