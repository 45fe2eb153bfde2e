"""The teaching views in the real page (headless Chromium, live server): the logit lens under the
stack, the grid of all heads (readable at 12 x 12 on a GPT-2-shaped Hugging Face folder), PNG
and SVG export, a link that restores the state, presentation mode, and the tour acting."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

from attento.explain.catalog import Catalog, Entry
from attento.explain.lens import lens_view
from attento.explain.server import create_app
from attento.explain.traces import record

from ..conftest import save_tokenizer
from .conftest import CHROMIUM, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def gpt2_12x12(tmp_path_factory):
    """A random GPT2LMHeadModel of 12 blocks x 12 heads saved as a Hugging Face folder."""
    transformers = pytest.importorskip("transformers")
    import torch

    folder = tmp_path_factory.mktemp("gpt2-12x12")
    vocab = save_tokenizer(folder)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=vocab, n_positions=64, n_embd=48, n_layer=12, n_head=12
    )
    transformers.GPT2LMHeadModel(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server(models_dir, gpt2_12x12):
    base = Catalog.discover("tiny", models_dir)
    catalog = Catalog([*base.entries.values(), Entry("gpt2-12x12", gpt2_12x12, "test")], "tiny")
    with serving(create_app(catalog)) as port:
        yield f"http://127.0.0.1:{port}/", catalog


@pytest.fixture
def open_page(browser, server):
    contexts, errors = [], []

    def go(query: str = "", width: int = 1200):
        context = browser.new_context(
            viewport={"width": width, "height": 900}, locale="en-US", accept_downloads=True
        )
        contexts.append(context)
        pg = context.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server[0] + query)
        wait_idle(pg)
        return pg

    yield go
    for c in contexts:
        c.close()
    assert not errors, errors


def wait_idle(pg) -> None:
    pg.wait_for_function(
        "() => document.body.dataset.busy === '0' && window.attento.trace !== null",
        timeout=30_000,
    )
    pg.wait_for_selector("#v-final .p-bar", state="attached")


def show_heads(pg) -> None:
    """Scroll to the grid of all heads: it is fetched when it comes near the screen."""
    pg.locator("#s-heads").scroll_into_view_if_needed()
    pg.wait_for_selector("#v-heads .head-grid")


def test_the_heads_grid_is_fetched_only_when_looked_at(open_page):
    pg = open_page()
    asked: list[str] = []
    pg.on("request", lambda r: asked.append(r.url) if r.url.endswith("/api/heads") else None)
    pg.wait_for_timeout(300)
    assert asked == [] and pg.locator("#v-heads .head-grid").count() == 0
    show_heads(pg)
    assert len(asked) == 1


def test_the_lens_under_the_stack_shows_the_servers_rows(open_page, server):
    pg = open_page()
    pg.wait_for_selector("#lens .lens-grid")
    _, catalog = server
    model, tok = catalog.load("tiny")
    ids = pg.evaluate("() => window.attento.state.ids")
    want = lens_view(model, tok, record(model, ids), len(ids) - 1)
    rows = pg.locator("#lens .lens-row[data-block]")
    assert rows.count() == model.config.n_layer + 1
    shown = [
        float(x) for x in pg.locator("#lens .lens-p").evaluate_all("e => e.map(x => x.dataset.p)")
    ]
    assert shown == pytest.approx([r["target_prob"] for r in want["rows"]], abs=1e-12)
    # the last row's top token is the final step's first bar
    first_bar = pg.locator("#probs .p-label").first.inner_text()
    assert rows.last.locator(".lens-tok .look-tok").first.inner_text() in first_bar
    pg.locator("#v-stack .picker .tok").first.click()
    pg.wait_for_selector('#lens[data-pos="0"] .lens-grid')


def test_all_heads_at_12x12_are_readable_and_open(open_page):
    pg = open_page("?" + urlencode({"model": "gpt2-12x12"}))
    show_heads(pg)
    cells = pg.locator("#v-heads .head-cell")
    assert cells.count() == 144
    boxes = cells.evaluate_all("e => e.map(x => x.getBoundingClientRect().toJSON())")
    main = pg.locator("#s-heads").bounding_box()
    assert min(b["width"] for b in boxes) >= 40  # a map of 12 x 12 heads, each a readable size
    assert max(b["right"] for b in boxes) <= main["x"] + main["width"]  # all 12 fit across
    ranks = pg.locator('#v-heads .head-rank[data-kind="previous"] button')
    assert ranks.count() == 3
    cells.nth(5 * 12 + 7).click()  # block 6, head 8
    opened = pg.locator("#head-open")
    assert opened.get_attribute("data-block") == "5" and opened.get_attribute("data-head") == "7"
    T = len(pg.evaluate("() => window.attento.state.ids"))
    assert pg.locator("#head-open .key-label").count() == T  # key labels on the columns
    bars = pg.locator("#head-bars .head-bar")
    assert bars.count() == T  # the last query reads every token
    total = sum(float(x) for x in bars.evaluate_all("e => e.map(x => x.dataset.w)"))
    assert total == pytest.approx(1, abs=0.02)
    pg.locator('#head-open .head-rows .tok[data-row="2"]').click()
    assert pg.locator("#head-bars .head-bar").count() == 3  # query 3 reads three tokens
    pg.click("#head-in-block")
    pg.wait_for_selector('#v-blocks details[data-block="5"][open] .attn-part')
    pressed = '#v-blocks details[data-block="5"] .heads button[aria-pressed="true"]'
    assert pg.locator(pressed).inner_text() == "8"


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_every_view_exports(open_page, kind):
    pg = open_page()
    show_heads(pg)
    for section in ("s-blocks", "s-heads", "s-final"):
        with pg.expect_download() as info:
            pg.click(f'#{section} .export-btn[data-export="{kind}"]')
        data = Path(info.value.path()).read_bytes()
        assert info.value.suggested_filename == f"attento-{section[2:]}.{kind}"
        if kind == "png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
        else:
            text = data.decode()
            assert text.startswith("<svg") and "foreignObject" in text
            assert "data:image/png;base64," in text  # the canvases, as PNGs


def test_a_link_restores_the_state(open_page):
    pg = open_page()
    pg.fill("#prompt", "per una selva")
    pg.press("#prompt", "Enter")
    pg.wait_for_function("() => window.attento.trace.prompt === 'per una selva'")
    wait_idle(pg)
    pg.locator("#temperature").fill("0.5")
    pg.fill("#seed", "7")
    pg.press("#seed", "Tab")
    pg.locator('#v-blocks details[data-block="1"] summary').click()
    pg.locator("#v-stack .picker .tok").nth(2).click()
    show_heads(pg)
    pg.locator("#v-heads .head-cell").nth(3).click()  # block 2, head 2
    pg.wait_for_timeout(300)
    link = pg.url
    assert "prompt=per+una+selva" in link and "t=0.5" in link and "seed=7" in link

    again = open_page("?" + link.split("?", 1)[1])
    state = again.evaluate("() => window.attento.state")
    assert again.evaluate("() => window.attento.trace.prompt") == "per una selva"
    assert state["settings"]["temperature"] == 0.5 and state["seed"] == "7"
    assert again.locator("#temperature").input_value() == "0.5"
    assert again.locator("#seed").input_value() == "7"
    assert again.locator('#v-blocks details[data-block="1"]').get_attribute("open") is not None
    assert again.locator("#v-stack .picker .tok.selected").get_attribute("data-pos") == "2"
    again.wait_for_selector('#head-open[data-block="1"][data-head="1"]')


def test_presentation_mode_one_stage_per_screen(open_page):
    pg = open_page()
    pg.click("#present")
    visible = "() => [...document.querySelectorAll('main .stage')].filter(s => s.offsetParent)"
    assert pg.evaluate(f"() => ({visible})().map(s => s.id)") == ["s-prompt"]
    size = pg.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert size > 16  # larger type
    pg.locator("body").press("ArrowRight")
    pg.locator("body").press("ArrowRight")
    assert pg.evaluate(f"() => ({visible})().map(s => s.id)") == ["s-embed"]
    assert "present=2" in pg.url
    pg.locator("body").press("ArrowLeft")
    assert pg.evaluate(f"() => ({visible})().map(s => s.id)") == ["s-tokens"]
    restored = open_page("?" + pg.url.split("?", 1)[1])
    assert restored.evaluate(f"() => ({visible})().map(s => s.id)") == ["s-tokens"]
    pg.locator("body").press("Escape")
    assert len(pg.evaluate(f"() => ({visible})().map(s => s.id)")) > 5


@pytest.mark.parametrize("lang", ["en", "it"])
def test_the_tour_does_what_its_cards_say(open_page, lang):
    pg = open_page(f"?lang={lang}")
    pg.click("#tour-start")

    def to(stop: str) -> None:
        while pg.locator("#tour").get_attribute("data-stop") != stop:
            pg.click("#tour-next")
        pg.wait_for_function("() => document.getElementById('tour').dataset.acted === '1'")

    to("#s-blocks")
    text = pg.locator("#tour .tour-text").inner_text()
    assert ("opened block 1" if lang == "en" else "aperto il blocco 1") in text
    assert pg.locator('#v-blocks details[data-block="0"]').get_attribute("open") is not None
    looks = '#v-blocks details[data-block="0"] .attn-tokens .tok.focused'
    assert pg.locator(looks).get_attribute("data-pos") == "1"  # the second token, hovered
    to("#s-heads")
    assert pg.locator("#head-open").count() == 1
    to("#s-stack")
    assert pg.locator("#v-stack .picker .tok.selected").get_attribute("data-pos") == "0"
    before = pg.locator("#probs .p-value[data-p]").first.get_attribute("data-p")
    to("#s-final")
    assert pg.locator("#temperature").input_value() == "0.5"
    assert pg.evaluate("() => window.attento.state.settings.temperature") == 0.5
    assert pg.locator("#probs .p-value[data-p]").first.get_attribute("data-p") != before
    n = len(pg.evaluate("() => window.attento.state.ids"))
    to("#s-gen")
    pg.wait_for_function(f"() => window.attento.state.ids.length === {n + 1}", timeout=15_000)
