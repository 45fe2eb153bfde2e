"""`attento train`: train a model from a preset on a corpus, resumably.

The same command scales out: `torchrun --nproc_per_node=N -m attento.cli train ...`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from pathlib import Path

from attento.cli.common import add_config_flags, add_json_flag, check_out_folder, print_json
from attento.errors import UserError

# TrainConfig fields with a flag of their own; --set reaches every field
FLAGS = (
    "corpus",
    "tokenizer",
    "objective",
    "arch",
    "init_from",
    "max_steps",
    "time_budget_min",
    "keep_checkpoints",
    "seed",
)
FLAGS_AFTER = ("device", "compile", "grad_checkpoint")


def register(sub: argparse._SubParsersAction) -> None:
    from attento.train.config import PRESETS, TrainConfig

    p = sub.add_parser(
        "train",
        help="train a language model on a corpus",
        description="Train a model from a preset or a config file, writing checkpoints, "
        "log.csv and loss.png into --out. Without --max-steps or --time-budget the preset's "
        "length is used. Settings apply in order: the preset (or --config), the flags, then "
        "each --set.",
    )
    fields = dict(
        flags={"time_budget_min": "--time-budget"},
        helps={
            "objective": "clm: next-token prediction (GPT); mlm: masked language modelling, "
            "which trains a BERT (default preset bert-cpu)",
            "arch": "gpt, mlp, rnn, lstm, gru or cnn; another arch than the preset's takes "
            "its own default shape at the preset's context length",
            "init_from": "continue training this model (bundled name, model folder, Hugging "
            "Face folder or Hub id) with its own tokenizer and shape; the preset gives the "
            "training settings",
            "keep_checkpoints": "keep N snapshots of the weights along the run, step 0 and the "
            "last included, in OUT/snapshots/ (needs --max-steps; the explainer's history "
            "scrubs them)",
            "grad_checkpoint": "recompute each block's activations in the backward pass: less "
            "memory for long contexts, ~1/3 more time per step, the same gradients",
        },
        defaults=None,
        default_text="the preset's",
    )
    add_config_flags(p, TrainConfig, FLAGS, choices={"objective": ("clm", "mlm")}, **fields)
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="model and training settings (default: cpu; on --resume, the checkpoint's)",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="training settings from a file instead of a preset: a run's train_config.json "
        "or a TOML file of the same keys (those left out keep TrainConfig's defaults)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="settings",
        help="change any training setting, e.g. --set learning_rate=3e-4 --set "
        "model.n_layer=6 (repeatable; 'none' clears an optional one)",
    )
    p.add_argument("--out", required=True, help="run folder: checkpoint, best/, log.csv, loss.png")
    add_config_flags(p, TrainConfig, FLAGS_AFTER, **fields)
    p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    add_json_flag(p)
    p.set_defaults(func=run_train)


def build_config(args: argparse.Namespace):
    """The TrainConfig the flags describe (None: resume the checkpoint unchanged)."""
    from attento.train import checkpoint
    from attento.train.config import TrainConfig, preset, with_overrides

    if args.config is not None and (args.preset is not None or args.resume):
        raise UserError(
            "--config replaces the preset"
            + (" and --resume continues the checkpoint's settings" if args.resume else "")
            + ": give one of them (and change settings with --set)"
        )
    if args.resume:
        if not checkpoint.has_checkpoint(Path(args.out)):
            return None  # train() explains that there is nothing to resume
        cfg = checkpoint.read_train_config(Path(args.out))
        if args.preset is not None:
            cfg = preset(args.preset).replace(
                corpus=cfg.corpus, tokenizer=cfg.tokenizer, seed=cfg.seed
            )
    elif args.config is not None:
        cfg = TrainConfig.read(args.config)
    else:
        cfg = preset(args.preset or ("bert-cpu" if args.objective == "mlm" else "cpu"))
    names = ("corpus", "tokenizer", "objective", "seed", "device", "compile")
    names += ("keep_checkpoints", "grad_checkpoint")
    changes = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.init_from is not None:
        check_init_from(args)
        changes["init_from"] = args.init_from
    if args.arch is not None and args.arch != cfg.arch:
        check_default_shape(args.arch)
        changes.update(arch=args.arch, model={"block_size": cfg.model["block_size"]})
    if args.max_steps is not None or args.time_budget_min is not None:
        # either limit replaces the preset's way of stopping; with both, the first reached wins
        changes.update(max_steps=args.max_steps, time_budget_min=args.time_budget_min)
    return with_overrides(cfg.replace(**changes), args.settings)


def check_init_from(args: argparse.Namespace) -> None:
    """--init-from brings its own tokenizer and shape: a flag that sets them would be ignored."""
    flags = (("--arch", args.arch), ("--tokenizer", args.tokenizer))
    given = [flag for flag, value in flags if value is not None]
    if given:
        raise UserError(
            f"--init-from {args.init_from} takes the model's own tokenizer and shape: "
            f"drop {' and '.join(given)}"
        )


def check_default_shape(arch: str) -> None:
    """--arch swaps in the arch's default shape; GPT and BERT have none (their size is the
    preset's whole point), which would end in "model config lacks: n_layer, ..."."""
    from attento.registry import arch_class, arch_names
    from attento.train.config import PRESETS

    if arch not in arch_names():
        return  # train() names the known architectures
    fields = dataclasses.fields(arch_class(arch).config_class)
    needs = [
        f.name
        for f in fields
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and f.name not in ("vocab_size", "block_size")
    ]
    if needs:
        presets = [name for name, cfg in PRESETS.items() if cfg.arch == arch]
        if not presets:  # the reward model, LoRA: made by their own commands
            raise UserError(
                f"attento train does not train --arch {arch}: choose gpt, mlp, rnn, lstm, "
                "gru, cnn, bert with --objective mlm, or seq2seq with --objective seq2seq"
            )
        raise UserError(
            f"--arch {arch} has no default shape ({', '.join(needs)}): "
            f"choose a preset of that arch instead, e.g. --preset {presets[0]}"
        )


def run_train(args: argparse.Namespace) -> int:
    from attento.train import train
    from attento.train.report import REPORT_FILE, write_report

    check_out_folder(args.out)
    result = train(build_config(args), args.out, resume=args.resume, progress=True)
    # under torchrun only process 0 (RANK 0), which wrote the checkpoint, writes the card
    main_process = int(os.environ.get("RANK", "0")) == 0
    score = write_report(Path(args.out)) if main_process else None
    if args.json:
        done = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in dataclasses.asdict(result).items()
        }
        print_json(done | {"whole_split": score.to_dict() if score else None})
    else:
        print(
            f"trained {result.steps} steps in {result.elapsed_s / 60:.1f} min "
            f"({result.tokens_per_s:,.0f} tokens/s): best validation loss "
            f"{result.best_val_loss:.4f}; model and log in {result.out}"
        )
        if score is not None:
            print(
                f"whole held-out split: {score.loss:.4f} nats/token"
                + (f", {score.bits_per_byte:.4f} bits/byte" if score.bits_per_byte else "")
                + f"; report card in {Path(args.out) / REPORT_FILE}"
            )
    return 0
