"""`attento train --init-from MODEL`: pre-training continues from a model's own weights,
tokenizer and shape, whether the model is bundled or a Hugging Face folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from attento.cli import main
from attento.data import load_corpus
from attento.data.windows import CLMWindows
from attento.models.folder import load_model
from attento.train import preset
from attento.train.setup import seed_everything


def first_batch_loss(model_spec: str, corpus: Path) -> float:
    """The model's own loss on the batch a tiny-preset run draws first, with the run's seeds
    (dropout masks included: the loop seeds, opens the model, then draws and steps)."""
    cfg = preset("tiny")
    seed_everything(cfg.seed)
    model, tokenizer = load_model(model_spec)
    model.train()
    windows = CLMWindows(
        tokenizer.encode(load_corpus(str(corpus))), model.config.block_size, cfg.seed
    )
    micro = windows.train_batches(cfg.batch_size, cfg.grad_accum, 0, 1)
    rows = sum(len(x) for x, _ in micro)
    with torch.no_grad():
        return sum(float(model(x, y)[1]) * len(x) / rows for x, y in micro)


def train_from(model_spec: str, corpus: Path, out: Path, capsys, *extra: str) -> dict:
    argv = ["train", "--init-from", model_spec, "--preset", "tiny", "--corpus", str(corpus)]
    assert main([*argv, "--out", str(out), "--max-steps", "1", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("which", ["bundled", "hugging-face"])
def test_the_first_step_sees_the_models_own_loss(
    which: str, hf_llama_folder: Path, corpus_file: Path, tmp_path: Path, capsys
) -> None:
    spec = "dante" if which == "bundled" else str(hf_llama_folder)
    expected = first_batch_loss(spec, corpus_file)
    done = train_from(spec, corpus_file, tmp_path / "run", capsys)
    assert done["final_train_loss"] == pytest.approx(expected, rel=1e-5)

    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    source, _ = load_model(spec)
    shape = {k: v for k, v in source.config.to_dict().items() if k != "vocab_size"}
    assert saved["init_from"] == spec and saved["model"] == shape  # the run says where it began
    trained, _ = load_model(tmp_path / "run")
    assert trained.config == source.config
    # one optimiser step moved the weights, so the model really is trained further
    assert not torch.equal(trained.lm_head.weight, source.lm_head.weight)


def test_a_run_from_a_model_resumes(hf_llama_folder: Path, corpus_file: Path, tmp_path, capsys):
    train_from(str(hf_llama_folder), corpus_file, tmp_path / "run", capsys)
    argv = ["train", "--out", str(tmp_path / "run"), "--resume", "--max-steps", "2", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2


@pytest.mark.parametrize("flags", [["--arch", "mlp"], ["--tokenizer", "char"]])
def test_shape_flags_conflict_in_one_line(flags: list[str], tmp_path: Path, capsys) -> None:
    argv = ["train", "--init-from", "dante", *flags, "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"drop {flags[0]}" in err and err.count("\n") == 1 and "Traceback" not in err
