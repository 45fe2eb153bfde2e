"""Word vectors: `train-words` (word2vec on a corpus), `project` (words on axes defined by
word pairs) and `bias-probe` (occupations on a gender axis)."""

from __future__ import annotations

import argparse
import sys

from attento.cli.common import (
    add_config_flags,
    add_json_flag,
    add_set_flag,
    check_out_folder,
    print_json,
)
from attento.config import with_settings
from attento.messages import add_lang_flag, language, message, user_error

# the flags of train-words, by field of Word2VecSettings; each given one changes the recipe
WORD2VEC_FLAGS = {
    "dim": "--dim",
    "window": "--window",
    "negatives": "--negatives",
    "min_count": "--min-count",
    "epochs": "--epochs",
    "max_words": "--max-words",
    "seed": "--seed",
    "sample": "--sample",
    "learning_rate": "--lr",
}


def register(sub: argparse._SubParsersAction) -> None:
    from attento.embeddings.word2vec import PRESETS, Word2VecSettings

    t = sub.add_parser(
        "train-words",
        help="learn word vectors from a corpus (word2vec: skip-gram, negative sampling)",
        description="Train word2vec on a corpus and save the most frequent words' vectors "
        "(float16 safetensors + vocab.json) to OUT, usable as --model OUT by neighbours, "
        f"analogy, similarity, embed-map and project. --preset {', '.join(PRESETS)} rebuilds "
        "the bundled vectors exactly.",
    )
    t.add_argument("--corpus", default=None, help="corpus name (divina_commedia) or text file")
    t.add_argument("--preset", choices=sorted(PRESETS), default=None, help="a bundled recipe")
    t.add_argument("--out", required=True, help="a new folder for the vectors")
    add_config_flags(
        t,
        Word2VecSettings,
        WORD2VEC_FLAGS,
        flags=WORD2VEC_FLAGS,
        defaults=None,
        default_text="--preset's, else {default}",
    )
    add_set_flag(t, "batch_size=512")
    add_json_flag(t)
    t.set_defaults(func=run_train_words)

    p = sub.add_parser(
        "project",
        help="place words on axes defined by word pairs (e.g. lui:lei, novo:antico)",
        description="Each word's position on each axis A:B (0 at A, 1 at B, 0.5 leaning to "
        "neither); two axes make the course's 2-D projection figure (--out PNG).",
    )
    p.add_argument("words", nargs="+", metavar="WORD")
    p.add_argument("--axis", action="append", required=True, metavar="A:B", help="repeatable")
    p.add_argument("--model", default="dante-words", help="default: %(default)s (see neighbours)")
    p.add_argument("--out", default=None, help="a PNG scatter of the words")
    add_lang_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run_project)

    b = sub.add_parser(
        "bias-probe",
        help="occupation words on a gender axis: the bias vectors learn from text",
        description="Project occupation words onto a gender axis (it: the bundled Dante "
        "vectors, uomo:donna; en: MiniLM, man:woman) and print them, most masculine first.",
    )
    # the vectors' language; the output's follows the locale
    b.add_argument("--lang", dest="probe_lang", choices=("it", "en"), default="it")
    b.add_argument("--model", default=None, help="another embedder (default: the language's)")
    b.add_argument("--axis", default=None, metavar="A:B", help="default: the language's")
    b.add_argument("--words", nargs="+", default=None, metavar="WORD")
    b.add_argument("--neutral", default=None, help="the word leans are measured from")
    add_json_flag(b)
    b.set_defaults(func=run_bias_probe)


def word2vec_recipe(args: argparse.Namespace):
    """(corpus, Word2VecSettings): the preset's (or the defaults), then the flags, then --set."""
    from attento.embeddings.word2vec import PRESETS, Word2VecSettings

    corpus, settings = PRESETS[args.preset] if args.preset else (None, Word2VecSettings())
    corpus = args.corpus or corpus
    if corpus is None:
        raise user_error("words_no_corpus")
    changes = {k: getattr(args, k) for k in WORD2VEC_FLAGS if getattr(args, k) is not None}
    return corpus, with_settings(settings.replace(**changes), args.settings)


def run_train_words(args: argparse.Namespace) -> int:
    from attento.data.corpus import load_corpus
    from attento.embeddings.word2vec import save_vectors, train_word2vec, verses

    out = check_out_folder(args.out)
    if out.exists() and any(out.iterdir()):
        raise user_error("out_not_empty", out=args.out)
    corpus, settings = word2vec_recipe(args)
    text = verses(load_corpus(corpus))
    say = (lambda m: print(m, file=sys.stderr)) if args.json else print
    result = train_word2vec(text, settings, progress=say)
    save_vectors(result, out, corpus=str(corpus))
    summary = {
        "out": str(out),
        "words": len(result.words),
        "tokens": result.n_tokens,
        "final_loss": result.losses[-1],
        "seconds": round(result.seconds, 1),
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"{len(result.words)} word vectors in {out} ({result.seconds:.0f} s); "
            f"try: attento neighbours <word> --model {out}"
        )
    return 0


def run_project(args: argparse.Namespace) -> int:
    from attento.embeddings import load_embedder
    from attento.embeddings.axes import axes_plot, check_words, parse_axis, project_on_axes

    lang = language(args.lang)
    axes = [parse_axis(a) for a in args.axis]
    check_words(args.words)
    result = project_on_axes(args.words, axes, load_embedder(args.model))
    if args.out:
        axes_plot(
            result, args.out, title=message("words.on_axes", lang, model=args.model), lang=lang
        )
    if args.json:
        print_json(result)
        return 0
    width = max(len(p["word"]) for p in result["points"])
    columns = [f"{a}:{b}" for a, b in result["axes"]]
    print(" " * width + "".join(f"  {c:>{max(len(c), 6)}}" for c in columns))
    for p in result["points"]:
        cells = zip(p["coords"], columns, strict=True)
        print(f"{p['word']:<{width}}" + "".join(f"  {x:>{max(len(c), 6)}.3f}" for x, c in cells))
    if args.out:
        print(message("words.scatter_saved", lang, out=args.out))
    return 0


def run_bias_probe(args: argparse.Namespace) -> int:
    from attento.embeddings import load_embedder
    from attento.embeddings.axes import bias_probe, parse_axis

    axis = parse_axis(args.axis) if args.axis else None
    embedder = load_embedder(args.model) if args.model else None
    result = bias_probe(args.probe_lang, embedder, args.words, axis, args.neutral)
    if args.json:
        print_json(result)
        return 0
    a, b = result["axis"]
    neutral = result["neutral"]
    where = dict(neutral=neutral["word"], position=f"{neutral['position']:.3f}")
    print(message("words.bias_header", language(), model=result["model"], a=a, b=b, **where))
    width = max(len(r["word"]) for r in result["rows"])
    for r in result["rows"]:
        bar = "#" * round(abs(r["lean"]) * 40)
        side = b if r["lean"] > 0 else a
        print(f"  {r['word']:<{width}}  {r['position']:.3f}  {r['lean']:+.3f} {bar} {side}")
    return 0
