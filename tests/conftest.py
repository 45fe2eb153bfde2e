"""Shared test setup: corpora come from ../shared/data (never copied into the project)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SEED_PAGE = REPO.parent / "shared" / "seed" / "concetti-ai-generativa.md"

if "ATTENTO_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["ATTENTO_DATA"] = str(SHARED_DATA)
# Tests never download: a missing file must fail loudly instead.
os.environ.setdefault("ATTENTO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("ATTENTO_DATA", SHARED_DATA))
    if not (path / "tinyshakespeare.txt").is_file():
        pytest.skip("corpora not available: set ATTENTO_DATA to the folder holding them")
    return path


@pytest.fixture(scope="session")
def seed_page() -> str:
    if not SEED_PAGE.is_file():
        pytest.skip("the seed page ../shared/seed is not next to this checkout")
    return SEED_PAGE.read_text(encoding="utf-8")


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty Hugging Face cache in tmp_path (HF_HUB_CACHE, offline), and a function that lays
    a model out in it as huggingface_hub does: models--org--name/{refs/main, snapshots/<rev>/}.
    `add(repo_id, folder)` copies the files of `folder` into a new snapshot and returns it."""
    import shutil

    import huggingface_hub.constants as constants

    root = tmp_path / "hf-cache"
    root.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(root))  # for subprocesses
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))  # read at import in this process
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def add(
        repo_id: str, folder: Path, revision: str = "0123456789abcdef" * 2 + "01234567"
    ) -> Path:
        repo = root / ("models--" + repo_id.replace("/", "--"))
        snapshot = repo / "snapshots" / revision
        shutil.copytree(folder, snapshot)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
        return snapshot

    add.root = root
    return add
