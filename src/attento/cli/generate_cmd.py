"""`attento generate` (write text, streamed) and `attento next-token` (the final step in full)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from attento.cli.common import (
    add_config_flags,
    add_json_flag,
    add_model_flags,
    config_from_args,
    print_json,
    read_text_arg,
    use_color,
)
from attento.errors import UserError
from attento.generate.sampling import SamplingConfig
from attento.messages import add_lang_flag, language, message, user_error

if TYPE_CHECKING:
    from torch import nn

    from attento.tokenize import Tokenizer


BLOCKS = " ▏▎▍▌▋▊▉█"  # eighths of a character cell, for smooth probability bars
MAX_DEFAULT_NEW_TOKENS = 256


def register(sub: argparse._SubParsersAction) -> None:
    from attento.generate.report import ROWS
    from attento.generate.speculative import DEFAULT_K

    g = sub.add_parser(
        "generate",
        help="continue a prompt with a language model, token by token",
        description="Continue PROMPT: each token is chosen from the model's probabilities "
        "(temperature, top-k, top-p, then greedy or a seeded die roll) and printed as it comes.",
    )
    _common(g)
    g.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="default: as many as the model's context holds after the prompt, at most "
        f"{MAX_DEFAULT_NEW_TOKENS}",
    )
    add_config_flags(g, SamplingConfig, ("greedy",))
    g.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="STR",
        help="stop after this text (repeatable)",
    )
    g.add_argument("--no-cache", action="store_true", help="recompute everything at every step")
    g.add_argument(
        "--compile",
        action="store_true",
        help="decode on a fixed-shape KV cache with a compiled step (torch.compile): the same "
        "tokens, faster after the first step, which pays the compile time (printed to stderr "
        "apart from the speed)",
    )
    g.add_argument(
        "--draft",
        metavar="MODEL",
        default=None,
        help="speculative decoding: this small model (same tokenizer) drafts tokens that the "
        "model checks several at a time; the same text distribution, faster",
    )
    g.add_argument(
        "--draft-k",
        type=int,
        default=None,
        metavar="K",
        help=f"tokens the draft proposes per check (default: {DEFAULT_K})",
    )
    add_lang_flag(g)
    add_json_flag(g)
    g.set_defaults(func=run_generate)

    n = sub.add_parser(
        "next-token",
        help="show how the next token is chosen: logits, softmax, top-k, top-p, the die",
        description="Lay out the final step for PROMPT: the most likely next tokens with "
        "logit, logit/T, probability, cumulative probability, what top-k and top-p keep, the "
        "renormalised probability, and the token the seeded die picks.",
    )
    _common(n)
    n.add_argument(
        "-n", "--rows", type=int, default=ROWS, help="candidates to show (default: %(default)s)"
    )
    n.add_argument(
        "--lens",
        action="store_true",
        help="also the logit lens: the stream after each block read through the final norm and "
        "the vocabulary projection (top-5 next tokens, the picked token's probability)",
    )
    add_lang_flag(n)
    add_json_flag(n)
    n.set_defaults(func=run_next_token)


def _common(p: argparse.ArgumentParser) -> None:
    add_model_flags(p)
    p.add_argument("--prompt", required=True, help="the text to continue, or - for stdin")
    add_config_flags(p, SamplingConfig, ("temperature", "top_k", "top_p", "seed"))


def _load(name: str, dtype: str | None = None):
    from attento.models.folder import load_model

    model, tokenizer = load_model(name, dtype=dtype)
    if not hasattr(model, "new_cache"):  # what every left-to-right language model here has
        raise user_error("not_a_language_model", name=name, kind=type(model).__name__)
    if tokenizer is None:
        raise user_error("no_tokenizer")
    return model, tokenizer


def run_generate(args: argparse.Namespace) -> int:
    from attento.generate import stream
    from attento.generate.sampling import draw_seed

    prompt = read_text_arg(args.prompt)
    config_from_args(SamplingConfig, args, ("temperature", "top_k", "top_p", "greedy", "seed"))
    model, tokenizer = _load(args.model, args.dtype)
    seed = draw_seed() if args.seed is None else args.seed
    max_new_tokens = args.max_new_tokens
    if max_new_tokens is None:
        max_new_tokens = room_in_context(model, tokenizer, prompt)
    settings = dict(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        greedy=args.greedy,
        seed=seed,
        stop=args.stop,
    )
    stats = timing = None
    lang = language(args.lang)
    if args.draft is None and args.draft_k is not None:
        raise UserError(message("generate.draft_k", lang))
    if args.compile:
        from attento.generate.static import Timing

        _check_compile(args, model, tokenizer, prompt, max_new_tokens, lang)
        timing = Timing()
    if args.draft is not None:
        from attento.generate.speculative import (
            DEFAULT_K,
            SpeculativeStats,
            check_same_tokenizer,
            speculative_stream,
        )

        if args.no_cache:
            raise UserError(message("generate.draft_cache", lang))
        draft, draft_tokenizer = _load(args.draft, args.dtype)
        check_same_tokenizer(tokenizer, draft_tokenizer)
        stats = SpeculativeStats()
        k = DEFAULT_K if args.draft_k is None else args.draft_k
        pieces = speculative_stream(
            model, draft, tokenizer, prompt, max_new_tokens, k, stats=stats, **settings
        )
    else:
        pieces = stream(
            model,
            tokenizer,
            prompt,
            max_new_tokens,
            use_cache=not args.no_cache,
            compile=args.compile,
            **settings,
        )
    if timing is not None:
        pieces = timing.watch(pieces)
    if args.json:
        ids, text = [], []
        for token, piece in pieces:
            ids.append(token)
            text.append(piece)
        print_json(
            {
                "prompt": prompt,
                "text": "".join(text),
                "ids": ids,
                "seed": None if args.greedy else seed,
                **({} if stats is None else {"draft": _draft_json(stats)}),
                **({} if timing is None else {"compile": _compile_json(timing)}),
            }
        )
        return 0
    color = use_color()
    sys.stdout.write(f"\x1b[1m{prompt}\x1b[0m" if color else prompt)
    for _, piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    if stats is not None:
        numbers = dict(accepted=stats.accepted, proposed=stats.proposed)
        rates = dict(rate=f"{stats.acceptance_rate:.0%}", per_pass=f"{stats.tokens_per_pass:.2f}")
        print(message("generate.draft_stats", lang, **numbers, **rates), file=sys.stderr)
    if timing is not None and timing.compile_seconds is not None:
        speed = timing.tokens_per_second
        key = "generate.compile_few" if speed is None else "generate.compile_time"
        values = dict(seconds=timing.compile_seconds, tokens=timing.tokens - 2, speed=speed)
        print(message(key, lang, **values), file=sys.stderr)
    return 0


def _check_compile(
    args: argparse.Namespace,
    model: nn.Module,
    tokenizer: Tokenizer,
    prompt: str,
    max_new_tokens: int,
    lang: str,
) -> None:
    """--compile's bad combinations, as one line each (generate/static.py says which runs fit)."""
    from attento.generate import encode_prompt
    from attento.generate.static import misfit

    if args.draft is not None:
        raise UserError(message("generate.compile_draft", lang))
    if args.no_cache:
        raise UserError(message("generate.compile_cache", lang))
    length = len(encode_prompt(tokenizer, prompt))
    why = misfit(model, length, max_new_tokens)
    if why is None:
        return
    c = model.config
    values = dict(model=args.model)
    if why == "window":
        values |= dict(window=c.sliding_window, block=c.block_size)
    elif why == "long":
        values |= dict(prompt=length, new=max_new_tokens, limit=c.block_size + 1)
    raise UserError(message(f"generate.compile_{why}", lang, **values))


def _compile_json(timing) -> dict:
    return {"seconds": timing.compile_seconds, "tokens_per_second": timing.tokens_per_second}


def _draft_json(stats) -> dict:
    return {
        "proposed": stats.proposed,
        "accepted": stats.accepted,
        "acceptance_rate": stats.acceptance_rate,
        "target_passes": stats.target_passes,
        "tokens_per_pass": stats.tokens_per_pass,
    }


def room_in_context(model: nn.Module, tokenizer: Tokenizer, prompt: str) -> int:
    """New tokens that fit in the model's context after the prompt (at least one, at most
    MAX_DEFAULT_NEW_TOKENS: a real model's context of thousands would write for minutes): more
    would push the prompt's start out of the window, which a model with a position table
    cannot read, and warns in the middle of the text."""
    from attento.generate import encode_prompt

    room = model.config.block_size - len(encode_prompt(tokenizer, prompt))
    return max(1, min(MAX_DEFAULT_NEW_TOKENS, room))


def bar(p: float, width: int = 20) -> str:
    """A horizontal bar p·width cells long, drawn with eighth-block characters."""
    eighths = round(max(0.0, min(1.0, p)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[part] if part else "")).ljust(width)


def run_next_token(args: argparse.Namespace) -> int:
    from attento.generate import next_token_report

    lang = language(args.lang)
    prompt = read_text_arg(args.prompt)
    if args.rows < 1:
        raise UserError(message("next.bad_rows", lang, rows=args.rows))
    model, tokenizer = _load(args.model, args.dtype)
    report = next_token_report(
        model,
        tokenizer,
        prompt,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        n=args.rows,
    )
    picked = next(c.id for c in report.candidates if c.picked)
    lens = _lens(model, tokenizer, report.prompt_ids, picked) if args.lens else None
    if args.json:
        print_json(report.to_dict() | ({"lens": lens} if lens else {}))
        return 0
    t = report.temperature
    count = message("tokens.count", lang, n=len(report.prompt_ids))
    temperature = message("final.temperature", lang)
    title = dict(prompt=report.prompt, count=count, temperature=temperature, t=t, seed=report.seed)
    print(
        message("next.title", lang, **title, top_k=report.top_k or "-", top_p=report.top_p or "-")
    )
    final = message("next.final_column", lang)
    header = (
        f"{'#':>4}  {'token':<12} {'id':>6} {'logit':>8} {'logit/T':>8} {'prob':>7} "
        f"{'cum.':>7} {'top-k':>5} {'top-p':>5} {final:>7}  {message('next.final', lang)}"
    )
    print(header)
    print("─" * len(header))
    for c in report.candidates:
        marks = (f" ◀ {message('next.die', lang)}" if c.picked else "") + (
            " (greedy)" if c.greedy else ""
        )
        top_k = _mark(c.kept_top_k, report.top_k is not None)
        top_p = _mark(c.kept_top_p, report.top_p is not None)
        line = (
            f"{c.rank:>4}  {c.text!r:<12} {c.id:>6} {c.logit:>8.2f} {c.scaled_logit:>8.2f} "
            f"{c.prob:>7.2%} {c.cumulative:>7.2%} {top_k:>5} {top_p:>5} "
            f"{c.final_prob:>7.2%}  {bar(c.final_prob)}{marks}"
        )
        print(line.rstrip())
    summary = dict(kept=report.kept, vocab=report.vocab_size, seed=report.seed)
    picks = dict(picked=report.picked_text, greedy=report.greedy_text)
    print(message("next.summary", lang, **summary, **picks))
    if lens:
        _print_lens(lens, lang)
    return 0


def _lens(model: nn.Module, tokenizer: Tokenizer, ids: list[int], target: int) -> dict:
    """The explainer's logit lens of the last token, from one traced forward pass."""
    from attento.explain.lens import lens_view
    from attento.explain.traces import record

    return lens_view(model, tokenizer, record(model, ids), len(ids) - 1, target)


def _print_lens(lens: dict, lang: str) -> None:
    target = lens["target"]["text"]
    names = [
        message("stack.embed", lang)
        if row["block"] < 0
        else message("block.name", lang, i=row["block"] + 1)
        for row in lens["rows"]
    ]
    width = max(len(n) for n in [*names, message("next.lens_after", lang)])
    rank = message("next.lens_rank", lang)
    print("\n" + message("next.lens", lang))
    header = (
        f"{message('next.lens_after', lang):<{width}} {'p(' + repr(target) + ')':>12} "
        f"{rank:>9}  {message('next.lens_top', lang)}"
    )
    print(header)
    print("─" * max(len(header), 60))
    for name, row in zip(names, lens["rows"], strict=True):
        top = "  ".join(f"{c['text']!r} {c['prob']:.1%}" for c in row["top"])
        print(f"{name:<{width}} {row['target_prob']:>12.2%} {row['target_rank']:>9}  {top}")


def _mark(kept: bool, active: bool) -> str:
    """✓ kept, ✗ removed, · when that filter is off."""
    if not active:
        return "·"
    return "✓" if kept else "✗"
