"""`attento sft | chat | reward | ppo | dpo | align-demo`: fine-tuning and alignment."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import asdict
from pathlib import Path

from attento.cli.common import (
    add_config_flags,
    add_json_flag,
    add_model_flags,
    check_new_model_folder,
    check_out_folder,
    config_from_args,
    print_json,
)
from attento.errors import UserError
from attento.files import atomic_folder, check_replaceable

# the flags of each command, by field of its settings dataclass
SFT_FLAGS = {
    "max_steps": "--steps",
    "batch_size": "--batch-size",
    "learning_rate": "--lr",
    "lora_r": "--lora",
    "lora_alpha": "--lora-alpha",
    "seed": "--seed",
}
REWARD_FLAGS = {
    "steps": "--steps",
    "batch_size": "--batch-size",
    "learning_rate": "--lr",
    "seed": "--seed",
    "train_dropout": "--train-dropout",
}
PPO_FLAGS = {
    "steps": "--steps",
    "batch_size": "--batch-size",
    "kl_coef": "--kl-coef",
    "learning_rate": "--lr",
    "max_new_tokens": "--max-new-tokens",
    "seed": "--seed",
    "train_dropout": "--train-dropout",
}
DPO_FLAGS = {"beta": "--beta", "rpo_alpha": "--rpo-alpha"} | REWARD_FLAGS
RUN_FIELDS = ("eval_interval", "device")  # --checkpoint-interval and --device (shared loop)
CHAT_SAMPLING = ("temperature", "top_k", "top_p", "greedy", "seed")


def register(sub: argparse._SubParsersAction) -> None:
    from attento.align.dpo import DPOSettings
    from attento.align.ppo import PPOSettings
    from attento.align.reward import RewardSettings
    from attento.align.sft import SFTSettings
    from attento.align.talk import CHAT_SAMPLING_DEFAULTS, MAX_NEW_TOKENS
    from attento.generate.sampling import SamplingConfig

    s = sub.add_parser(
        "sft",
        help="instruction-tune a model on Alpaca or chat-messages data",
        description="Supervised fine-tuning: add the chat tokens if the model lacks them, then "
        "train on the answers only (prompt tokens are not targets), with the shared loop. "
        "With --lora R only rank-R adapters train; OUT/merged holds them folded in.",
    )
    s.add_argument(
        "--model", required=True, help="model folder, Hugging Face folder or Hub id to start from"
    )
    s.add_argument("--data", required=True, help=".json/.jsonl(.gz): alpaca or messages")
    s.add_argument("--out", required=True, help="folder for the fine-tuned model")
    add_config_flags(s, SFTSettings, SFT_FLAGS, flags=SFT_FLAGS)
    add_run_flags(s, SFTSettings)
    add_json_flag(s)
    s.set_defaults(func=run_sft)

    c = sub.add_parser(
        "chat",
        help="talk to a chat model in the terminal (answers stream as they are written)",
        description="Interactive chat. /reset clears the conversation, /exit or Ctrl-D leaves.",
    )
    add_model_flags(c, default=None)
    c.add_argument("--system", default=None, help="a system message to start with")
    c.add_argument(
        "--max-new-tokens", type=int, default=MAX_NEW_TOKENS, help="default: %(default)s"
    )
    add_config_flags(c, SamplingConfig, CHAT_SAMPLING, defaults=CHAT_SAMPLING_DEFAULTS)
    c.set_defaults(func=run_chat)

    r = sub.add_parser(
        "reward",
        help="train a reward model on preference pairs (Bradley–Terry)",
        description="Train a reward model (the chat model with a scalar head) on prompt/chosen/"
        "rejected or hh-rlhf pairs; report held-out pairwise accuracy.",
    )
    r.add_argument(
        "--model", required=True, help="chat model to start from: folder, HF folder or Hub id"
    )
    r.add_argument("--data", required=True, help="preference pairs .json/.jsonl(.gz)")
    r.add_argument("--out", required=True, help="folder for the reward model")
    add_config_flags(r, RewardSettings, REWARD_FLAGS, flags=REWARD_FLAGS)
    add_run_flags(r, RewardSettings)
    add_config_flags(r, RewardSettings, ["device"])
    add_force_flag(r)
    add_json_flag(r)
    r.set_defaults(func=run_reward)

    p = sub.add_parser(
        "ppo",
        help="RLHF: optimise a chat model against a reward model with PPO",
        description="PPO with a per-token KL penalty to the starting model, GAE and clipped "
        "losses, with the shared loop (one optimiser step per mini-batch). Writes the policy "
        "with its value head (a GPT model folder), the run's checkpoint and log, ppo_log.csv and "
        "ppo.png (reward, KL, entropy per PPO step) to OUT.",
    )
    p.add_argument(
        "--model", required=True, help="chat model (folder, HF folder or Hub id): policy, reference"
    )
    p.add_argument("--reward", required=True, help="reward model folder (attento reward)")
    p.add_argument("--data", required=True, help="prompts: instruction or preference data")
    p.add_argument("--out", required=True)
    add_config_flags(p, PPOSettings, PPO_FLAGS, flags=PPO_FLAGS)
    add_run_flags(p, PPOSettings)
    add_config_flags(p, PPOSettings, ["device"])
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run_ppo)

    d = sub.add_parser(
        "dpo",
        help="align a chat model directly on preference pairs (DPO)",
        description="Direct preference optimisation against the frozen starting model; "
        "reports held-out implicit reward accuracy.",
    )
    d.add_argument("--model", required=True, help="chat model: folder, HF folder or Hub id")
    d.add_argument("--data", required=True, help="preference pairs .json/.jsonl(.gz)")
    d.add_argument("--out", required=True)
    add_config_flags(d, DPOSettings, DPO_FLAGS, flags=DPO_FLAGS)
    add_run_flags(d, DPOSettings)
    add_config_flags(d, DPOSettings, ["device"])
    add_force_flag(d)
    add_json_flag(d)
    d.set_defaults(func=run_dpo)

    a = sub.add_parser(
        "align-demo",
        help="the whole pipeline in minutes: pretrain, SFT, reward model, PPO, DPO",
        description="Pretrain a small GPT on generated facts, instruction-tune it on sloppy "
        "demonstrations, learn a reward model from rule-ranked pairs, then align with PPO and "
        "DPO; writes report.md (table) and ppo.png into OUT.",
    )
    a.add_argument("--out", required=True, help="a new folder for models, data and report")
    a.add_argument("--quick", action="store_true", help="a few steps only (checks the plumbing)")
    a.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    add_json_flag(a)
    a.set_defaults(func=run_demo)


def add_run_flags(parser: argparse.ArgumentParser, settings: type) -> None:
    """--checkpoint-interval (the settings' eval_interval) and --resume of a command trained
    with the shared loop."""
    add_config_flags(
        parser, settings, ["eval_interval"], flags={"eval_interval": "--checkpoint-interval"}
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in OUT")


@contextlib.contextmanager
def _run_out(args: argparse.Namespace, *sources: str):
    """The folder a loop-trained command runs in: OUT itself (new, or resumed), or, with
    --force over a used OUT, a new folder that replaces it whole when the run is done."""
    out = Path(args.out)
    if args.resume:
        yield out
        return
    check_new_model_folder(args.out, *sources)
    if not (out.is_dir() and any(out.iterdir())):
        yield out
        return
    check_replaceable(out, args.force)
    if _world_size() > 1:
        raise UserError(
            f"--force under torchrun: every process would swap in its own {out}; "
            "empty it first or give a new --out"
        )
    with atomic_folder(out, replace=True) as tmp:
        yield tmp


def _world_size() -> int:
    """How many processes torchrun started for this command (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _is_main_process() -> bool:
    """Process 0 of a torchrun world (or the only one): the one that writes files."""
    return int(os.environ.get("RANK", "0")) == 0


def add_force_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="replace what --out holds (by default refused)"
    )


def _quiet(json_output: bool) -> contextlib.AbstractContextManager:
    """With --json, stdout carries only the JSON: progress lines go to stderr."""
    return contextlib.redirect_stdout(sys.stderr) if json_output else contextlib.nullcontext()


def _chat_model(path: str, dtype: str | None = None, own_template: bool = False):
    """A chat model, its tokenizer and how its conversations are written: with
    `own_template`, the model's own chat template when it has one (a Hugging Face model)."""
    from attento.align.chat import ChatFormat, chat_format
    from attento.models.folder import load_model
    from attento.models.gpt import GPT

    model, tokenizer = load_model(path, dtype=dtype)
    if not isinstance(model, GPT):
        raise UserError(f"{path} is not a GPT language model")
    return model, tokenizer, chat_format(tokenizer) if own_template else ChatFormat.of(tokenizer)


def run_sft(args: argparse.Namespace) -> int:
    from attento.align.sft import SFTSettings, sft

    check_out_folder(args.out)
    warmup = min(SFTSettings.warmup_steps, args.max_steps // 4)
    names = [*SFT_FLAGS, "eval_interval"]
    settings = config_from_args(SFTSettings, args, names, warmup_steps=warmup)
    with _quiet(args.json):
        result = sft(args.model, args.data, args.out, settings, not args.json, args.resume)
    if args.json:
        print_json(asdict(result))
    else:
        print(f"fine-tuned model in {result.out} (val loss {result.final_val_loss:.4f})")
    return 0


def run_chat(args: argparse.Namespace) -> int:
    from attento.align.talk import chat_loop
    from attento.generate.sampling import SamplingConfig

    sampling = config_from_args(SamplingConfig, args, CHAT_SAMPLING)
    if args.model is None:
        raise UserError(
            "give --model: a chat model (attento sft's output, or a Hugging Face "
            "chat model such as HuggingFaceTB/SmolLM2-135M-Instruct)"
        )
    model, _, chat = _chat_model(args.model, args.dtype, own_template=True)
    chat_loop(model, chat, sys.stdin, sys.stdout, args.system, args.max_new_tokens, sampling)
    return 0


def run_reward(args: argparse.Namespace) -> int:
    from attento.align.data import load_preferences
    from attento.align.reward import RewardSettings, train_reward_model

    settings = config_from_args(RewardSettings, args, [*REWARD_FLAGS, *RUN_FIELDS])
    with _run_out(args, args.model) as out:
        prefs = load_preferences(args.data)
        model, _, chat = _chat_model(args.model, own_template=True)
        with _quiet(args.json):
            _, report = train_reward_model(
                model, chat, prefs, settings, not args.json, out, args.resume
            )
    if args.json:
        print_json({k: v for k, v in asdict(report).items() if k != "losses"})
    else:
        print(
            f"reward model in {args.out}: held-out pairwise accuracy "
            f"{report.val_accuracy:.1%} on {report.val_pairs} pairs"
        )
    return 0


def run_ppo(args: argparse.Namespace) -> int:
    from attento.align.data import load_prompts
    from attento.align.ppo import PPOSettings, plot_ppo, ppo, write_ppo_log
    from attento.align.reward import RewardModel
    from attento.models.folder import load_model

    mini = max(1, args.batch_size // 2)
    names = [*PPO_FLAGS, *RUN_FIELDS]
    settings = config_from_args(PPOSettings, args, names, mini_batch_size=mini)
    with _run_out(args, args.model, args.reward) as out:
        prompts = load_prompts(args.data)
        model, _, chat = _chat_model(args.model, own_template=True)
        rm, _ = load_model(args.reward)
        if not isinstance(rm, RewardModel):
            raise UserError(
                f"{args.reward} is not a reward model (train one with `attento reward`)"
            )
        with _quiet(args.json):
            _, logs = ppo(
                model, rm, chat, prompts, settings, progress=not args.json, out=out,
                resume=args.resume,
            )  # fmt: skip
        if _is_main_process():  # the run folder is process 0's
            write_ppo_log(logs, out / "ppo_log.csv")
            plot_ppo(logs, out / "ppo.png")
    out = Path(args.out)
    if args.json:
        print_json([asdict(log) for log in logs])
    else:
        first, last = logs[0], logs[-1]
        print(
            f"policy in {out}: reward-model score {first.score:.3f} -> {last.score:.3f}, "
            f"KL {last.kl:.3f} (log: {out / 'ppo_log.csv'}, plot: {out / 'ppo.png'})"
        )
    return 0


def run_dpo(args: argparse.Namespace) -> int:
    from attento.align.data import load_preferences
    from attento.align.dpo import DPOSettings, dpo

    settings = config_from_args(DPOSettings, args, [*DPO_FLAGS, *RUN_FIELDS])
    with _run_out(args, args.model) as out:
        prefs = load_preferences(args.data)
        model, _, chat = _chat_model(args.model, own_template=True)
        with _quiet(args.json):
            _, report = dpo(model, chat, prefs, settings, not args.json, out, args.resume)
    if args.json:
        print_json({k: v for k, v in asdict(report).items() if k not in ("losses", "accuracies")})
    else:
        print(
            f"policy in {args.out}: held-out implicit reward accuracy "
            f"{report.val_reward_accuracy:.1%} (margin {report.val_margin:.3f})"
        )
    return 0


def run_demo(args: argparse.Namespace) -> int:
    import torch

    from attento.align.demo import DemoSettings, run_demo

    check_out_folder(args.out)
    if args.threads is not None:
        if args.threads < 1:
            raise UserError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    settings = DemoSettings.quick() if args.quick else DemoSettings()
    with _quiet(args.json):
        report = run_demo(args.out, settings, progress=not args.json)
    if args.json:
        print_json(report)
    else:
        print((Path(args.out) / "report.md").read_text())
    return 0
