"""Find a named file offline first, download it (once, checked) otherwise.

Below every stage that reads a named asset (data/ for corpora, tokenize/ for rank tables).

Lookup order for every named asset (corpora, tokenizer tables):
1. `$ATTENTO_DATA/<filename>`: a local folder, for machines without internet;
2. the user cache (`$ATTENTO_CACHE`, else `$XDG_CACHE_HOME/attento`, else `~/.cache/attento`);
3. a download from the canonical public URL into the cache, verified by sha256 and
   written atomically so an interrupted download never leaves a half file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

from attento.errors import UserError


def cache_dir() -> Path:
    """The folder where downloads are kept."""
    if env := os.environ.get("ATTENTO_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "attento"


def data_dir() -> Path | None:
    """The offline folder named by `$ATTENTO_DATA`, if any."""
    env = os.environ.get("ATTENTO_DATA")
    return Path(env) if env else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(filename: str, url: str, sha256: str) -> Path:
    """Return a local path to `filename`, downloading it into the cache if needed."""
    offline = data_dir()
    if offline is not None and (offline / filename).is_file():
        return offline / filename
    cached = cache_dir() / filename
    if cached.is_file() and sha256_of(cached) == sha256:
        return cached
    if os.environ.get("ATTENTO_OFFLINE"):
        raise UserError(_offline_hint(filename, url))
    try:
        _download(url, cached, sha256)
    except OSError as exc:
        raise UserError(
            f"could not download {filename} ({exc}). {_offline_hint(filename, url)}"
        ) from None
    return cached


def _download(url: str, dest: Path, sha256: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while block := response.read(1 << 20):
                out.write(block)
        got = sha256_of(Path(tmp))
        if got != sha256:
            raise OSError(f"checksum mismatch: expected {sha256}, got {got}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _offline_hint(filename: str, url: str) -> str:
    return (
        f"to work offline, download {url} on a machine with internet and put it at "
        f"$ATTENTO_DATA/{filename} (ATTENTO_DATA is a folder you choose)"
    )
