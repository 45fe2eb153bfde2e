"""The labs page in headless Chromium against a live server: each lab computes from the real
vectors and models, rankings typed with keys or dragged land in the file, errors show one
sentence in the page's language, and markup in what the server returns stays text."""

from __future__ import annotations

import json

import pytest
import torch

from attento.explain.labs import Labs
from attento.explain.server import create_app

from .conftest import CHROMIUM, serving
from .labs_setup import lab_models, refusal_report

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(catalog, tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("labs-browser")
    models = lab_models(root / "models")
    labs = Labs(
        chat_model=models["chat"],
        after_model=models["after"],
        reward_model=models["reward"],
        rankings=root / "rankings.jsonl",
        refusal_report=refusal_report(root / "refusal"),
        embedders=("dante-words",),
    )
    with serving(create_app(catalog, labs=labs)) as port:
        yield f"http://127.0.0.1:{port}/labs.html", labs


@pytest.fixture
def page(browser, server):
    url, _ = server
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    pg.wait_for_selector("body[data-busy='0']")
    yield pg
    context.close()
    assert not errors, errors


def test_embeddings_lab_draws_each_figure(page):
    assert page.text_content("h1") == "Embeddings lab"
    page.click("#sim-run")
    page.wait_for_selector("#sim-matrix")
    cells = page.locator("#sim-matrix td").all_text_contents()
    assert len(cells) == 25 and cells[0] == "1.000" and cells[6] == "1.000"
    page.click("#ana-run")
    page.wait_for_selector("#ana-out li")
    assert page.locator("#ana-out li").count() == 5
    page.click("#axes-run")
    page.wait_for_selector("#axes-plot")
    assert page.locator("#axes-plot .point").count() == 10
    page.click("#map-run")
    page.wait_for_selector("#map-plot")
    assert page.locator("#map-plot .point").count() == 14
    page.click("#bias-run")
    page.wait_for_selector("#bias-plot")
    assert page.locator("#bias-plot .bias-row").count() == 16
    assert "persona" in page.text_content("#bias-plot .neutral")


def test_bad_input_is_one_sentence_in_the_page_s_language(page):
    page.fill("#axes-x2", "Uomo")
    page.click("#axes-run")
    page.wait_for_selector("#axes-error[data-code='same_axis_words']")
    assert "same word at both ends" in page.text_content("#axes-error")
    page.click("#lang")
    assert page.text_content("h1") == "Laboratorio di embedding"
    hostile = '<img src=x onerror="window.__xss=1">'
    page.fill("#sim-texts", f"re\n{hostile}")
    page.click("#sim-run")
    page.wait_for_selector("#sim-error[data-code='unknown_word']")
    assert "non è tra le parole" in page.text_content("#sim-error")
    assert page.evaluate("window.__xss") is None
    assert page.locator("#sim-error img").count() == 0


def test_ranking_by_keys_is_appended_to_the_file(page, server):
    _, labs = server
    page.click("[data-tab='rlhf']")
    page.fill("#rlhf-prompt", "2+3=")
    page.click("#rlhf-sample")
    page.wait_for_selector("#rlhf-answers li")
    shown = page.locator("#rlhf-answers li").all_text_contents()
    page.focus("#rlhf-answers li:first-child")
    page.keyboard.press("ArrowDown")  # answer 0 moves below answer 1
    page.fill("#rlhf-who", "anna")
    page.click("#rlhf-save")
    page.wait_for_selector("#rlhf-saved:has-text('3 preference pairs')")
    record = json.loads(labs.rankings.read_text().splitlines()[-1])
    assert record["order"] == [1, 0, 2] and record["who"] == "anna"
    assert [a or "∅" for a in record["answers"]] == shown


def test_ranking_by_drag(page, server):
    _, labs = server
    page.click("[data-tab='rlhf']")
    page.fill("#rlhf-prompt", "1+1=")
    page.click("#rlhf-sample")
    page.wait_for_selector("#rlhf-answers li")
    page.drag_and_drop(
        "#rlhf-answers li:nth-child(3)",
        "#rlhf-answers li:nth-child(1)",
        target_position={"x": 5, "y": 2},
    )
    page.click("#rlhf-save")
    page.wait_for_selector("#rlhf-saved:has-text('preference pairs')")
    record = json.loads(labs.rankings.read_text().splitlines()[-1])
    assert record["order"] == [2, 0, 1]


def test_before_after_and_refusal_views(page):
    page.click("[data-tab='rlhf']")
    page.fill("#rlhf-prompt", "2+3=")
    page.click("#cmp-run")
    page.wait_for_selector("#cmp-out tr.after")
    assert page.locator("#cmp-out td.val").count() == 2
    page.click("[data-tab='refusal']")
    rates = page.locator("#ref-rates tr")
    assert rates.count() == 4
    assert "100%" in rates.nth(3).text_content()
    total = page.locator("#ref-rows tr[data-lang]").count()
    page.select_option("#ref-lang", "it")
    italian = page.locator("#ref-rows tr[data-lang]").count()
    assert 0 < italian < total
    assert page.locator("#ref-rows tr[data-lang='en']").count() == 0
