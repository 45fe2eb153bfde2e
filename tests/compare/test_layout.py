"""The compare modules import one another in one direction only (type-only imports count)."""

from __future__ import annotations

import ast
from pathlib import Path

import attento.compare

PACKAGE = Path(attento.compare.__file__).parent


def imports_within_compare(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "attento.compare":
                names |= {a.name for a in node.names}  # from attento.compare import report
            elif node.module.startswith("attento.compare."):
                names.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            names |= {
                a.name.split(".")[2] for a in node.names if a.name.startswith("attento.compare.")
            }
    return {n for n in names if (PACKAGE / f"{n}.py").is_file()}


def test_no_import_cycle_between_compare_modules():
    graph = {
        p.stem: imports_within_compare(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"
    }
    assert graph["run"] >= {"report", "result"} and "result" in graph["report"]

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(
            n == target or (n not in seen and reaches(n, target, seen | {n})) for n in graph[start]
        )

    assert [m for m in graph if reaches(m, m, set())] == []
