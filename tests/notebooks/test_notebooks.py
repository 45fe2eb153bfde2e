"""The course notebooks: up to date with their sources, stored without outputs, and runnable.

Running all of them takes minutes on 2 cores, so the execution tests are `slow`
(`make test-notebooks` runs them); the freshness check is quick and always runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*/*.ipynb"))
SOURCES = sorted((REPO / "notebooks" / "src").glob("*/*.py"))


def _load_build():
    spec = importlib.util.spec_from_file_location("notebook_build", REPO / "notebooks/build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_chapter_exists_in_both_languages() -> None:
    by_lang = {lang: {p.stem for p in SOURCES if p.parent.name == lang} for lang in ("en", "it")}
    assert by_lang["en"] and by_lang["en"] == by_lang["it"]
    assert {p.relative_to(REPO / "notebooks").with_suffix("") for p in NOTEBOOKS} == {
        p.relative_to(REPO / "notebooks" / "src").with_suffix("") for p in SOURCES
    }


def test_notebooks_are_built_from_their_sources_without_outputs() -> None:
    pytest.importorskip("jupytext")
    build = _load_build()
    for source, notebook in build.targets():
        assert notebook.read_text(encoding="utf-8") == build.build(source), (
            f"{notebook} is stale: run `make notebooks`"
        )
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # the kernel imports this checkout's attento, whatever folder it starts in
    paths = [str(REPO / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(str(Path(p).resolve()) for p in paths))
    # the kernel runs in a scratch folder: whatever a notebook writes stays out of the checkout
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
