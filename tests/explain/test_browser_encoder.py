"""End-to-end, in headless Chromium: GPT vs BERT (encoder.html) shows fill_mask's numbers and
a causal map beside a bidirectional one; the training history (history.html) shows, at each
position of its slider, the probabilities of that snapshot loaded here in Python."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlencode

import pytest
import torch

from attento.explain.catalog import BUNDLED_DIR, Catalog, Entry
from attento.explain.server import create_app
from attento.explain.traces import record
from attento.generate import filter_logits, probabilities
from attento.generate.fill_mask import fill_mask
from attento.models.folder import load_model
from attento.train.snapshots import load_snapshot

from .builders import BERT_SENTENCE, HISTORY_STEPS, make_bert, make_history
from .conftest import CHROMIUM, serving

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
SHOT_MODELS = ("dante", "dante-bert", "dante-history")  # bundled: what a fresh clone shows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, make_ckpt, hostile):
    root = tmp_path_factory.mktemp("pages")
    folders = {
        "tiny": make_ckpt(root / "tiny"),
        "bert": make_bert(root / "bert"),
        "history": make_history(root / "history", make_ckpt),
        "hostile": hostile.path,
    }
    entries = [Entry(n, p, "models-dir") for n, p in folders.items()]
    bundled = [Entry(n, BUNDLED_DIR / n, "bundled") for n in SHOT_MODELS]
    catalog = Catalog([*entries, *bundled], "tiny")
    with serving(create_app(catalog)) as port:
        yield f"http://127.0.0.1:{port}/", folders


@pytest.fixture
def open_page(browser):
    contexts, errors = [], []

    def open_(url: str):
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
        contexts.append(context)
        pg = context.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url)
        return pg

    yield open_
    for c in contexts:
        c.close()
    assert not errors, errors


def shown_probs(pg, selector: str) -> dict[int, float]:
    rows = pg.locator(f"{selector} .pb-row").evaluate_all(
        "els => els.map(e => [Number(e.dataset.id), Number(e.dataset.p)])"
    )
    return {i: p for i, p in rows}


def test_the_page_shows_fill_mask_beside_a_causal_map(open_page, server):
    url, folders = server
    query = urlencode({"decoder": "tiny", "encoder": "bert", "text": BERT_SENTENCE})
    pg = open_page(f"{url}encoder.html?{query}")
    pg.wait_for_selector("#v-mask .mask-guess .pb-row")
    assert pg.locator("#v-decoder figure[data-causal='true'] canvas").count() == 1
    assert pg.locator("#v-encoder figure[data-causal='false'] canvas").count() == 1
    model, tok = load_model(folders["bert"])
    guesses = fill_mask(model, tok, BERT_SENTENCE, k=5)
    boxes = pg.locator("#v-mask .mask-guess")
    assert boxes.count() == len(guesses) == 2
    for k, guess in enumerate(guesses):
        shown = shown_probs(pg, f"#v-mask .mask-guess:nth-of-type({k + 1})")
        assert list(shown)[:5] == [g["id"] for g in guess]
        for g in guess:
            assert shown[g["id"]] == pytest.approx(g["prob"], abs=1e-6)
    # GPT reads the words before the first [MASK]: its guess is the tiny GPT's next token
    gpt, gtok = load_model(folders["tiny"])
    ids = gtok.encode("nel mezzo del")
    expected = probabilities(filter_logits(record(gpt, ids)["logits"][-1], 0.5, None, None))
    pg.locator("#temperature").evaluate(
        "(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }", "0.5"
    )
    for i, p in shown_probs(pg, "#v-next").items():
        assert p == pytest.approx(float(expected[i]), abs=1e-6)


def test_moving_the_slider_shows_that_snapshots_probabilities(open_page, server):
    url, folders = server
    prompt = "Nel mezzo del"
    pg = open_page(f"{url}history.html?{urlencode({'model': 'history', 'prompt': prompt})}")
    last = HISTORY_STEPS[-1]
    pg.wait_for_selector(f"#probs-at-step[data-step='{last}'] .pb-row")
    model, tok = load_model(folders["history"])
    ids = tok.encode(prompt)
    for index, step in enumerate(HISTORY_STEPS):
        pg.locator("#step").evaluate(
            "(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }", str(index)
        )
        pg.wait_for_selector(f"#probs-at-step[data-step='{step}'] .pb-row")
        assert pg.locator("#cursor").get_attribute("data-step") == str(step)
        assert pg.locator("#step-out").inner_text() == str(step)
        load_snapshot(model, folders["history"], step)
        expected = torch.softmax(record(model, ids)["logits"][-1].double(), -1)
        shown = shown_probs(pg, "#probs-at-step")
        assert len(shown) == 10
        for i, p in shown.items():
            assert p == pytest.approx(float(expected[i]), abs=1e-6), (step, i)
    assert pg.locator("#v-attn canvas").count() == 1


def test_the_main_page_sends_an_encoder_to_its_own_page(open_page, server, tmp_path):
    url, _ = server
    pg = open_page(url)
    pg.wait_for_function("() => document.body.dataset.busy === '0' && window.attento.trace")
    names = pg.locator("#model option").evaluate_all("els => els.map(e => e.value)")
    assert "bert" not in names and "tiny" in names


def test_markup_in_token_texts_stays_text(open_page, server, hostile):
    url, _ = server
    query = urlencode({"decoder": "hostile", "encoder": "bert", "text": hostile.prompt})
    pg = open_page(f"{url}encoder.html?{query}")
    pg.wait_for_selector("#v-next .pb-row")
    pg.hover("#v-decoder canvas")
    texts = pg.locator("#v-next .p-tok").all_inner_texts()
    assert any("<img" in t for t in texts)  # shown as text
    assert pg.evaluate("() => window.__xss") is None
    assert pg.locator(".xss").count() == 0


def test_screenshots_of_the_bundled_models(open_page, server, tmp_path):
    """encoder.html on dante and dante-bert, history.html on dante-history at its middle
    snapshot; with ATTENTO_WRITE_SCREENSHOTS=1 (make screenshots) into docs/img."""
    url, _ = server
    img = IMG if os.environ.get("ATTENTO_WRITE_SCREENSHOTS") == "1" else tmp_path
    query = urlencode({"decoder": "dante", "encoder": "dante-bert"})
    pg = open_page(f"{url}encoder.html?{query}")
    pg.wait_for_selector("#v-mask .mask-guess .pb-row")
    pg.locator("#s-maps").screenshot(path=str(img / "explainer-gpt-bert.png"))
    pg.locator("#s-guess").screenshot(path=str(img / "explainer-fill-mask.png"))
    pg = open_page(f"{url}history.html?model=dante-history")
    pg.wait_for_selector("#probs-at-step .pb-row")
    pg.locator("#step").evaluate("e => { e.value = 2; e.dispatchEvent(new Event('input')); }")
    pg.wait_for_selector("#probs-at-step[data-step='200'] .pb-row")
    pg.locator("#s-curve").screenshot(path=str(img / "explainer-history-curve.png"))
    pg.locator("#s-at-step").screenshot(path=str(img / "explainer-history-step.png"))
    assert (img / "explainer-history-step.png").stat().st_size > 1000
