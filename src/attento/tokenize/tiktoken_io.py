"""Read and write `.tiktoken` rank files, the format OpenAI ships BPE vocabularies in.

A byte-level BPE vocabulary is a list of byte strings, each with a *rank*: its token id and,
at the same time, its priority when merging (lower rank = learned earlier = merged first).
The file stores one token per line, `base64(token bytes) SPACE rank`, for example

    IQ== 0        the byte b"!" has rank 0
    aGVsbG8= 15339   b"hello"

Base64 keeps the file ASCII even though tokens are arbitrary bytes (often half of a UTF-8
character). A `.tiktoken.gz` file is the same text, gzip-compressed. Special tokens such as
`<|endoftext|>` are not in the file: they live in the tokenizer's config.
"""

from __future__ import annotations

import base64
import binascii
import gzip
from pathlib import Path

from attento.errors import UserError

MAX_ID = 2**32  # ranks and token ids are unsigned 32-bit numbers, as in tiktoken


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def read_ranks(path: str | Path) -> dict[bytes, int]:
    """Load `{token bytes: rank}` from a `.tiktoken` or `.tiktoken.gz` file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"rank file {path} does not exist")
    try:
        data = gzip.decompress(path.read_bytes()) if _is_gzip(path) else path.read_bytes()
    except (OSError, EOFError):  # a gzip error can quote the file's first bytes: not shown
        raise UserError(f"{path} is not a readable .tiktoken file") from None
    ranks: dict[bytes, int] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            token_bytes, value = base64.b64decode(token, validate=True), int(rank)
        except (ValueError, binascii.Error):
            # the line itself is not shown: a rank file could be any file on the machine
            raise UserError(
                f"{path}, line {number}: not a .tiktoken line ('base64-token rank')"
            ) from None
        if not 0 <= value < MAX_ID:
            raise UserError(f"{path}, line {number}: the rank must be in 0..{MAX_ID - 1}")
        ranks[token_bytes] = value
    if len(set(ranks.values())) != len(ranks):
        raise UserError(f"{path} gives the same rank to two different tokens")
    return ranks


def write_ranks(ranks: dict[bytes, int], path: str | Path) -> Path:
    """Write `ranks` sorted by rank; a name ending in `.gz` gets gzip compression."""
    path = Path(path)
    lines = b"".join(
        base64.b64encode(token) + b" " + str(rank).encode() + b"\n"
        for token, rank in sorted(ranks.items(), key=lambda item: item[1])
    )
    # mtime=0 makes the .gz bytes depend only on the ranks, so saved files are reproducible
    path.write_bytes(gzip.compress(lines, mtime=0) if path.name.endswith(".gz") else lines)
    return path
