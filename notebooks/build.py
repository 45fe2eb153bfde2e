"""Build the course notebooks (notebooks/{en,it}/*.ipynb) from their jupytext sources.

The sources (notebooks/src/{en,it}/*.py, py:percent cells) are what people edit and review;
the .ipynb files are what a teacher hands out, so both live in the repository, the notebooks
with their outputs stripped. `python notebooks/build.py --check` fails when one is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def build(source: Path) -> str:
    """The notebook text for one source: no outputs, no execution counts, stable metadata."""
    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata = {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number}"  # stable ids: a rebuild changes nothing
        cell.metadata = {}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def targets() -> list[tuple[Path, Path]]:
    """(source, notebook) pairs, every language, in chapter order."""
    return [
        (src, HERE / src.parent.name / (src.stem + ".ipynb"))
        for src in sorted((HERE / "src").glob("*/*.py"))
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a notebook is stale")
    args = parser.parse_args(argv)
    stale = []
    for src, nb_path in targets():
        text = build(src)
        if nb_path.exists() and nb_path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(nb_path)
            continue
        nb_path.parent.mkdir(parents=True, exist_ok=True)
        nb_path.write_text(text, encoding="utf-8")
        print(f"wrote {nb_path.relative_to(HERE.parent)}")
    if stale:
        print("stale (run `make notebooks`): " + ", ".join(str(p) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
