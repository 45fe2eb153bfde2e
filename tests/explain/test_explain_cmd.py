"""`attento explain`: parses, builds the app on the configured models, prints the URL."""

import pytest

from attento.cli import main


def test_explain_starts_uvicorn_on_localhost_and_prints_the_url(monkeypatch, capsys, models_dir):
    import uvicorn

    calls = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    code = main(
        [
            "explain",
            "--models-dir",
            str(models_dir),
            "--model",
            "tiny",
            "--no-browser",
            "--port",
            "8765",
        ]
    )
    assert code == 0
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8765
    assert "http://127.0.0.1:8765/" in capsys.readouterr().out
    routes = {getattr(r, "path", None) for r in calls["app"].routes}
    assert {"/api/models", "/api/trace", "/api/step"} <= routes


def test_unknown_model_is_one_line_and_exit_2(capsys, tmp_path):
    assert main(["explain", "--model", str(tmp_path / "nothing"), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error:") and err.count("\n") == 1


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    out = capsys.readouterr().out
    for flag in ["--model", "--models-dir", "--host", "--port", "--no-browser"]:
        assert flag in out


def test_a_busy_port_is_one_line_and_exit_2(capsys, models_dir):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(
            [
                "explain",
                "--models-dir",
                str(models_dir),
                "--model",
                "tiny",
                "--no-browser",
                "--port",
                str(port),
            ]
        )
    assert code == 2
    assert "already in use" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "0", "http"])
def test_a_port_outside_the_range_is_a_usage_error(capsys, port):
    with pytest.raises(SystemExit) as exit_:
        main(["explain", "--no-browser", "--port", port])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "is not a port number (1-65535)" in err and "Traceback" not in err
