"""End-to-end: the real page in headless Chromium against a live server.

Skipped when /usr/bin/chromium is missing; Playwright never downloads a browser here. The
screenshot test photographs each view of the bundled dante model (or of the checkpoint folder
named by ATTENTO_EXPLAIN_SHOTS); with ATTENTO_WRITE_SCREENSHOTS=1 (`make screenshots`) the
pictures replace docs/img/explainer-*.png, otherwise they go to a temporary folder so that a
test run leaves the working tree as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from playwright.sync_api import Error as PlaywrightError

from attento.explain.catalog import BUNDLED_DIR, Catalog, Entry
from attento.explain.server import create_app
from attento.generate import filter_logits, generate, probabilities

from .conftest import CHROMIUM, serving

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
SHOTS_DIR = Path(os.environ.get("ATTENTO_EXPLAIN_SHOTS", BUNDLED_DIR / "dante"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(models_dir, make_ckpt, tmp_path_factory):
    catalog = Catalog.discover("tiny", models_dir)
    sinusoidal = make_ckpt(tmp_path_factory.mktemp("sin") / "tiny-sin", pos_encoding="sinusoidal")
    catalog = Catalog(
        [*catalog.entries.values(), Entry("tiny-sin", sinusoidal, "command line")], "tiny"
    )
    if SHOTS_DIR.is_dir() and SHOTS_DIR.name not in catalog.entries:
        extra = Entry(SHOTS_DIR.name, SHOTS_DIR.resolve(), "command line")
        catalog = Catalog([*catalog.entries.values(), extra], "tiny")
    with serving(create_app(catalog)) as port:
        yield f"http://127.0.0.1:{port}/", catalog


@pytest.fixture
def page(browser, server):
    url, _ = server
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    wait_idle(pg)
    yield pg
    context.close()
    assert not errors, errors


def wait_idle(pg, tokens: int | None = None) -> None:
    cond = "document.body.dataset.busy === '0' && window.attento.trace !== null"
    if tokens is not None:
        cond += f" && window.attento.trace.tokens.length === {tokens}"
    # a function, not an expression: Playwright evaluates a string with eval, which the
    # server's Content-Security-Policy forbids
    pg.wait_for_function(f"() => {cond}", timeout=30_000)
    pg.wait_for_selector("#v-final .p-bar")


def bar_probs(pg) -> list[float]:
    return [
        float(x)
        for x in pg.locator("#probs .p-value[data-p]").evaluate_all(
            "els => els.map(e => e.dataset.p)"
        )
    ]


def library_probs(catalog, ids, temperature=1.0, top_k=None, top_p=None):
    model, _ = catalog.load("tiny")
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0, -1]
    return probabilities(filter_logits(logits, temperature, top_k, top_p))


def test_page_draws_every_view_from_input_to_output(page, server):
    _, catalog = server
    _, tok = catalog.load("tiny")
    ids = tok.encode("Nel mezzo del cammin")
    assert page.locator("#v-tokens .tok").count() == len(ids)
    assert page.locator("#v-tokens .tok-id").all_inner_texts() == [str(i) for i in ids]
    assert page.locator("#v-embed canvas").count() == 3
    assert page.locator("#v-blocks details.block").count() == 2
    assert page.locator("#v-blocks details[open] canvas").count() >= 10
    assert page.locator("#v-stack .stack-row").count() == 1 + 1 + 2 * 2
    assert "decoder-only" in page.locator("#facts").inner_text()


def test_token_vectors_beside_sinusoids_say_they_are_scaled(page):
    assert page.locator("#v-embed .note").count() == 0  # learned positions: no scale
    page.select_option("#model", "tiny-sin")
    page.wait_for_function(
        "() => window.attento.trace && window.attento.trace.embed.tok_scale !== 1"
    )
    wait_idle(page)
    assert "√d = 5.657" in page.locator("#v-embed .note").inner_text()  # √32, n_embd of tiny
    assert page.locator("#v-embed canvas").count() == 3


def test_typing_a_prompt_traces_it(page, server):
    _, catalog = server
    _, tok = catalog.load("tiny")
    page.fill("#prompt", "la diritta via")
    page.press("#prompt", "Enter")
    wait_idle(page, tokens=len(tok.encode("la diritta via")))
    shown = "".join(page.locator("#v-tokens .tok-text").all_inner_texts())
    assert shown == "la␣diritta␣via"


def test_sliders_move_the_bars_client_side_and_match_the_library(page, server):
    _, catalog = server
    _, tok = catalog.load("tiny")
    ids = tok.encode("Nel mezzo del cammin")
    before = bar_probs(page)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.focus("#temperature")
    for _ in range(5):  # keyboard-accessible: 1.00 -> 1.25
        page.keyboard.press("ArrowRight")
    assert page.locator("#temperature-out").inner_text() == "1.25"
    after = bar_probs(page)
    assert after != before
    assert not [u for u in requests if "/api/" in u]  # no round trip
    probs = page.evaluate("Array.from(window.attento.currentProbs)")
    assert sum(probs) == pytest.approx(1, abs=1e-9)
    expected = library_probs(catalog, ids, temperature=1.25)
    torch.testing.assert_close(
        torch.tensor(probs, dtype=torch.float32), expected, atol=1e-6, rtol=1e-5
    )

    for sel, value in [("#top-k", "5"), ("#top-p", "0.6")]:
        page.locator(sel).evaluate(
            "(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }", value
        )
    probs = page.evaluate("Array.from(window.attento.currentProbs)")
    expected = library_probs(catalog, ids, temperature=1.25, top_k=5, top_p=0.6)
    assert [p > 0 for p in probs] == (expected > 0).tolist()
    torch.testing.assert_close(
        torch.tensor(probs, dtype=torch.float32), expected, atol=1e-6, rtol=1e-5
    )
    shown = bar_probs(page)
    rest = float(page.locator("#probs .p-value.rest").inner_text().rstrip("%") or 0)
    assert sum(shown) == pytest.approx(1, abs=1e-9) and rest == 0
    assert page.locator("#probs .p-label.excluded").count() == 15 - int((expected > 0).sum())


def test_seeded_die_appends_what_generate_writes(page, server):
    _, catalog = server
    model, tok = catalog.load("tiny")
    prompt = tok.encode("Nel mezzo del cammin")
    expected = generate(model, torch.tensor([prompt]), 2, seed=42)[0].tolist()
    page.fill("#seed", "42")
    page.dispatch_event("#seed", "change")
    page.click("#roll")
    wait_idle(page, tokens=len(prompt) + 1)
    assert page.evaluate("window.attento.state.ids") == expected[:-1]
    assert page.locator("#v-cache canvas").count() >= 3
    assert f"{len(prompt)} " in page.locator("#v-cache .cache-stats").inner_text()
    page.click("#roll")
    wait_idle(page, tokens=len(prompt) + 2)
    assert page.evaluate("window.attento.state.ids") == expected
    assert page.locator("#v-gen .tok.generated").count() == 2
    page.click("#step-back")
    wait_idle(page, tokens=len(prompt) + 1)
    assert page.evaluate("window.attento.state.ids") == expected[:-1]


def test_run_on_mode_generates_n_tokens(page, server):
    _, catalog = server
    model, tok = catalog.load("tiny")
    prompt = tok.encode("Nel mezzo del cammin")
    page.fill("#seed", "5")
    page.dispatch_event("#seed", "change")
    page.fill("#run-count", "3")
    page.dispatch_event("#run-count", "change")
    page.click("#run")
    page.wait_for_function(
        f"() => window.attento.state.ids.length === {len(prompt) + 3}"
        " && !window.attento.state.running",
        timeout=30_000,
    )
    wait_idle(page, tokens=len(prompt) + 3)
    expected = generate(model, torch.tensor([prompt]), 3, seed=5)[0].tolist()
    assert page.evaluate("window.attento.state.ids") == expected


def test_language_toggle_and_tour(page):
    assert page.locator("h1").inner_text() == "Inside a generative model, step by step"
    page.click("#lang")
    assert page.locator("h1").inner_text() == "Dentro un modello generativo, passo per passo"
    assert "Tokenizzazione" in page.locator("#s-tokens h2").inner_text()
    assert page.evaluate("localStorage.getItem('attento.lang')") == "it"
    page.click("#lang")
    assert "Tokenization" in page.locator("#s-tokens h2").inner_text()
    page.click("#tour-start")
    assert page.locator("#tour").is_visible()
    assert page.locator("#s-prompt.tour-focus").count() == 1
    page.click("#tour-next")
    assert page.locator("#s-tokens.tour-focus").count() == 1
    page.keyboard.press("Escape")
    assert page.locator("#tour").is_hidden()


@pytest.mark.skipif(not SHOTS_DIR.is_dir(), reason="dante is not bundled yet")
def shoot(pg, selector: str, path: Path) -> None:
    """Screenshot one view. Scrolling it into view may bring a lazy section (the heads grid)
    on screen, whose arrival redraws the page around it: then wait and take it again."""
    for attempt in range(3):
        try:
            pg.locator(selector).first.screenshot(path=str(path))
            return
        except PlaywrightError as e:
            if "not attached" not in str(e) or attempt == 2:
                raise
            wait_idle(pg)


def test_screenshots_of_each_view_with_dante(browser, server, tmp_path):
    url, _ = server
    img = IMG if os.environ.get("ATTENTO_WRITE_SCREENSHOTS") == "1" else tmp_path
    img.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="it-IT")
    pg = context.new_page()
    pg.goto(url)
    wait_idle(pg)
    name = SHOTS_DIR.name
    pg.select_option("#model", name)
    pg.wait_for_function(f"() => window.attento.facts && window.attento.facts.name === {name!r}")
    wait_idle(pg)
    assert pg.locator("h1").inner_text().startswith("Dentro")  # Italian: it-IT or dante
    pg.add_style_tag(content=".topbar { position: static; }")
    pg.fill("#seed", "1")
    pg.dispatch_event("#seed", "change")
    pg.click("#roll")
    pg.wait_for_selector("#v-cache canvas")
    wait_idle(pg)
    pg.locator("#s-heads").scroll_into_view_if_needed()  # the grid loads when seen
    pg.wait_for_selector("#v-heads .head-grid")
    pg.wait_for_timeout(400)
    shots = {
        "prompt": "#s-prompt",
        "tokens": "#s-tokens",
        "embeddings": "#s-embed",
        "attention": "#v-blocks details[open] .substep.attn",
        "ffn": "#v-blocks details[open] .substep.ffn",
        "heads": "#s-heads",
        "stack": "#s-stack",
        "lens": "#lens",
        "final": "#s-final",
        "generate": "#s-gen",
        "kv-cache": "#s-cache",
    }
    for view, selector in shots.items():
        path = img / f"explainer-{view}.png"
        shoot(pg, selector, path)
        assert path.stat().st_size < 300_000, (view, path.stat().st_size)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="it-IT")
    mobile = phone.new_page()
    mobile.goto(url)
    wait_idle(mobile)
    mobile.select_option("#model", name)
    mobile.wait_for_function(
        f"() => window.attento.facts && window.attento.facts.name === {name!r}"
    )
    wait_idle(mobile)
    mobile.add_style_tag(content=".topbar { position: static; }")  # not stitched in mid-shot
    mobile.locator("#s-final").screenshot(path=str(img / "explainer-phone-final.png"))
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    phone.close()
    context.close()
