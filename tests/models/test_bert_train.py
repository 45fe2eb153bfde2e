"""MLM pre-training goes through the shared loop (`attento train --objective mlm`)."""

from __future__ import annotations

import json

import pytest
import torch

from attento.cli import main
from attento.errors import UserError
from attento.models.bert import Bert
from attento.models.folder import load_model
from attento.train import train
from attento.train.config import TrainConfig, preset


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_mlm(**changes) -> TrainConfig:
    return preset("bert-cpu").replace(
        tokenizer="bpe:300",
        model=dict(block_size=16, n_layer=1, n_head=2, n_embd=32),
        batch_size=16,
        max_steps=30,
        time_budget_min=None,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_steps=3,
        eval_interval=30,
        eval_batches=2,
        log_interval=5,
        **changes,
    )


def test_mlm_run_learns_and_saves_a_bert(tmp_path, data_dir):
    text = (data_dir / "divina_commedia.txt").read_text()[:30000]
    result = train(tiny_mlm(), tmp_path / "run", progress=False, text=text)
    model, tokenizer = load_model(tmp_path / "run")
    assert isinstance(model, Bert) and result.steps == 30
    assert "[MASK]" in tokenizer.special_tokens
    # better than a uniform guess over the vocabulary (ln V) after 30 steps
    assert result.final_val_loss < 0.9 * torch.log(torch.tensor(tokenizer.vocab_size)).item()


def test_cli_train_mlm_then_fill_mask(tmp_path, data_dir, capsys):
    corpus = tmp_path / "dante.txt"
    corpus.write_text((data_dir / "divina_commedia.txt").read_text()[:20000])
    out = tmp_path / "bert"
    argv = ["train", "--objective", "mlm", "--corpus", str(corpus), "--tokenizer", "bpe:300"]
    assert main([*argv, "--max-steps", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    text = "Nel mezzo del [MASK] di nostra vita"
    assert main(["fill-mask", text, "--model", str(out), "--k", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["text"] == text and len(data["masks"]) == 1
    guesses = data["masks"][0]
    assert len(guesses) == 4 and guesses[0]["prob"] >= guesses[-1]["prob"]
    assert all(g["filled"].startswith("Nel mezzo del") for g in guesses)


def test_mlm_needs_a_bert():
    with pytest.raises(UserError, match="arch bert"):
        TrainConfig(objective="mlm")
    with pytest.raises(UserError, match="arch bert"):
        preset("bert-cpu").replace(objective="clm")
