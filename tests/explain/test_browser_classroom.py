"""The explainer page in a classroom: hostile token text, quick clicks on the die, errors in
the page's language, phones, and the page under the server's Content-Security-Policy.

Real headless Chromium against a live uvicorn server, as test_browser.py; skipped without
/usr/bin/chromium.
"""

from __future__ import annotations

import math
import re
import time
from contextlib import contextmanager

import pytest
import torch

from attento.errors import UserError
from attento.explain.catalog import Catalog, Entry
from attento.explain.server import create_app
from attento.generate import filter_logits, generate

from .conftest import CHROMIUM, serving

# the policy the server sends (server.py); the test server adds it where the app does not
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
HOSTILE_NAME = 'evil<i class="xss">'  # a catalog name with markup too: the model picker
PROMPTS = {"tiny-it": ("la diritta via", "it"), "tiny-en": ("era smarrita", "en")}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]


def csp_middleware(app, mode: str):
    """mode "add": send CSP where the app does not; "strip": send none, so that an injected
    inline handler would really run and set window.__xss."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                has = any(k.lower() == b"content-security-policy" for k, _ in headers)
                if mode == "strip":
                    headers = [
                        (k, v) for k, v in headers if k.lower() != b"content-security-policy"
                    ]
                elif not has:
                    headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with)

    return wrapped


@contextmanager
def live(app):
    with serving(app) as port:
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def catalog(models_dir, hostile, tmp_path_factory) -> Catalog:
    from attento.models.folder import load_model, save_model

    entries = [Entry("tiny", models_dir / "tiny", "models-dir")]
    entries.append(Entry(HOSTILE_NAME, hostile.path, "command line"))
    model, tok = load_model(models_dir / "tiny")
    for name, (prompt, language) in PROMPTS.items():
        folder = tmp_path_factory.mktemp("prompts") / name
        save_model(model, tok, folder, extra={"prompt": prompt, "language": language})
        entries.append(Entry(name, folder, "command line"))
    return Catalog(entries, "tiny")


@pytest.fixture(scope="module")
def url(catalog):
    with live(csp_middleware(create_app(catalog), "add")) as u:
        yield u


@pytest.fixture(scope="module")
def url_no_csp(catalog):
    with live(csp_middleware(create_app(catalog), "strip")) as u:
        yield u


REPORT_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


@contextmanager
def opened(browser, url, **context):
    """A page on `url`, idle; afterwards no page error, console error or CSP violation."""
    ctx = browser.new_context(
        **{"viewport": {"width": 1200, "height": 900}, "locale": "en-US", **context}
    )
    pg = ctx.new_page()
    pg.add_init_script(REPORT_CSP)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    # a 4xx answer the test asked for is logged as "Failed to load resource"; a blocked one
    # reads "Refused to ..." and counts
    pg.on(
        "console",
        lambda m: (
            errors.append(f"console: {m.text}")
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    pg.goto(url)
    wait_idle(pg)
    yield pg, errors
    violations = pg.evaluate("window.__csp")
    ctx.close()
    assert not violations, violations
    assert not errors, errors


def wait_idle(pg, tokens: int | None = None) -> None:
    # functions, not expressions: Playwright evaluates a string with eval, which the CSP forbids
    cond = (
        "document.body.dataset.busy === '0' && window.attento.trace !== null"
        " && !window.attento.state.rolling && !window.attento.state.running"
    )
    if tokens is not None:
        cond += f" && window.attento.trace.tokens.length === {tokens}"
    pg.wait_for_function(f"() => {cond}", timeout=30_000)
    pg.wait_for_selector("#v-final .p-bar")


def choose_model(pg, name: str) -> None:
    pg.select_option("#model", name)
    pg.wait_for_function(
        "([n]) => window.attento.facts && window.attento.facts.name === n", arg=[name]
    )
    wait_idle(pg)


def shown(text: str) -> str:
    """The page's showToken."""
    return text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def set_range(pg, selector: str, value) -> None:
    pg.locator(selector).evaluate(
        "(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }", str(value)
    )


def set_seed(pg, seed: int) -> None:
    pg.fill("#seed", str(seed))
    pg.dispatch_event("#seed", "change")


# --- 1. token text is text ----------------------------------------------------------------


INJECTED = """() => ({
  xss: window.__xss,
  img: document.querySelectorAll("img").length,
  marked: document.querySelectorAll(".xss").length,
  handlers: [...document.querySelectorAll("*")].filter((e) =>
    [...e.attributes].some((a) => a.name.startsWith("on"))).length,
  svgOnload: document.querySelectorAll("svg[onload]").length,
})"""
CLEAN = {"xss": None, "img": 0, "marked": 0, "handlers": 0, "svgOnload": 0}


HOVER = """() => {
  const tip = document.getElementById("tooltip");
  const tags = new Set();
  const texts = [];
  for (const c of document.querySelectorAll("main canvas")) {
    const r = c.getBoundingClientRect();
    for (let y = 1; y < Math.min(r.height, 70); y += 3) {  // the first rows: the tags
      c.dispatchEvent(new MouseEvent("mousemove", { clientX: r.right - 2, clientY: r.top + y }));
      for (const e of tip.querySelectorAll("*")) tags.add(e.tagName);
      texts.push(tip.textContent);
    }
  }
  return { tags: [...tags], texts };
}"""


def hover_every_canvas(pg, hostile) -> None:
    """Every heat map's tooltip over the tag rows: token text as text, only <b> and <br>."""
    seen = pg.evaluate(HOVER)
    assert set(seen["tags"]) <= {"B", "BR"}, seen["tags"]
    assert any(shown(hostile.tokens[1]) in text for text in seen["texts"])


def test_markup_in_token_text_stays_text_in_every_view(browser, url_no_csp, catalog, hostile):
    """Without a CSP to hide it: a token spelled as an <img onerror> or <svg onload> tag is
    shown as text in the tokens, every heat map's tooltip, the attention chips, the stack,
    the bars, the die's faces, the generated sequence, the cache, the logit lens, the grid of
    all heads and the tour."""
    _, tok = catalog.load(HOSTILE_NAME)
    ids = tok.encode(hostile.prompt)
    with opened(browser, url_no_csp) as (pg, _):
        requests: list[str] = []
        pg.on("request", lambda r: requests.append(r.url))
        choose_model(pg, HOSTILE_NAME)
        assert pg.locator("#model option:checked").inner_text().startswith(HOSTILE_NAME)
        pg.fill("#prompt", hostile.prompt)
        pg.press("#prompt", "Enter")
        wait_idle(pg, tokens=len(ids))
        texts = pg.locator("#v-tokens .tok-text").all_inner_texts()
        assert texts == [shown(tok.decode([i])) for i in ids]
        assert shown(hostile.tokens[1]) in pg.locator("#probs").inner_text()  # the bars

        for d in pg.locator("#v-blocks details.block").all():  # open every block
            d.evaluate("d => { d.open = true; }")
        hover_every_canvas(pg, hostile)
        for chip in pg.locator("#v-blocks .attn-tokens .tok").all():
            chip.hover()
        for k in range(len(ids)):  # every token of the stack picker
            pg.locator("#v-stack .tokens.picker .tok").nth(k).click()
            hover_every_canvas(pg, hostile)

        set_seed(pg, 3)
        for n in range(1, 4):  # the die, then the greedy pick: hostile tokens are likely
            if n == 3:
                pg.check("#greedy")
            pg.click("#roll")
            wait_idle(pg, tokens=len(ids) + n)
            assert pg.locator("#die-faces .face").count() > 0
        generated = pg.evaluate("window.attento.state.ids").copy()[len(ids) :]
        assert any(tok.decode([i]) in hostile.tokens for i in generated), generated
        seq = pg.locator("#v-gen .sequence .tok-text").all_inner_texts()
        assert seq[len(ids) :] == [shown(tok.decode([i])) for i in generated]
        assert shown(tok.decode([generated[-1]])) in pg.locator("#gen-message").inner_text()
        for button in pg.locator("#v-cache .chip-btn").all():  # every layer and head
            button.click()
        hover_every_canvas(pg, hostile)
        looks = pg.locator("#v-cache .cache-w .look-tok").all_inner_texts()
        assert looks == [shown(tok.decode([i])) for i in [*ids, *generated][: len(looks)]]

        pg.wait_for_selector("#lens .lens-grid")
        lens = pg.locator("#lens .lens-tok .look-tok").all_inner_texts()  # the logit lens
        assert any(shown(t) in lens for t in hostile.tokens), lens
        pg.locator("#s-heads").scroll_into_view_if_needed()  # the grid loads when seen
        pg.locator("#v-heads .head-cell").first.click()  # all heads: one opened large
        labels = pg.locator("#head-open .key-label").all_text_contents()
        ids_now = pg.evaluate("window.attento.state.ids")
        assert labels == [shown(tok.decode([i]))[:10] for i in ids_now]

        pg.click("#tour-start")  # the tour acts (it rolls the die too)
        while pg.locator("#tour").get_attribute("data-stop") != "#s-cache":
            pg.click("#tour-next")
        pg.wait_for_function("() => document.getElementById('tour').dataset.acted === '1'")
        wait_idle(pg)
        pg.click("#tour-next")  # "Done"
        pg.click("#lang")
        pg.click("#lang")
        assert pg.evaluate(INJECTED) == CLEAN
        assert not [u for u in requests if u.endswith("/x")]  # no <img src=x> was fetched


# --- CSP ----------------------------------------------------------------------------------


def test_page_works_under_the_csp_without_console_errors(browser, url):
    """No inline script, inline handler or eval: every action runs and the console stays
    clean under the server's Content-Security-Policy."""
    with opened(browser, url) as (pg, errors):
        policy = pg.evaluate("fetch('/').then((r) => r.headers.get('content-security-policy'))")
        assert policy and "script-src 'self'" in policy
        set_seed(pg, 1)
        pg.click("#roll")
        n = pg.evaluate("window.attento.state.promptLen")
        wait_idle(pg, tokens=n + 1)
        pg.fill("#run-count", "2")
        pg.dispatch_event("#run-count", "change")
        pg.click("#run")
        wait_idle(pg, tokens=n + 3)
        pg.click("#step-back")
        wait_idle(pg, tokens=n + 2)
        set_range(pg, "#top-k", 3)
        pg.locator("#v-blocks canvas").first.hover(position={"x": 40, "y": 4})
        pg.click("#lang")
        pg.click("#tour-start")
        pg.click("#tour-next")
        pg.keyboard.press("Escape")
        pg.fill("#prompt", "Zebra")  # an error: shown, and the console stays clean
        pg.press("#prompt", "Enter")
        pg.wait_for_selector("#error:not([hidden])")
        assert pg.locator("#v-gen .tok").count() == n + 2
        assert not errors


# --- 2. the die -----------------------------------------------------------------------------


def roll_top(pg) -> float:
    return pg.locator("#roll").bounding_box()["y"]


def test_quick_clicks_on_the_die_roll_once_and_the_view_stays(browser, url, catalog):
    """Four clicks in 200 ms while the die rolls: the button is off after the first, one
    token and one history entry are added (the seeded run `attento generate` writes), and
    the roll button stays where it was on screen through the re-render, even without the
    browser's scroll anchoring."""
    model, tok = catalog.load("tiny")
    prompt = tok.encode("Nel mezzo del cammin")
    with opened(browser, url) as (pg, _):
        set_seed(pg, 42)
        pg.evaluate(
            "() => { window.__clicks = 0; document.addEventListener('click', (e) => {"
            " if (e.target.closest('#roll')) window.__clicks++; }, true); }"
        )
        # as in Safari, which has no scroll anchoring: the page must keep its place itself
        pg.add_style_tag(content="* { overflow-anchor: none !important; }")
        # the die at the same height as the report (431 px)
        pg.evaluate(
            "window.scrollBy(0, document.getElementById('roll').getBoundingClientRect().top - 431)"
        )
        before = roll_top(pg)
        assert before == pytest.approx(431, abs=1)
        box = pg.locator("#roll").bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for k in range(4):
            pg.mouse.click(x, y)
            if k == 0:
                assert pg.locator("#roll").is_disabled()
                assert pg.locator("#run").is_disabled()
            pg.wait_for_timeout(60)
        wait_idle(pg, tokens=len(prompt) + 1)
        pg.wait_for_timeout(300)  # anything still queued would have started by now
        state = pg.evaluate("window.attento.state")
        assert pg.evaluate("window.__clicks") == 1  # the other three met a disabled button
        expected = generate(model, torch.tensor([prompt]), 1, seed=42)[0].tolist()
        assert state["ids"] == expected
        assert state["history"] == [prompt]
        assert pg.locator("#v-gen .tok.generated").count() == 1
        assert roll_top(pg) == pytest.approx(before, abs=2)
        assert pg.locator("#roll").is_enabled()
        assert pg.evaluate("document.activeElement.id") == "roll"  # the keyboard's place

        pg.keyboard.press("Enter")  # the next roll from the keyboard: same place again
        wait_idle(pg, tokens=len(prompt) + 2)
        assert roll_top(pg) == pytest.approx(before, abs=2)
        expected = generate(model, torch.tensor([prompt]), 2, seed=42)[0].tolist()
        assert pg.evaluate("window.attento.state.ids") == expected


def test_the_face_the_die_picked_stays_lit_on_screen(browser, url):
    """The face (and the bar in step 5) the die picked is marked, next to the die and on
    screen, for most of a second before the page recomputes; it is the token appended."""
    with opened(browser, url) as (pg, _):
        n = pg.evaluate("window.attento.state.promptLen")
        set_seed(pg, 7)
        pg.locator("#roll").evaluate("b => b.scrollIntoView({ block: 'center' })")
        pg.click("#roll")
        face = pg.locator("#die-faces .face.picked")
        face.wait_for(timeout=10_000)
        lit = time.monotonic()
        picked = face.get_attribute("data-id")
        box = face.bounding_box()
        header = pg.locator(".topbar").bounding_box()
        assert header["y"] + header["height"] <= box["y"] and box["y"] + box["height"] <= 900
        if picked != "other":
            assert pg.locator(f'#probs .p-track.picked[data-id="{picked}"]').count() == 1
        pg.wait_for_selector("#die-faces .face.picked", state="detached", timeout=10_000)
        assert time.monotonic() - lit >= 0.6
        wait_idle(pg, tokens=n + 1)
        last = pg.evaluate("window.attento.state.ids.at(-1)")
        if picked != "other":
            assert int(picked) == last


# --- 3. errors in the page's language -------------------------------------------------------


def test_errors_speak_the_page_language_and_old_numbers_are_marked(browser, url, catalog):
    """A prompt the model cannot encode and an empty one: the Italian page says so in
    Italian (from the error's code), never with the server's English sentence, and every
    view below is marked as the previous prompt's and made inert until a prompt works."""
    _, tok = catalog.load("tiny")
    with pytest.raises(UserError):
        tok.encode("Z")
    with opened(browser, url, locale="it-IT") as (pg, _):
        assert pg.locator("h1").inner_text().startswith("Dentro")
        pg.fill("#prompt", "Zara")
        pg.press("#prompt", "Enter")
        error = pg.locator("#error")
        error.wait_for(state="visible")
        assert error.inner_text() == (
            "Il carattere «Z» non è nel vocabolario di questo modello: toglilo dal prompt."
        )
        views = pg.locator("main .view")
        assert views.count() == 8  # tokens, embeddings, blocks, all heads, stack, final, gen, cache
        for k in range(views.count()):
            view = views.nth(k)
            assert view.get_attribute("data-stale").startswith("Numeri del prompt precedente")
            assert view.get_attribute("inert") is not None
            assert "Numeri del prompt precedente" in view.evaluate(
                "v => getComputedStyle(v, '::before').content"
            )
        pg.click("#lang")  # the same error, now in English
        assert error.inner_text().startswith("The character “Z” is not in")
        assert pg.locator("#v-tokens").get_attribute("data-stale").startswith("Numbers of")
        pg.click("#lang")

        pg.fill("#prompt", "")
        pg.press("#prompt", "Enter")
        pg.wait_for_function(
            "() => document.getElementById('error').textContent.startsWith('Il prompt è vuoto')"
        )
        assert "String" not in error.inner_text() and "character" not in error.inner_text()

        pg.fill("#prompt", "la via")
        pg.press("#prompt", "Enter")
        wait_idle(pg, tokens=len("la via"))
        assert error.is_hidden()
        assert pg.locator("main .view[data-stale], main .view[inert]").count() == 0


def test_an_unknown_error_code_gets_a_translated_generic_sentence(browser, url):
    with opened(browser, url, locale="it-IT") as (pg, errors):
        pg.route(
            "**/api/trace",
            lambda route: route.fulfill(
                status=418,
                content_type="application/json",
                body='{"detail": "I am a teapot", "code": "teapot", "params": {}}',
            ),
        )
        pg.fill("#prompt", "la via")
        pg.press("#prompt", "Enter")
        pg.wait_for_selector("#error:not([hidden])")
        assert (
            pg.locator("#error").inner_text() == "Il server ha rifiutato la richiesta (HTTP 418)."
        )
        assert pg.locator("#error").get_attribute("title") == "I am a teapot"
        assert not errors


# --- 4. the final step's numbers ------------------------------------------------------------


def formula_numbers(pg) -> tuple[int, float, float, float]:
    text = pg.locator("#v-final .formula").inner_text().replace("−", "-")
    m = re.search(r"over the (\d+) tokens in the draw = (\S+) / (\S+) = (\S+)%", text)
    assert m, text
    return int(m[1]), float(m[2]), float(m[3]), float(m[4]) / 100


def test_other_tokens_are_zero_and_the_softmax_names_its_sum(browser, url, catalog):
    model, tok = catalog.load("tiny")
    ids = tok.encode("Nel mezzo del cammin")
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0, -1].double()
    with opened(browser, url) as (pg, _):
        rest = pg.locator("#probs .p-value.rest")
        assert float(rest.get_attribute("data-p")) > 0  # all tokens in the draw
        n, num, den, p = formula_numbers(pg)
        assert n == model.config.vocab_size
        assert den == pytest.approx(logits.exp().sum().item(), rel=1e-3)
        assert num == pytest.approx(logits.max().exp().item(), rel=1e-3)
        assert p == pytest.approx(num / den, rel=2e-2)

        set_range(pg, "#temperature", 0.5)
        set_range(pg, "#top-k", 5)  # the 10 other shown rows and the rest: all excluded
        assert rest.inner_text() == "0%" and float(rest.get_attribute("data-p")) == 0
        kept = filter_logits(logits, 0.5, 5, None)
        n, num, den, _ = formula_numbers(pg)
        assert n == 5
        assert den == pytest.approx(kept.exp().sum().item(), rel=1e-3)
        assert num == pytest.approx(math.exp(kept.max().item()), rel=1e-3)
        assert "somma sui 5 token in gara" in pg.evaluate(
            "() => { document.getElementById('lang').click();"
            " return document.querySelector('#v-final .formula').textContent; }"
        )


# --- 5. phones ------------------------------------------------------------------------------


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_phone_header_is_small_and_hints_say_tap(browser, url):
    for locale, tap in [("it-IT", "tocca"), ("en-US", "tap")]:
        with opened(browser, url, locale=locale, **PHONE) as (pg, _):
            header = pg.locator(".topbar")
            assert header.bounding_box()["height"] <= 0.1 * 844
            pg.locator("#s-final").scroll_into_view_if_needed()
            box = header.bounding_box()
            assert box["y"] == pytest.approx(0, abs=1) and box["height"] <= 0.1 * 844
            assert tap in pg.locator("#s-prompt .hint").inner_text().lower()
            pg.locator("#v-embed canvas").first.tap(position={"x": 80, "y": 4})  # as it says
            assert pg.locator("#tooltip").is_visible()
            assert "dim" in pg.locator("#tooltip").inner_text()
            hover = pg.locator("#v-blocks details[open] .attn-part > .hint").inner_text().lower()
            assert hover.startswith(tap) and "mouse" not in hover and "hover" not in hover
            pg.click("#tour-start")
            for _ in range(3):
                pg.click("#tour-next")
            assert tap in pg.locator("#tour .tour-text").inner_text().lower()
            assert pg.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    with opened(browser, url) as (pg, _):  # a mouse: hover wording
        assert "hover" in pg.locator("#s-prompt .hint").inner_text()


# --- 6. each model's own prompt -------------------------------------------------------------


def test_each_model_opens_on_its_own_prompt(browser, url, catalog):
    with opened(browser, url) as (pg, _):
        for name, (prompt, _) in PROMPTS.items():
            assert catalog.entries[name].facts()["prompt"] == prompt
            choose_model(pg, name)
            assert pg.input_value("#prompt") == prompt
            _, tok = catalog.load(name)
            assert pg.evaluate("window.attento.state.ids") == tok.encode(prompt)
