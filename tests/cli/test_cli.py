import json

import pytest

from attento.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "tokenize" in out and "train-tokenizer" in out


def test_every_command_module_is_listed_once_in_the_course_order(capsys):
    """A new *_cmd.py that is not in COMMANDS would never reach --help."""
    from pathlib import Path

    import attento.cli as cli

    files = sorted(p.stem for p in Path(cli.__file__).parent.glob("*_cmd.py"))
    listed = [m.__name__.rsplit(".", 1)[1] for m in cli.COMMANDS]
    assert sorted(listed) == files and len(set(listed)) == len(listed)
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    places = [out.index(f"    {name} ") for name in ("tokenize", "train", "generate", "explain")]
    assert places == sorted(places)


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


OUT_COMMANDS = [
    ["train-tokenizer", "--corpus", "x.txt", "--vocab-size", "300"],
    ["train", "--preset", "tiny", "--max-steps", "1"],
    ["sft", "--model", "m", "--data", "d.json"],
    ["reward", "--model", "m", "--data", "d.json"],
    ["ppo", "--model", "m", "--reward", "r", "--data", "d.json"],
    ["dpo", "--model", "m", "--data", "d.json"],
    ["align-demo", "--quick"],
    ["compare"],
    ["nn-demo"],
]


@pytest.mark.parametrize("argv", OUT_COMMANDS, ids=lambda argv: argv[0])
@pytest.mark.parametrize("inside", [False, True], ids=["file", "inside-file"])
def test_out_on_a_file_is_one_line_before_any_work(tmp_path, capsys, argv, inside):
    """A file where --out wants a folder fails at once, not with a traceback after training."""
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker / "run" if inside else blocker
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error: --out ") and err.count("\n") == 1
    assert str(blocker) in err and "is a file" in err
