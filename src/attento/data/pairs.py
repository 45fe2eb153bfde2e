"""Source/target pairs for an encoder–decoder: one pair a line, the two texts tab-separated,
as translation collections (Tatoeba, Anki decks) come."""

from __future__ import annotations

from pathlib import Path

from attento.data.corpus import read_text_file
from attento.errors import UserError


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(source, target) of every non-empty line of `path`."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"pairs file {path} not found")
    pairs = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise UserError(
                f"{path}, line {number}: write the source, one tab, the target "
                f"(found {len(parts) - 1} tabs)"
            )
        pairs.append((parts[0], parts[1]))
    if not pairs:
        raise UserError(f"{path} holds no pairs")
    return pairs
