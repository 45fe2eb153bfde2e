import json

import pytest

from attento.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "tokenize" in out and "train-tokenizer" in out


def test_user_error_is_one_line_without_traceback(capsys):
    assert main(["tokenize", "x", "--tokenizer", "/no/such/tokenizer"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_tokenize_with_a_char_tokenizer_prints_json(tmp_path, capsys):
    from attento.tokenize import CharTokenizer

    CharTokenizer.from_text("il gatto è").save(tmp_path / "tok")
    assert main(["tokenize", "gatto", "--tokenizer", str(tmp_path / "tok"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tokens"] == list("gatto")
    assert len(data["ids"]) == 5


def test_tokenize_reads_stdin(tmp_path, capsys, monkeypatch):
    import io

    from attento.tokenize import CharTokenizer

    CharTokenizer.from_text("abc\n").save(tmp_path / "tok")
    monkeypatch.setattr("sys.stdin", io.StringIO("cab\n"))
    assert main(["tokenize", "-", "--tokenizer", str(tmp_path / "tok"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == ["c", "a", "b", "\n"]
