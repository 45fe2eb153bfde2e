"""The KV-cache view's memory figures in Chromium equal kv_memory's in Python (MHA, GQA and a
sliding window), in English and Italian."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from attento.explain.catalog import Catalog, Entry
from attento.explain.server import create_app
from attento.models.kv_memory import CacheShape, human_bytes

from .conftest import CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def url(models_dir, make_ckpt, tmp_path_factory):
    import uvicorn

    root = tmp_path_factory.mktemp("kv")
    gqa = make_ckpt(root / "tiny-gqa", n_head=4, n_kv_head=1, pos_encoding="rope")
    window = make_ckpt(root / "tiny-window", n_head=4, n_kv_head=2, sliding_window=16)
    entries = [Entry("tiny", models_dir / "tiny", "models-dir")]
    entries += [
        Entry("tiny-gqa", gqa, "command line"),
        Entry("tiny-window", window, "command line"),
    ]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    app = create_app(Catalog(entries, "tiny"))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/", {"tiny": None, "tiny-gqa": gqa, "tiny-window": window}
    srv.should_exit = True
    thread.join(timeout=10)


def idle(pg) -> None:
    pg.wait_for_function(
        "() => document.body.dataset.busy === '0' && window.attento.trace !== null"
        " && !window.attento.state.rolling"
    )


def shown_memory(pg) -> dict[str, tuple[int, str]]:
    """{key: (bytes, text)} of every cell of the memory table."""
    cells = pg.locator("#v-cache .kv-memory td").evaluate_all(
        "els => els.map(e => [e.dataset.key, e.dataset.bytes, e.textContent])"
    )
    return {key: (int(n), text) for key, n, text in cells}


@pytest.mark.parametrize(
    ("name", "locale", "words"),
    [
        ("tiny", "en-US", "up to 2× smaller"),  # MHA, 2 heads
        ("tiny-gqa", "en-US", "4× smaller"),  # MQA: 4 query heads share 1
        ("tiny-window", "it-IT", "Finestra scorrevole di 16 token"),  # GQA 2:1 and a window
    ],
)
def test_memory_figures_are_kv_memory_s(browser, url, models_dir, name, locale, words):
    from attento.models.folder import load_model

    address, folders = url
    model, tok = load_model(folders[name] or models_dir / "tiny")
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale=locale)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(address)
    idle(pg)
    pg.select_option("#model", name)
    pg.wait_for_function("([n]) => window.attento.facts?.name === n", arg=[name])
    idle(pg)
    prompt = "Nel mezzo del cammin di nostra vita"
    pg.fill("#prompt", prompt)
    pg.press("#prompt", "Enter")
    idle(pg)
    pg.click("#roll")
    pg.wait_for_selector("#v-cache .kv-memory")
    tokens = len(tok.encode(prompt)) + 1  # the prompt and the token the die drew
    memory = CacheShape.from_config(model.config).memory(tokens, 4)
    shown = shown_memory(pg)
    rows = ["bytes_per_token", "bytes", "bytes_full"]
    if memory["n_kv_head"] < memory["n_head"]:  # GQA/MQA: the MHA row beside it
        rows += [f"mha_{key}" for key in rows]
    assert sorted(shown) == sorted(rows)
    for key, (n, text) in shown.items():
        assert (n, text) == (memory[key], human_bytes(memory[key])), key
    header = pg.locator("#v-cache .kv-memory thead").inner_text()
    assert str(tokens) in header and str(model.config.block_size) in header
    part = pg.locator("#v-cache .kv-memory-part").inner_text()
    assert words in part and human_bytes(memory["bytes_per_token"]) in part
    if model.config.sliding_window:  # 36 tokens, 48 at full context: both past the window
        assert memory["bytes"] == memory["bytes_full"] == memory["bytes_per_token"] * 16
    context.close()
    assert not errors, errors
