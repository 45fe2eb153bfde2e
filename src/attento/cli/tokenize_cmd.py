"""`attento tokenize` and `attento train-tokenizer`."""

from __future__ import annotations

import argparse
from pathlib import Path

from attento.cli.common import (
    add_config_flags,
    add_json_flag,
    check_out_folder,
    config_from_args,
    print_json,
    read_text_arg,
    use_color,
)
from attento.errors import UserError
from attento.files import atomic_folder, check_replaceable
from attento.messages import add_lang_flag, language, message, user_error
from attento.tokenize import PRETRAINED, Tokenizer, load_tokenizer

# background colours cycled over tokens, as the OpenAI tokenizer page does
_BACKGROUNDS = [
    "48;5;153",
    "48;5;187",
    "48;5;217",
    "48;5;151",
    "48;5;223",
    "48;5;183",
]


def register(sub: argparse._SubParsersAction) -> None:
    from attento.tokenize.bpe import PATTERNS, TRAINERS, BPESettings

    p = sub.add_parser(
        "tokenize",
        help="split text into tokens and show their ids",
        description="Split TEXT into tokens, coloured one by one, with their ids below.",
    )
    p.add_argument("text", metavar="TEXT", help="the text to tokenize, or - to read stdin")
    p.add_argument(
        "--tokenizer",
        default="cl100k_base",
        help="cl100k_base, o200k_base, a bundled model's name (dante, shakespeare), or a saved "
        "tokenizer folder/file (default: %(default)s)",
    )
    add_lang_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run_tokenize)

    t = sub.add_parser(
        "train-tokenizer",
        help="train a byte-level BPE tokenizer on a corpus",
        description="Learn BPE merges on a corpus and save the tokenizer to a folder.",
    )
    t.add_argument(
        "--corpus", required=True, help="tinyshakespeare, divina_commedia or a text file"
    )
    t.add_argument("--vocab-size", type=int, required=True, help="final vocabulary size (>= 257)")
    t.add_argument("--out", required=True, help="folder to write the tokenizer into")
    add_config_flags(
        t,
        BPESettings,
        ("pattern", "trainer"),
        choices={"pattern": tuple(PATTERNS), "trainer": TRAINERS},
    )
    t.add_argument(
        "--force", action="store_true", help="replace what --out holds (by default refused)"
    )
    add_json_flag(t)
    t.set_defaults(func=run_train_tokenizer)


def run_tokenize(args: argparse.Namespace) -> int:
    text = read_text_arg(args.text)
    tok = open_tokenizer(args.tokenizer)
    ids = tok.encode(text)
    tokens = [tok.token_str(i) for i in ids]
    if args.json:
        print_json({"ids": ids, "tokens": tokens})
        return 0
    color = use_color()
    pieces = []
    for n, piece in enumerate(tokens):
        shown = piece.replace("\n", "\u21b5\n")
        pieces.append(
            f"\x1b[{_BACKGROUNDS[n % len(_BACKGROUNDS)]};30m{shown}\x1b[0m"
            if color
            else f"[{shown}]"
        )
    print("".join(pieces))
    print(ids)
    lang = language(args.lang)
    count = message("tokens.count", lang, n=len(ids))
    print(message("tokenize.summary", lang, chars=len(text), count=count, tokenizer=args.tokenizer))
    return 0


def open_tokenizer(spec: str) -> Tokenizer:
    """`load_tokenizer`'s names and paths, and also a bundled model's name: its tokenizer."""
    if spec in PRETRAINED or Path(spec).exists():
        return load_tokenizer(spec)
    from attento.models.folder import BUNDLED, resolve

    try:
        folder = resolve(spec)
    except UserError:
        bundled = sorted(p.name for p in BUNDLED.iterdir() if p.is_dir())
        raise user_error(
            "tokenizer_not_found", spec=spec, pretrained=list(PRETRAINED), bundled=bundled
        ) from None
    return load_tokenizer(folder)


def check_tokenizer_out(out: str, force: bool) -> Path:
    """--out is written whole (a new folder swapped in), so anything there, a model above all,
    whose ids a new tokenizer would no longer match, is replaced only with --force."""
    from attento.models.folder import CONFIG

    path = check_out_folder(out)
    if not force and (path / CONFIG).is_file():
        raise user_error("tokenizer_out_holds_model", out=out)
    check_replaceable(path, force)
    return path


def run_train_tokenizer(args: argparse.Namespace) -> int:
    from attento.data import load_corpus
    from attento.tokenize.bpe import BPESettings, train_bpe

    settings = config_from_args(BPESettings, args, ("vocab_size", "pattern", "trainer"))
    out = check_tokenizer_out(args.out, args.force)
    text = load_corpus(args.corpus)
    tok = train_bpe(text, **settings.to_dict(), progress=True)
    with atomic_folder(out, replace=args.force) as tmp:
        tok.save(tmp)
    ids = tok.encode(text)
    summary = {
        "out": str(args.out),
        "vocab_size": tok.vocab_size,
        "corpus_bytes": len(text.encode("utf-8")),
        "tokens": len(ids),
        "bytes_per_token": round(len(text.encode("utf-8")) / len(ids), 3),
    }
    if args.json:
        print_json(summary)
    else:
        trained = dict(vocab=tok.vocab_size, out=args.out, bpt=summary["bytes_per_token"])
        print(message("tokenize.trained", language(), **trained))
    return 0
