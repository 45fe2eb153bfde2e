"""`attento eval` (a model's score on every token of held-out text, see train/evaluate.py) and
`attento report` (a training run's report card, see train/report.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from attento.cli.common import add_config_flags, add_json_flag, config_from_args, print_json
from attento.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    from attento.train.evaluate import EvalSettings

    p = sub.add_parser(
        "eval",
        help="score a model on the whole held-out text: loss, perplexity, bits per byte",
        description="Score MODEL on every token of held-out text, deterministically: the "
        "last 10%% of CORPUS as training holds it out (or the whole of --file), in nats per "
        "token, perplexity, bits per character and bits per byte (these compare across "
        "tokenizers). A BERT is scored on masked tokens (fixed seed): loss, top-1 and top-5. "
        "An encoder-decoder is scored by exact match on --pairs; a chat model (fine-tuned by "
        "attento sft) by format accuracy on the prompts its SFT run held out, or on --prompts.",
    )
    p.add_argument("--model", default="dante", help="bundled name or model folder")
    p.add_argument(
        "--corpus",
        help="corpus name or text file whose last 10%% is scored (default: the one the "
        "model was trained on, from its train_config.json or its bundled recipe)",
    )
    p.add_argument("--file", help="score this whole text file instead of a corpus's split")
    add_config_flags(p, EvalSettings, ("stride", "batch_size"))
    p.add_argument(
        "--pairs",
        help="encoder-decoder: held-out pairs, one a line, source TAB target; the share "
        "written exactly right by greedy decoding is the score",
    )
    p.add_argument(
        "--prompts",
        help="chat model: held-out conversations (.json/.jsonl, as attento sft reads) whose "
        "first prompts are answered (default: those its SFT run held out)",
    )
    add_config_flags(p, EvalSettings, ("max_new_tokens",))
    add_json_flag(p)
    p.set_defaults(func=run_eval)

    r = sub.add_parser(
        "report",
        help="print a training run's report card (report.md), writing it if missing",
        description="Print RUN/report.md: settings, data, size, tokens seen, time, MFU, the "
        "loss curve, the whole held-out split's score and seeded samples. attento train writes "
        "it at the end of a run; for an older run it is written now.",
    )
    r.add_argument("run", help="a run folder written by attento train")
    r.add_argument("--refresh", action="store_true", help="write the card again first")
    r.set_defaults(func=run_report)


def training_corpus(model: str) -> str | None:
    """The corpus a model folder (or its run folder) or a bundled model was trained on."""
    from attento.train.checkpoint import CONFIG_FILE, read_train_config
    from attento.train.config import PRESETS, preset

    path = Path(model)
    for folder in (path, path.parent):
        if (folder / CONFIG_FILE).is_file():
            return read_train_config(folder).corpus
    if not path.exists() and model in PRESETS:
        return preset(model).corpus
    return None


def run_eval(args: argparse.Namespace) -> int:
    from attento.data.corpus import load_corpus, read_text_file
    from attento.models.folder import load_model
    from attento.train.evaluate import EvalSettings, clm_score, mlm_score, validation_split

    # checked before anything loads; the scoring functions below take the values one by one
    config_from_args(EvalSettings, args, ("batch_size", "stride", "max_new_tokens"))
    if args.file and args.corpus:
        raise UserError("give --corpus or --file, not both")
    model, tokenizer = load_model(args.model)
    if tokenizer is None:
        raise UserError(f"{args.model} was saved without a tokenizer: it cannot read text")
    arch = getattr(model, "arch", "gpt")
    if arch == "seq2seq" or args.pairs:
        return eval_pairs(args, model, tokenizer, arch)
    if args.prompts or (not args.file and not args.corpus and trained_by_sft(args.model)):
        return eval_chat(args, model, tokenizer)
    if args.file:
        text, source = read_text_file(Path(args.file)), args.file
        tokens = tokenizer.encode(text)
        split = "whole file"
    else:
        corpus = args.corpus or training_corpus(args.model)
        if corpus is None:
            raise UserError(f"{args.model} does not say what it was trained on: give --corpus")
        text, source = load_corpus(corpus), corpus
        tokens = validation_split(tokenizer.encode(text)).tolist()
        split = "last 10% (as in training)"
    if arch == "bert":
        score = mlm_score(model, tokens, tokenizer, batch_size=args.batch_size, progress=True)
    elif hasattr(model.config, "block_size") and arch != "seq2seq":
        score = clm_score(
            model, tokens, tokenizer, stride=args.stride, batch_size=args.batch_size, progress=True
        )
    else:
        raise UserError(f"attento eval scores language models; {args.model} is a {arch!r} model")
    result = {"model": args.model, "text": source, "split": split, **score.to_dict()}
    if args.json:
        print_json(result)
        return 0
    print(f"{args.model} on {source} ({split}): {score.tokens:,} tokens scored")
    print(f"  loss            {score.loss:.4f} nats/token")
    print(f"  perplexity      {score.perplexity:.2f}")
    if score.bits_per_char is not None:
        print(f"  bits per char   {score.bits_per_char:.4f}  ({score.chars:,} characters)")
    if score.bits_per_byte is not None:
        print(f"  bits per byte   {score.bits_per_byte:.4f}  ({score.bytes:,} bytes)")
    if score.top1 is not None:
        print(f"  top-1 / top-5   {score.top1:.1%} / {score.top5:.1%} of masked tokens")
    return 0


def trained_by_sft(model: str) -> bool:
    """Whether the model folder (or its run folder) was written by attento sft."""
    from attento.train.checkpoint import CONFIG_FILE, read_train_config

    path = Path(model)
    for folder in (path, path.parent):
        if (folder / CONFIG_FILE).is_file():
            return read_train_config(folder).objective == "sft"
    return False


def eval_pairs(args: argparse.Namespace, model, tokenizer, arch: str) -> int:
    from attento.data.pairs import read_pairs
    from attento.train.evaluate import exact_match

    if arch != "seq2seq":
        raise UserError(f"--pairs scores an encoder-decoder; {args.model} is a {arch!r} model")
    if not args.pairs:
        raise UserError(
            f"{args.model} is an encoder-decoder: give --pairs FILE (held-out pairs, one a "
            "line, source TAB target)"
        )
    score = exact_match(
        model, tokenizer, read_pairs(args.pairs), batch_size=args.batch_size, progress=True
    )
    return print_answers(args, args.pairs, "whole file", score, "exact match", "pairs")


def eval_chat(args: argparse.Namespace, model, tokenizer) -> int:
    from attento.align.chat import ChatFormat
    from attento.align.data import load_conversations
    from attento.align.evaluate import first_prompt, format_accuracy, held_out_prompts
    from attento.train.checkpoint import CONFIG_FILE, read_train_config

    chat = ChatFormat.of(tokenizer)
    if args.prompts:
        source, split = args.prompts, "whole file"
        prompts = [first_prompt(c) for c in load_conversations(args.prompts)]
    else:
        path = Path(args.model)
        run = read_train_config(path if (path / CONFIG_FILE).is_file() else path.parent)
        source, split = run.corpus, f"held out by the SFT run (seed {run.seed})"
        conversations = load_conversations(run.corpus)
        prompts = held_out_prompts(chat, conversations, model.config.block_size, run.seed)
    score = format_accuracy(model, chat, prompts, args.max_new_tokens)
    return print_answers(args, source, split, score, "format accuracy", "prompts")


def print_answers(args, source: str, split: str, score, what: str, items: str) -> int:
    if args.json:
        print_json({"model": args.model, "text": source, "split": split, **score.to_dict()})
        return 0
    print(f"{args.model} on {source} ({split}): {score.answers:,} {items}")
    print(f"  {what:<15} {score.accuracy:.1%} ({score.right:,} of {score.answers:,})")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from attento.train.checkpoint import has_checkpoint
    from attento.train.report import REPORT_FILE, write_report

    run = Path(args.run)
    if not has_checkpoint(run):
        raise UserError(f"{run} is not a training run folder (no checkpoint of attento train)")
    if args.refresh or not (run / REPORT_FILE).is_file():
        write_report(run)
    print((run / REPORT_FILE).read_text(encoding="utf-8"), end="")
    return 0
