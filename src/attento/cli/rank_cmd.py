"""`attento rank`: be the human in RLHF: order a chat model's answers, store the ranking."""

from __future__ import annotations

import argparse
import getpass
import sys

from attento.cli.common import add_config_flags, config_from_args
from attento.errors import UserError
from attento.messages import add_lang_flag, error_text, language, message, user_error

RANK_FLAGS = ("k", "max_new_tokens", "temperature", "seed")  # the fields of RankSettings


def register(sub: argparse._SubParsersAction) -> None:
    from attento.align.rankings import RankSettings

    r = sub.add_parser(
        "rank",
        help="order K answers of a chat model from best to worst; append the ranking",
        description="Sample K answers to each prompt, show them numbered, read the order "
        "you type (e.g. '2 1 3', best first) and append {prompt, answers, order, who, when} "
        "to a JSONL rankings file, which `attento reward` and `dpo` read (all K(K-1)/2 pairs).",
    )
    r.add_argument("--model", required=True, help="chat model folder (attento sft)")
    r.add_argument("--out", required=True, help="rankings .jsonl file (appended to)")
    r.add_argument("--prompt", action="append", default=None, help="repeatable; default: ask")
    r.add_argument("--who", default=None, help="your name in the record (default: login name)")
    add_config_flags(r, RankSettings, RANK_FLAGS)
    add_lang_flag(r)
    r.set_defaults(func=run_rank)


def _ask(text: str) -> str | None:
    sys.stdout.write(text)
    sys.stdout.flush()
    line = sys.stdin.readline()
    return None if not line else line.strip()


def run_rank(args: argparse.Namespace) -> int:
    from pathlib import Path

    from attento.align.rankings import (
        RankSettings,
        append_ranking,
        make_record,
        parse_order,
        sample_answers,
    )
    from attento.cli.align_cmd import _chat_model

    lang = language(args.lang)
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise user_error("rank_out", out=args.out)
    settings = config_from_args(RankSettings, args, RANK_FLAGS)
    who = args.who if args.who is not None else getpass.getuser()
    model, _, chat = _chat_model(args.model)
    prompts = list(args.prompt or [])
    done, turn = 0, 0
    while True:
        if prompts:
            prompt = prompts.pop(0)
        elif args.prompt:
            break
        else:
            prompt = _ask(message("rank.ask_prompt", lang))
            if not prompt:
                break
        answers = sample_answers(
            model,
            chat,
            prompt,
            settings.k,
            settings.max_new_tokens,
            settings.temperature,
            settings.seed + turn,
        )
        turn += 1
        print(f"\n{prompt}")
        for i, a in enumerate(answers, 1):
            print(f"  [{i}] {a.strip() or message('rank.empty_answer', lang)}")
        while True:
            example = " ".join(map(str, range(settings.k, 0, -1)))
            typed = _ask(message("rank.ask_order", lang, example=example))
            if typed is None:
                print("\n" + message("rank.saved", lang, n=done, out=out))
                return 0
            try:
                order = parse_order(typed, len(answers))
                break
            except UserError as e:
                print(f"  {error_text(e, lang)}")
        append_ranking(out, make_record(prompt, answers, order, who))
        done += 1
    print(message("rank.saved", lang, n=done, out=out))
    return 0
