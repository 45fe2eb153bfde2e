"""`attento explain`: parses, builds the app on the configured models, prints the URL."""

import socket

import pytest
from fastapi.testclient import TestClient

from attento.cli import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_explain_starts_uvicorn_on_localhost_and_prints_the_url(monkeypatch, capsys, models_dir):
    import torch
    import uvicorn

    port = free_port()
    calls = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.update(threads=n))
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
    assert code == 0
    assert calls["host"] == "127.0.0.1" and calls["port"] == port
    assert f"http://127.0.0.1:{port}/" in capsys.readouterr().out
    routes = {getattr(r, "path", None) for r in calls["app"].routes}
    assert {"/api/models", "/api/trace", "/api/step"} <= routes
    assert "/openapi.json" not in routes and "/docs" not in routes
    assert calls["threads"] == 1  # one thread per request: requests run in parallel


def test_a_classroom_server_prints_both_urls_and_takes_allow_host_and_api_docs(
    monkeypatch, capsys, models_dir
):
    import torch
    import uvicorn

    from attento.cli import explain_cmd

    calls = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    monkeypatch.setattr(explain_cmd, "check_port", lambda host, port: None)  # no 0.0.0.0 bind
    monkeypatch.setattr(explain_cmd, "network_address", lambda: "192.168.1.20")
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.update(threads=n))
    argv = ["explain", "--models-dir", str(models_dir), "--model", "tiny", "--no-browser"]
    argv += ["--host", "0.0.0.0", "--port", str(free_port()), "--allow-host", "aula3.local"]
    assert main([*argv, "--api-docs", "--threads", "3"]) == 0
    assert calls["host"] == "0.0.0.0" and calls["threads"] == 3
    out = capsys.readouterr().out
    port = calls["port"]
    assert f"http://127.0.0.1:{port}/" in out and f"http://192.168.1.20:{port}/" in out
    client = TestClient(calls["app"], base_url="http://aula3.local:8000")
    assert client.get("/api/models").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    other = TestClient(calls["app"], base_url="http://attacker.example")
    assert other.get("/api/models").json()["code"] == "bad_host"


def test_unknown_model_is_one_line_and_exit_2(capsys, tmp_path):
    assert main(["explain", "--model", str(tmp_path / "nothing"), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error:") and err.count("\n") == 1


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    out = capsys.readouterr().out
    for flag in [
        "--model",
        "--models-dir",
        "--host",
        "--port",
        "--no-browser",
        "--allow-host",
        "--api-docs",
        "--threads",
    ]:
        assert flag in out


def test_a_busy_port_is_one_line_and_exit_2(capsys, models_dir):
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


@pytest.mark.parametrize("port", ["99999", "0"])
def test_a_port_outside_the_range_is_one_line_and_exit_2(capsys, port):
    assert main(["explain", "--no-browser", "--port", port]) == 2
    err = capsys.readouterr().err
    assert f"port: {port} is not a port number (1-65535)" in err and err.count("\n") == 1


def test_zero_threads_is_one_line_and_exit_2(capsys):
    assert main(["explain", "--no-browser", "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert "threads must be a positive integer, got 0" in err and err.count("\n") == 1


def test_a_port_that_is_no_number_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["explain", "--no-browser", "--port", "http"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--port: expected int, got 'http'" in err and "Traceback" not in err


def test_labs_take_their_files_from_the_command_line(monkeypatch, capsys, models_dir, tmp_path):
    import torch
    import uvicorn

    from .labs_setup import chat_model, refusal_report

    port, calls = free_port(), {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    chat = chat_model(tmp_path / "chat", 0)
    argv = ["explain", "--models-dir", str(models_dir), "--model", "tiny", "--no-browser"]
    argv += ["--port", str(port), "--chat-model", str(chat)]
    argv += ["--rankings", str(tmp_path / "r.jsonl"), "--refusal", str(refusal_report(tmp_path))]
    assert main(argv) == 0
    assert f"http://127.0.0.1:{port}/labs.html" in capsys.readouterr().out
    client = TestClient(calls["app"], base_url="http://127.0.0.1")
    info = client.get("/api/labs").json()
    assert info["rlhf"]["chat"] and info["rlhf"]["rankings"] and info["refusal"]
    assert not info["rlhf"]["after"]


@pytest.mark.parametrize("flag", ["--chat-model", "--refusal", "--rankings"])
def test_a_missing_lab_file_is_one_line_and_exit_2(capsys, models_dir, tmp_path, flag):
    value = str(tmp_path / "no" / "such")
    argv = ["explain", "--models-dir", str(models_dir), "--model", "tiny", "--no-browser"]
    assert main([*argv, "--port", str(free_port()), flag, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error:") and err.count("\n") == 1
