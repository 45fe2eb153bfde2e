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
