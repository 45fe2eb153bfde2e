"""End-to-end, in headless Chromium: the encoder–decoder page (seq2seq.html) writes what
`transduce` writes, greedy and seeded; its three attention maps hold the trace's weights and
its bars the probabilities of the trace's logits; one figure exports alone as PNG and SVG."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlencode

import pytest
import torch

from attento.explain.catalog import BUNDLED_DIR, Catalog, Entry
from attento.explain.seq2seq_view import record_pair
from attento.explain.server import create_app
from attento.generate import filter_logits, probabilities
from attento.generate.seq2seq import transduce
from attento.models.folder import load_model

from .builders import BERT_SENTENCE, make_bert
from .conftest import CHROMIUM, make_seq2seq_checkpoint, serving

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
BUNDLED = BUNDLED_DIR / "numeri"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, make_ckpt):
    root = tmp_path_factory.mktemp("s2s-pages")
    folders = {"tiny": make_ckpt(root / "tiny"), "tiny-s2s": make_seq2seq_checkpoint(root / "s2s")}
    folders["bert"] = make_bert(root / "bert")
    entries = [Entry(n, p, "models-dir") for n, p in folders.items()]
    if BUNDLED.is_dir():
        entries.append(Entry("numeri", BUNDLED, "bundled"))
    catalog = Catalog(entries, "tiny")
    with serving(create_app(catalog)) as port:
        yield f"http://127.0.0.1:{port}/", folders


@pytest.fixture
def open_page(browser):
    contexts, errors = [], []

    def open_(url: str):
        context = browser.new_context(
            viewport={"width": 1200, "height": 900}, locale="en-US", accept_downloads=True
        )
        contexts.append(context)
        pg = context.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url)
        pg.wait_for_function("() => document.body.dataset.busy === '0'")
        return pg

    yield open_
    for c in contexts:
        c.close()
    assert not errors, errors


def written(pg) -> list[int]:
    return pg.evaluate("() => window.attentoSeq2seq.state.view.written")


def to_the_end(pg) -> None:
    pg.click("#all")
    pg.wait_for_function(
        "() => document.body.dataset.busy === '0' && window.attentoSeq2seq.state.view.done",
        timeout=120_000,  # one request per token, on a machine other jobs share
    )


def cells(pg, kind: str) -> dict[tuple[int, int], float]:
    rows = pg.locator(f"svg.s2s-map[data-kind='{kind}'] rect.cell").evaluate_all(
        "els => els.map(e => [Number(e.dataset.row), Number(e.dataset.col), Number(e.dataset.w),"
        " e.getAttribute('fill')])"
    )
    return {(r, c): (w, fill) for r, c, w, fill in rows}


def test_the_page_writes_what_transduce_writes_with_the_traces_numbers(open_page, server):
    url, folders = server
    model, tok = load_model(folders["tiny-s2s"])
    pg = open_page(f"{url}seq2seq.html?{urlencode({'model': 'tiny-s2s', 'source': '347'})}")
    names = pg.locator("#model option").evaluate_all("els => els.map(e => e.value)")
    assert "tiny-s2s" in names and "tiny" not in names  # the GPT belongs to the other pages
    to_the_end(pg)
    src = tok.encode("347")
    target = written(pg)
    eos = model.config.eos_id
    assert [i for i in target if i != eos] == transduce(model, torch.tensor([src]), greedy=True)[0]

    rec = record_pair(model, src, target)
    pg.select_option("#cross-layer", "0")
    pg.select_option("#cross-head", "1")
    shown = cells(pg, "cross")
    want = rec["decoder.0.cross.weights"][1]
    assert len(shown) == want.numel() == (len(target) + 1) * len(src)
    for (r, c), (w, _) in shown.items():
        assert w == pytest.approx(float(want[r, c]), abs=1e-3)  # sent as f16
    decoder = cells(pg, "decoder")  # the future is hatched, nothing else
    hatched = {rc for rc, (_, fill) in decoder.items() if fill == "#fbe9e7"}
    assert hatched == {(r, c) for r, c in decoder if c > r}
    assert not any(fill == "#fbe9e7" for _, fill in cells(pg, "encoder").values())

    pg.locator("#temperature").fill("0.5")
    pg.locator("#temperature").dispatch_event("input")
    logits = rec["logits"][-1]
    p = probabilities(filter_logits(logits, 0.5, None, None))
    rows = pg.locator("#v-next .pb-row").evaluate_all(
        "els => els.map(e => [Number(e.dataset.id), Number(e.dataset.p)])"
    )
    assert rows and all(v == pytest.approx(float(p[i]), rel=1e-5, abs=1e-9) for i, v in rows)

    pg.click("#back")
    pg.wait_for_function(
        f"() => window.attentoSeq2seq.state.view.written.length === {len(target) - 1}"
    )


def test_a_seeded_die_writes_what_transduce_writes_with_that_seed(open_page, server):
    url, folders = server
    model, tok = load_model(folders["tiny-s2s"])
    pg = open_page(f"{url}seq2seq.html?{urlencode({'model': 'tiny-s2s', 'source': '2001'})}")
    pg.uncheck("#greedy")
    pg.fill("#seed", "7")
    pg.locator("#top-k").fill("5")
    pg.locator("#top-k").dispatch_event("input")
    to_the_end(pg)
    expected = transduce(model, torch.tensor([tok.encode("2001")]), top_k=5, seed=7)[0]
    assert [i for i in written(pg) if i != model.config.eos_id] == expected


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_one_figure_exports_alone(open_page, server, kind):
    url, _ = server
    pg = open_page(f"{url}seq2seq.html?{urlencode({'model': 'tiny-s2s', 'source': '12'})}")
    figure = pg.locator("#s-decoder figure[data-kind='cross']")
    figure.hover()
    with pg.expect_download() as info:
        figure.locator(f'[data-export-figure="{kind}"]').click()
    data = Path(info.value.path()).read_bytes()
    assert info.value.suggested_filename == f"attento-decoder-2.{kind}"  # the stage's 2nd
    if kind == "png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    else:
        text = data.decode()
        assert text.startswith("<svg") and 'class="s2s-map"' in text
        assert 'data-kind="cross"' in text
        assert 'data-kind="decoder"' not in text  # the figure alone, not its stage
        assert "<button" not in text  # the buttons stay out of the picture
    # the encoder page's maps have their own buttons too
    query = urlencode({"decoder": "tiny", "encoder": "bert", "text": BERT_SENTENCE})
    pg = open_page(f"{url}encoder.html?{query}")
    pg.wait_for_selector("#v-mask .mask-guess .pb-row")
    assert pg.locator("#v-encoder figure [data-export-figure='png']").count() == 1


@pytest.mark.skipif(not BUNDLED.is_dir(), reason="numeri is not bundled yet")
def test_screenshot_of_the_bundled_encoder_decoder(open_page, server, tmp_path):
    """seq2seq.html on the bundled numeri, 347 written to the end; with
    ATTENTO_WRITE_SCREENSHOTS=1 (make screenshots) into docs/img."""
    url, _ = server
    img = IMG if os.environ.get("ATTENTO_WRITE_SCREENSHOTS") == "1" else tmp_path
    pg = open_page(f"{url}seq2seq.html?{urlencode({'model': 'numeri', 'source': '347'})}")
    to_the_end(pg)
    assert pg.locator(".s2s-text").inner_text() == "trecentoquarantasette"
    pg.add_style_tag(content=".topbar { position: static; }")  # not stitched in mid-shot
    pg.locator("#s-decoder").screenshot(path=str(img / "explainer-seq2seq.png"))
    assert (img / "explainer-seq2seq.png").stat().st_size > 1000
