"""The bundled `dante` and `shakespeare` on held-out text, against the models they replaced.

Each model folder is scored as `attento eval --model DIR` scores it (train/evaluate.clm_score:
every token of the held-out last 10% of its corpus predicted once, windows of its context),
in nats per token and bits per character. Models whose tokens differ hold out slightly
different text (10% of the *tokens*), so for a fair comparison of vocabularies every model of
a corpus is also scored on the same text: the shortest of their held-out tails, which none of
them trained on. The peer of each new model is the one it replaced, scored in the same run.

    mkdir -p OLD && git archive 10b5a24 src/attento/assets/models | tar -x -C OLD
    ATTENTO_DATA=../shared/data .venv/bin/python bench/bundled.py \
        --before OLD/src/attento/assets/models [--trials runs/dante-1024/best ...] [--no-write]

The trials are other runs of a preset (e.g. `attento train --preset dante --tokenizer
bpe:1024`), shown beside the shipped models.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from attento.cli.eval_cmd import training_corpus
from attento.data.corpus import load_corpus
from attento.generate.loop import generate_text
from attento.models.folder import BUNDLED, load_model
from attento.train.checkpoint import CONFIG_FILE, read_train_config
from attento.train.config import TrainConfig, preset
from attento.train.evaluate import Score, clm_score, validation_split
from results import write_section

CORPUS = {"dante": "divina_commedia", "shakespeare": "tinyshakespeare"}
PROMPTS = {"dante": "Nel mezzo del cammin di nostra vita", "shakespeare": "ROMEO:"}
NEW_TOKENS = {"dante": 60, "shakespeare": 160}  # about as many characters
SAMPLE = dict(temperature=0.8, top_k=40, seed=1)


# how both models of commit 10b5a24 were trained (its preset `_bundled`)
BEFORE = TrainConfig(
    model=dict(block_size=128, dropout=0.1), batch_size=16, max_steps=2000, optimizer="adamw"
)


def describe(folder: Path, recipe: TrainConfig) -> dict:
    """What a folder holds (shape, vocabulary, size on disk) and how it was trained."""
    config = json.loads((folder / "config.json").read_text())["model"]
    weights = folder / "model.safetensors"
    return {
        "vocab": config["vocab_size"],
        "shape": f"{config['n_layer']}x{config['n_head']}x{config['n_embd']}, "
        f"context {config['block_size']}, {config.get('pos_encoding', 'learned')} positions",
        "mb": weights.stat().st_size / 1e6,
        "training": f"{recipe.optimizer}, {recipe.max_steps:,} steps of {recipe.batch_size} "
        f"x {config['block_size']}, dropout {config.get('dropout', 0.0)}",
    }


def recipe_of(folder: Path, name: str) -> TrainConfig:
    """The run's train_config.json (in the folder or its run folder), else the preset's."""
    for place in (folder, folder.parent):
        if (place / CONFIG_FILE).is_file():
            return read_train_config(place)
    return preset(name)


def held_out_text(name: str, folders: list[Path]) -> tuple[str, dict[Path, Score]]:
    """The text none of the folders trained on, and each folder's own-split score."""
    text = load_corpus(CORPUS[name])
    own: dict[Path, Score] = {}
    tail = len(text)
    for folder in folders:
        model, tok = load_model(folder)
        held = validation_split(tok.encode(text)).tolist()
        own[folder] = clm_score(model, held, tok)
        tail = min(tail, len(tok.decode(held)))
    return text[len(text) - tail :], own


def sample(folder: Path, name: str, when: str) -> str:
    model, tok = load_model(folder)
    text = generate_text(model, tok, PROMPTS[name], NEW_TOKENS[name], **SAMPLE)
    return f"{name} {when}:\n{PROMPTS[name]}{text}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="folder of the old models")
    parser.add_argument("--trials", type=Path, nargs="*", default=[], help="more model folders")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    rows, samples = [], []
    for name in ("dante", "shakespeare"):
        new, old = BUNDLED / name, args.before / name
        trials = [t for t in args.trials if training_corpus(str(t)) == CORPUS[name]]
        unchanged = (old / "model.safetensors").read_bytes() == (
            new / "model.safetensors"
        ).read_bytes()
        folders = [new, *trials] if unchanged else [old, new, *trials]
        common, own = held_out_text(name, folders)
        for folder in folders:
            model, tok = load_model(folder)
            same = clm_score(model, tok.encode(common), tok)
            now = f"`{name}` now" + (" (unchanged)" if unchanged else "")
            label = {old: f"`{name}` before", new: now}.get(folder, str(folder))
            recipe = recipe_of(folder, name) if folder != old else BEFORE
            rows.append((label, describe(folder, recipe), own[folder], same))
        if unchanged:
            samples.append(sample(new, name, "now (unchanged)"))
            continue
        peer, ours = rows[-len(folders)][3], rows[-len(folders) + 1][3]
        rows.append(
            (f"ratio, {name} now / before", None, None, ours.bits_per_char / peer.bits_per_char)
        )
        samples += [sample(old, name, "before"), sample(new, name, "now")]
    lines = [
        "| model | vocabulary | shape | trained | weights | own held-out split: nats/token "
        "| bits/char | shared held-out text: bits/char |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for label, facts, own_score, same in rows:
        if facts is None:
            lines.append(f"| {label} | | | | | | | {same:.3f}x |")
            continue
        lines.append(
            f"| {label} | {facts['vocab']:,} | {facts['shape']} | {facts['training']} "
            f"| {facts['mb']:.1f} MB "
            f"| {own_score.loss:.4f} | {own_score.bits_per_char:.4f} | {same.bits_per_char:.4f} |"
        )
    table = "\n".join(lines)
    shown = "\n\n".join(samples)
    body = f"""Command: `ATTENTO_DATA=../shared/data .venv/bin/python bench/bundled.py --before OLD/src/attento/assets/models --trials ...` (torch {torch.__version__}, {platform.machine()}; OLD: the models of commit 10b5a24)

Whole held-out splits, as `attento eval` scores them; "shared held-out text" is the same
text for every model of a corpus (the shortest of their held-out tails), so vocabularies
compare fairly in bits per character.

{table}

Samples (temperature {SAMPLE["temperature"]}, top-k {SAMPLE["top_k"]}, seed {SAMPLE["seed"]}; 60 tokens of dante, 160 characters of shakespeare):

```text
{shown}
```
"""
    print(body)
    if not args.no_write:
        write_section("bundled.py", body)


if __name__ == "__main__":
    main()
