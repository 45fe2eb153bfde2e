"""Text corpora: a path, or a known name resolved offline first (see attento/download.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from attento.download import fetch
from attento.errors import UserError


@dataclass(frozen=True)
class CorpusSource:
    filename: str
    url: str
    sha256: str
    description: str


CORPORA: dict[str, CorpusSource] = {
    "tinyshakespeare": CorpusSource(
        "tinyshakespeare.txt",
        "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        "Shakespeare, 1.1 MB of English plays (karpathy/char-rnn)",
    ),
    "divina_commedia": CorpusSource(
        "divina_commedia.txt",
        "https://raw.githubusercontent.com/gmagistr/divina-commedia-nanogpt/8f4e82cbcfeadca0b641bf60970e81ffdae9a3f4/divina_commedia.txt",
        "81f9544d85aff13c525d5f7e5428e628a6acbe60ad749f9df1ccf952f34de4a9",
        "Dante's Divina Commedia, 0.56 MB of Italian verse (Project Gutenberg 1012)",
    ),
}


# Corpora that attento writes itself, from rules: name -> what it holds.
GENERATED = {"numeri": "every number below 10 000 and its Italian spelling (data/numbers.py)"}


def load_corpus(name_or_path: str | Path) -> str:
    """Return the text of a known corpus name or of a UTF-8 text file."""
    key = str(name_or_path)
    if key in GENERATED:  # the one generated corpus: numeri
        from attento.data.numbers import pairs_text

        return pairs_text()
    if key in CORPORA:
        source = CORPORA[key]
        return read_text_file(fetch(source.filename, source.url, source.sha256))
    path = Path(name_or_path)
    if not path.exists():
        known = ", ".join(sorted([*CORPORA, *GENERATED]))
        raise UserError(f"corpus {key!r} is neither a file nor a known name ({known})")
    return read_text_file(path)


def read_text_file(path: Path) -> str:
    """Read a whole UTF-8 file, with one clear error for each way it can be unusable."""
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a text file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    if not data:
        raise UserError(f"{path} is empty")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path} is not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
