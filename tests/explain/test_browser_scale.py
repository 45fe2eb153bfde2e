"""End-to-end at real-model scale: the page on a random model of GPT-2 small's shape (12 blocks x
12 heads x 768, a 50,257-token vocabulary, 1024 context) in headless Chromium.

The page opens on the overview, opens a block (its numbers come with /api/block), hovers a cell
of the attention weights (the tooltip then shows the exact float32 from /api/cell, checked
against the model's own trace), searches a token in the final step (/api/vocab) and moves a
slider: the token's probability equals attento.generate's for the whole 50k vocabulary, and
nothing on the page throws. About a minute on the 2-CPU shared machine (most of it building,
saving and loading the 124M-parameter model).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from attento.explain.catalog import Catalog
from attento.explain.server import create_app
from attento.explain.traces import record
from attento.generate import filter_logits, probabilities
from attento.models import GPT, GPTConfig
from attento.models.folder import save_model
from attento.tokenize import CharTokenizer

from .conftest import ARGS, CHROMIUM, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]

GPT2_SMALL = dict(
    vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768, activation="gelu_tanh"
)
PROMPT = "the cat sat on the mat and looked at the door"


def gpt2_shaped(directory: Path) -> Path:
    """Random weights of GPT-2 small's shape; a table of 50,257 one-character tokens (the
    printable ASCII characters first, so that a typed prompt encodes)."""
    torch.manual_seed(0)
    ascii_chars = [chr(c) for c in range(32, 127)]
    rest = [chr(0x100 + i) for i in range(GPT2_SMALL["vocab_size"] - len(ascii_chars))]
    tokenizer = CharTokenizer(ascii_chars + rest)
    model = GPT(GPTConfig(**GPT2_SMALL)).eval()
    return save_model(model, tokenizer, directory / "gpt2-shape", extra={"prompt": PROMPT})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = gpt2_shaped(tmp_path_factory.mktemp("scale"))
    catalog = Catalog.discover(str(path), bundled_dir=path.parent / "none")
    with serving(create_app(catalog), timeout=60) as port:
        yield f"http://127.0.0.1:{port}/", catalog


def test_a_gpt2_sized_model_opens_a_block_hovers_exact_and_searches_a_token(served):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, catalog = served
    model, tokenizer = catalog.load(catalog.default)
    ids = tokenizer.encode(PROMPT)
    rec = record(model, ids)  # the model's own numbers, traced here independently
    errors: list[str] = []
    sizes: dict[str, int] = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(
            viewport={"width": 1200, "height": 900}, locale="en-US"
        ).new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response",
            lambda r: (
                sizes.__setitem__(r.url.rsplit("/", 1)[-1], len(r.body()))
                if "/api/" in r.url
                else None
            ),
        )
        page.goto(url)
        idle = "() => document.body.dataset.busy === '0' && window.attento.trace !== null"
        page.wait_for_function(idle, timeout=120_000)
        facts = page.locator("#facts").inner_text()
        for fact in ("12", "768", "50,257", "1024"):
            assert fact in facts, facts
        picker = page.locator("#model option:checked").inner_text()
        for fact in ("12 blocks × 12 heads × 768", "50,257", "context 1024"):
            assert fact in picker, picker
        assert page.locator("#v-blocks details.block").count() == 12
        assert sizes["trace"] < 1_000_000  # the overview, as sent

        # the first block opens with the page; open block 6 too: its numbers come on demand
        block = page.locator('#v-blocks details[data-block="5"]')
        block.locator("summary").click()
        block.locator(".substep.attn canvas").first.wait_for(timeout=60_000)
        assert page.evaluate("window.attento.blocks.size") >= 2

        # hover a cell of the softmax weights: the tooltip ends with the exact float32
        weights = block.locator(".attn-mats figure").nth(2).locator("canvas")
        weights.scroll_into_view_if_needed()
        box = weights.bounding_box()
        page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
        page.wait_for_function(
            "() => document.getElementById('tooltip').textContent.includes('float32')",
            timeout=30_000,
        )
        text = page.locator("#tooltip").inner_text()
        r, c = (int(x) for x in re.findall(r"\((\d+)\)", text)[:2])
        exact = float(page.locator("#tooltip").get_attribute("data-exact"))
        assert exact == float(rec["blocks.5.attn.weights"][0, r, c])  # head 1, bit for bit

        # search a token of the final step, then move the temperature: its probability follows
        page.fill("#vocab-query", "t")
        page.locator("#vocab-form button").click()
        cell = page.locator(f'#vocab-results .vr-p[data-id="{tokenizer.encode("t")[0]}"]').first
        cell.wait_for(timeout=30_000)
        page.evaluate(
            "() => { const s = document.getElementById('temperature'); s.value = '0.5';"
            " s.dispatchEvent(new Event('input')); }"
        )
        page.wait_for_function(
            "() => window.attento.state.settings.temperature === 0.5", timeout=10_000
        )
        got = float(cell.get_attribute("data-p"))
        logits = rec["logits"][-1]
        want = probabilities(filter_logits(logits, 0.5, None, None))[tokenizer.encode("t")[0]]
        assert got == pytest.approx(float(want), rel=1e-5, abs=1e-12)
        browser.close()
    assert not errors, errors


def test_grouped_query_heads_are_shown_in_the_groups_that_share_keys_and_values(
    make_ckpt, tmp_path
):
    """A tiny model with 4 query heads reading 2 key/value heads: the head picker boxes heads
    1-2 and 3-4, K and V name the shared head, the cache shows 2 key/value heads."""
    sync_api = pytest.importorskip("playwright.sync_api")
    path = make_ckpt(tmp_path / "gqa", n_head=4, n_kv_head=2, pos_encoding="rope")
    catalog = Catalog.discover(str(path), bundled_dir=tmp_path / "none")
    errors: list[str] = []
    with serving(create_app(catalog)) as port, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(locale="en-US").new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{port}/")
        block = page.locator('#v-blocks details[data-block="0"]')
        block.locator(".kv-group").first.wait_for(timeout=60_000)
        groups = block.locator(".kv-group")
        assert groups.count() == 2
        assert groups.nth(1).locator("button").all_inner_texts() == ["3", "4"]
        assert "2 key/value heads" in page.locator("#facts").inner_text()
        block.locator('button[data-head="3"]').click()
        titles = block.locator(".substep.attn .heat-title").all_inner_texts()
        assert any("K/V head 2, shared by queries 3–4" in x for x in titles), titles
        browser.close()
    assert not errors, errors
