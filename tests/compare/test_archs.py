"""Every contender goes through the same machinery as GPT: `attento train --arch X` (a few
steps of the shared loop, a checkpoint), `attento.load_model`, `attento generate` with and
without the cache, and `--resume`."""

from __future__ import annotations

import json

import pytest
import torch

from attento.cli import main
from attento.models.folder import load_model

CLASSES = {
    "mlp": "MLPLM",
    "rnn": "RNNLM",
    "lstm": "LSTMLM",
    "gru": "GRULM",
    "cnn": "ConvLM",
}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data_dir):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text((data_dir / "tinyshakespeare.txt").read_text()[:20000])
    return path


def train(corpus, out, arch, steps, *extra):
    args = ["train", "--arch", arch, "--preset", "tiny", "--corpus", str(corpus)]
    return main([*args, "--max-steps", str(steps), "--out", str(out), "--json", *extra])


def generate(out, *extra):
    args = ["generate", "--model", str(out), "--prompt", "ROMEO:", "--max-new-tokens", "8"]
    return main([*args, "--seed", "3", "--top-k", "10", "--json", *extra])


@pytest.mark.parametrize("arch", list(CLASSES))
def test_train_checkpoint_and_generate(arch, corpus, tmp_path, capsys):
    out = tmp_path / arch
    assert train(corpus, out, arch, 2) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["steps"] == 2 and result["final_val_loss"] > 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["arch"] == arch and saved["model"]["block_size"] == 32  # the preset's context
    model, tok = load_model(out)
    assert type(model).__name__ == CLASSES[arch] and tok is not None
    assert generate(out) == 0
    cached = json.loads(capsys.readouterr().out)
    assert len(cached["ids"]) == 8
    assert generate(out, "--no-cache") == 0
    assert json.loads(capsys.readouterr().out)["ids"] == cached["ids"]


def test_resume_continues_a_recurrent_run(corpus, tmp_path, capsys):
    out = tmp_path / "gru"
    assert train(corpus, out, "gru", 2) == 0
    assert main(["train", "--resume", "--out", str(out), "--max-steps", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["steps"] == 4
    assert train(corpus, tmp_path / "x", "transformer-xl", 2) == 2
    assert "unknown arch" in capsys.readouterr().err
