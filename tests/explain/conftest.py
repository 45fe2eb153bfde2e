"""Tiny checkpoints (random weights, character tokenizers) for the explainer's tests, a live
server on a free port, and the browser the page tests drive."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from attento.explain.catalog import Catalog
from attento.models import GPT, GPTConfig
from attento.models.folder import load_model, save_model
from attento.models.seq2seq import Seq2Seq, Seq2SeqConfig
from attento.tokenize import CharTokenizer

TEXT = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura, ché la diritta via era smarrita."


def make_checkpoint(directory: Path, **overrides) -> Path:
    torch.manual_seed(0)
    tok = CharTokenizer.from_text(TEXT)
    settings = dict(vocab_size=tok.vocab_size, block_size=48, n_layer=2, n_head=2, n_embd=32)
    model = GPT(GPTConfig(**{**settings, **overrides})).eval()
    # larger weights than the GPT-2 init, so the distribution is far from uniform
    with torch.no_grad():
        model.embed.tok.weight.mul_(25)
    return save_model(model, tok, directory)


def make_seq2seq_checkpoint(directory: Path, **overrides) -> Path:
    """A random encoder–decoder over digits and letters; pad, BOS, EOS are ids 0, 1, 2."""
    torch.manual_seed(0)
    tok = CharTokenizer.from_text("\x00\x01\x02" + "0123456789" + "abcdefghilmnopqrstuvz")
    settings = dict(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16)
    model = Seq2Seq(Seq2SeqConfig(**{**settings, **overrides})).eval()
    return save_model(model, tok, directory, extra={"prompt": "347"})


@pytest.fixture(scope="session")
def make_ckpt():
    """make_ckpt(directory, **GPTConfig overrides) -> a saved tiny checkpoint folder."""
    return make_checkpoint


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    make_checkpoint(root / "tiny")
    make_checkpoint(root / "tiny-rope", pos_encoding="rope", norm="rmsnorm", activation="swiglu")
    return root


@pytest.fixture(scope="session")
def catalog(models_dir) -> Catalog:
    return Catalog.discover("tiny", models_dir, bundled_dir=models_dir / "no-bundled")


@pytest.fixture(scope="session")
def tiny(models_dir):
    """(model, tokenizer) of the tiny checkpoint, loaded independently of the server."""
    return load_model(models_dir / "tiny")


# Token spellings that are live markup if a view puts token text into innerHTML. The ones
# without spaces survive the page's showToken (␣ for a space) intact; .xss elements show an
# injection even where a Content-Security-Policy blocks the inline handlers.
HOSTILE_TOKENS = (
    '<img src=x onerror="window.__xss=1">',
    '<img/src="x"/onerror="window.__xss=2">',
    '<svg/onload="window.__xss=3">',
    '<b/class="xss">',
)
HOSTILE_PROMPT = "".join(HOSTILE_TOKENS) + "ab"


def make_hostile_checkpoint(directory: Path) -> Path:
    """A tiny GPT whose BPE vocabulary holds each of HOSTILE_TOKENS as one token, and whose
    output favours them: every view, the die and the cache show markup-like token text."""
    from attento.tokenize.bpe import BPETokenizer

    ranks = {bytes([b]): b for b in range(256)}
    for token in HOSTILE_TOKENS:  # each prefix a merge, so the whole tag becomes one token
        data = token.encode()
        for k in range(2, len(data) + 1):
            ranks.setdefault(data[:k], len(ranks))
    tok = BPETokenizer(ranks, pattern=r"<[^>]*>|[^<]+")
    assert len(tok.encode(HOSTILE_PROMPT)) == len(HOSTILE_TOKENS) + 2
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=32, tie_weights=False
    )
    model = GPT(config).eval()
    with torch.no_grad():
        # the final hidden state is ~u at every position; only the hostile rows score it
        u = torch.randn(config.n_embd)
        model.ln_f.weight.mul_(0.05)
        model.ln_f.bias.copy_(u)
        model.lm_head.weight.zero_()
        for k, token in enumerate(HOSTILE_TOKENS):
            model.lm_head.weight[ranks[token.encode()]] = u * (0.15 + 0.01 * k)
    return save_model(model, tok, directory, extra={"prompt": HOSTILE_PROMPT})


@pytest.fixture(scope="session")
def hostile(tmp_path_factory) -> SimpleNamespace:
    """A checkpoint whose tokens are markup: .path, .tokens (HOSTILE_TOKENS), .prompt."""
    path = make_hostile_checkpoint(tmp_path_factory.mktemp("hostile") / "hostile")
    return SimpleNamespace(path=path, tokens=HOSTILE_TOKENS, prompt=HOSTILE_PROMPT)


# Debian's chromium, started so that it fetches nothing: the browser tests' one launcher
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def serving(app: Any, timeout: float = 30) -> Iterator[int]:
    """A real uvicorn serving `app` on a free loopback port (yields the port); stopped after."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """One headless chromium per test module (Playwright's own browser is never downloaded)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()
