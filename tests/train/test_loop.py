"""The training loop: it learns, logs, checkpoints, resumes bit for bit, and fails clearly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from attento.errors import UserError
from attento.models.folder import load_model
from attento.train import checkpoint, train

from .conftest import interrupt_after, read_log, tiny_config


def test_a_run_learns_and_writes_its_folder(tmp_path: Path, corpus_file: Path) -> None:
    out = tmp_path / "run"
    result = train(tiny_config(corpus=str(corpus_file)), out, progress=False)
    rows = read_log(out)
    assert list(rows[0]) == ["step", "train_loss", "val_loss", "lr", "tokens_per_s", "elapsed_s"]
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    vals = [float(r["val_loss"]) for r in rows if r["val_loss"]]
    assert len(vals) == 3
    # a character model starts near ln(vocab) and must get clearly below it
    vocab = len(set(corpus_file.read_text()))
    assert float(rows[0]["train_loss"]) > math.log(vocab) - 0.3
    assert result.best_val_loss == min(vals) < math.log(vocab) - 0.1
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    model, tok = load_model(out)  # the run folder is a model folder
    assert tok.vocab_size == vocab == model.config.vocab_size
    best, _ = load_model(out / "best")
    assert best.config == model.config
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["max_steps"] == 12 and saved["objective"] == "clm"


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_resume_is_bitwise_identical(
    tmp_path: Path, corpus_file: Path, monkeypatch: pytest.MonkeyPatch, optimizer: str
) -> None:
    cfg = tiny_config(
        corpus=str(corpus_file),
        model=dict(block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.1),
        optimizer=optimizer,
    )
    straight = tmp_path / "straight"
    train(cfg, straight, progress=False)

    cut = tmp_path / "cut"
    with monkeypatch.context() as m:
        interrupt_after(m, 7)  # killed during step 7, after the checkpoint at step 4
        with pytest.raises(KeyboardInterrupt):
            train(cfg, cut, progress=False)
    assert json.loads((cut / "train_state.json").read_text())["step"] == 4
    assert len(read_log(cut)) == 6  # rows 5 and 6 were logged, then are redone on resume
    train(None, cut, resume=True, progress=False)

    a, b = read_log(straight), read_log(cut)
    assert [r["step"] for r in a] == [r["step"] for r in b]
    assert [r["train_loss"] for r in a] == [r["train_loss"] for r in b]
    assert [r["val_loss"] for r in a] == [r["val_loss"] for r in b]
    wa, wb = load_file(straight / "model.safetensors"), load_file(cut / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_can_extend_the_run(tmp_path: Path, corpus_file: Path) -> None:
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    result = train(
        tiny_config(corpus=str(corpus_file), max_steps=8), out, resume=True, progress=False
    )
    assert result.steps == 8
    assert [int(r["step"]) for r in read_log(out)] == list(range(1, 9))


def test_a_failed_checkpoint_write_keeps_the_previous_one(
    tmp_path: Path, corpus_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    before = load_file(out / "model.safetensors")

    real_save = torch.save

    def failing_save(*args, **kwargs):
        real_save(*args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)  # the optimiser state write fails
    with pytest.raises(OSError, match="disk full"):
        train(tiny_config(corpus=str(corpus_file), max_steps=8), out, resume=True, progress=False)
    monkeypatch.undo()
    ckpt = checkpoint.load_checkpoint(out)  # also cleans up the half-written sibling
    assert ckpt.state.step == 4
    after = load_file(out / "model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_a_crash_between_the_two_renames_is_recovered(tmp_path: Path, corpus_file: Path) -> None:
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    out.rename(tmp_path / ".run.old")  # the old folder moved aside, the new one not yet in
    assert checkpoint.load_checkpoint(out).state.step == 4


def test_diverging_loss_stops_with_a_clear_message(
    tmp_path: Path, corpus_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    real_save = checkpoint.save_checkpoint
    real_ce = torch.nn.functional.cross_entropy
    poisoned = {"on": False}

    def save_then_poison(*args, **kwargs):
        real_save(*args, **kwargs)
        poisoned["on"] = True

    def ce(*args, **kwargs):
        loss = real_ce(*args, **kwargs)
        return loss * math.nan if poisoned["on"] else loss

    monkeypatch.setattr(checkpoint, "save_checkpoint", save_then_poison)
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", ce)
    with pytest.raises(UserError, match=r"diverged at step 5.*nan.*checkpoint \(step 4\)"):
        train(tiny_config(corpus=str(corpus_file)), out, progress=False)
    monkeypatch.undo()
    assert checkpoint.load_checkpoint(out).state.step == 4


def test_resume_without_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nothing to resume"):
        train(None, tmp_path / "empty", resume=True, progress=False)


def test_fresh_run_refuses_to_overwrite(tmp_path: Path, corpus_file: Path) -> None:
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    with pytest.raises(UserError, match="--resume"):
        train(tiny_config(corpus=str(corpus_file)), out, progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match=r"thesis\.tex"):
        train(tiny_config(corpus=str(corpus_file)), tmp_path / "mine", progress=False)


def test_corpus_shorter_than_a_block(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("to be or not to be " * 5)
    with pytest.raises(UserError, match="too short"):
        train(tiny_config(corpus=str(path)), tmp_path / "run", progress=False)


def test_resume_checks_tokenizer_and_settings(tmp_path: Path, corpus_file: Path) -> None:
    from attento.tokenize import CharTokenizer

    tok = tmp_path / "tok"
    CharTokenizer.from_text(corpus_file.read_text()).save(tok)
    out = tmp_path / "run"
    cfg = tiny_config(corpus=str(corpus_file), tokenizer=str(tok), max_steps=4)
    train(cfg, out, progress=False)
    CharTokenizer.from_text("abc").save(tok)  # the tokenizer file changed since
    with pytest.raises(UserError, match="has 3 tokens but the checkpoint"):
        train(cfg.replace(max_steps=8), out, resume=True, progress=False)
    with pytest.raises(UserError, match="learning_rate"):
        train(cfg.replace(learning_rate=1.0), out, resume=True, progress=False)
    # a tokenizer file swapped inside the checkpoint no longer matches its model
    CharTokenizer.from_text("abcdef").save(out)
    with pytest.raises(UserError, match="6 tokens but its model expects"):
        checkpoint.load_checkpoint(out)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("model.safetensors", b"garbage", "safetensors"),
        ("config.json", b'{"_name_or_path": "bert-base", "architectures": ["Bert"]}', "config"),
        ("train_state.json", b'{"format": "something-else", "step": 3}', "not an attento"),
        ("train_state.json", b"{not json", "not valid JSON"),
        ("train_state.pt", b"not a torch file", "damaged"),
        ("train_config.json", b'{"lr": 1}', "unknown training setting"),
    ],
)
def test_damaged_or_foreign_checkpoint_files(
    tmp_path: Path, corpus_file: Path, name: str, content: bytes, message: str
) -> None:
    out = tmp_path / "run"
    train(tiny_config(corpus=str(corpus_file), max_steps=4), out, progress=False)
    (out / name).write_bytes(content)
    with pytest.raises(UserError, match=message):
        train(None, out, resume=True, progress=False)
