"""Benchmark: MLP, RNN, LSTM, GRU and CNN language models against GPT (`attento compare`).

Runs the same library function as `attento compare` with its defaults (about 25 minutes on
2 CPU cores), prints the tables, where every speed is also given as a ratio to GPT measured
in the same run, and (unless --no-write) replaces the `## bench/compare.py` section of
bench/RESULTS.md and copies the three plots to docs/img/compare-*.png.

    .venv/bin/python bench/compare.py [--out DIR] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
from pathlib import Path

import torch

from attento.compare import CompareConfig, compare
from attento.compare.report import PLOTS, markdown
from results import write_section

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "img"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/attento-compare", help="run folder (fresh)")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md and docs alone")
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    result = compare(CompareConfig(), out, progress=True)
    md = markdown(result)
    print(md)
    if args.no_write:
        return
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name in PLOTS:
        shutil.copyfile(out / name, IMAGES / name)
    command = "python bench/compare.py " + " ".join(sys.argv[1:])
    images = "\n".join(f"![{name}](../docs/img/{name})" for name in PLOTS)
    write_section(
        "compare.py",
        f"`{command.strip()}` (same as `attento compare --out DIR`; "
        f"{datetime.date.today()}, torch {torch.__version__}, {result.config.threads} torch "
        "thread(s) on 2 CPU cores shared with other jobs, so absolute speeds are noisy; the "
        "ratios to GPT were measured in the same run)\n\n"
        f"{md}\n{images}\n",
    )


if __name__ == "__main__":
    main()
