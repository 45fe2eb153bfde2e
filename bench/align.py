"""Alignment on a laptop: `attento align-demo`, measured, into bench/RESULTS.md.

Runs the whole pipeline (pretrain -> SFT -> reward model -> PPO and DPO) with rule-made data,
then writes the report table, the ratios of each aligned policy's mean true reward to the
SFT policy's (measured in the same run, same prompts, same sampling seeds), and the wall time
into the `## bench/align.py` section of bench/RESULTS.md; the PPO curves go to
docs/img/align-ppo.png.

    .venv/bin/python bench/align.py [--out DIR] [--threads N] [--no-write]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from attento.align.demo import DemoSettings, report_markdown, run_demo
from results import RESULTS, write_section

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "docs" / "img" / "align-ppo.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="a new folder for the run (default: temp)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md and docs alone")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="attento-align-")) / "run"
    start = time.perf_counter()
    report = run_demo(out, DemoSettings())
    minutes = (time.perf_counter() - start) / 60
    r = report["results"]
    base = r["sft"]["mean_true_reward"]
    ratios = ", ".join(
        f"{name.upper()} / SFT = {r[name]['mean_true_reward'] / base:.2f}x"
        for name in ("ppo", "dpo")
    )
    command = "`.venv/bin/python bench/align.py" + (
        f" --threads {args.threads}`" if args.threads else "`"
    )
    text = (
        f"Command: {command} (same as `attento align-demo --out DIR`; "
        f"{time.strftime('%Y-%m-%d')}, {torch.get_num_threads()} torch thread(s), "
        "2 CPUs shared with other jobs)\n\n"
        "Base GPT pretrained on generated facts, SFT on sloppy demonstrations, reward model "
        "and DPO on rule-ranked pairs, PPO against the reward model. True reward: 1 for the "
        "right answer alone, 0.3 for the right answer plus rambling, 0 otherwise; KL is "
        "Σ log π − log π_SFT over each sampled answer, averaged (256 held-out prompts, "
        "same sampling seeds for every policy).\n\n"
        f"{report_markdown(report)}\n"
        f"Mean true reward ratios: {ratios}. Wall time: {minutes:.1f} min.\n\n"
        "![PPO curves](../docs/img/align-ppo.png)\n"
    )
    print(text)
    if not args.no_write:
        write_section("align.py", text)
        IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "ppo.png", IMAGE)
        print(f"wrote {RESULTS} and {IMAGE}", file=sys.stderr)


if __name__ == "__main__":
    main()
