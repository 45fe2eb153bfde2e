"""Write one benchmark's section of bench/RESULTS.md and leave the others as they are.

Each benchmark owns the section headed `## bench/<script>`; running it again replaces that
section in place (or appends it the first time), so RESULTS.md always holds the latest run of
every benchmark together with the command that produced it.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(script: str, body: str) -> None:
    """Replace the section `## bench/<script>` of RESULTS.md with `body` (below the heading)."""
    heading = f"## bench/{script}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    section = f"{heading}\n\n{body.strip()}\n"
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section + ("" if end < 0 else text[end:])
    RESULTS.write_text(text.rstrip("\n") + "\n")
