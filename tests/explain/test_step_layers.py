"""A step sends the keys and values of the one cache layer the page draws (`cache_layer`);
/api/cache sends another layer's when it is picked: the same numbers a full step carries."""

import pytest
from fastapi.testclient import TestClient

from attento.explain.server import create_app

from .conftest import CHROMIUM
from .test_browser import server  # noqa: F401  (the live server fixture)


@pytest.fixture(scope="module")
def client(catalog):
    return TestClient(create_app(catalog), base_url="http://127.0.0.1")


def test_a_step_carries_one_layers_keys_and_values_and_the_rest_come_on_demand(client, tiny):
    _, tok = tiny
    body = {"ids": tok.encode("Nel mezzo del"), "greedy": True}
    full = client.post("/api/step", json=body)
    one = client.post("/api/step", json=body | {"cache_layer": 1})
    assert len(one.content) < len(full.content)
    full, one = full.json(), one.json()
    assert (one["token"], one["prob"], one["ids"]) == (full["token"], full["prob"], full["ids"])
    layers = one["cache"]["layers"]
    assert [("k" in layer, "v" in layer) for layer in layers] == [(False, False), (True, True)]
    for mine, theirs in zip(layers, full["cache"]["layers"], strict=True):
        assert (mine["q"], mine["weights"]) == (theirs["q"], theirs["weights"])
    assert (layers[1]["k"], layers[1]["v"]) == (
        full["cache"]["layers"][1]["k"],
        full["cache"]["layers"][1]["v"],
    )
    asked = client.post("/api/cache", json={"ids": one["ids"], "layer": 0}).json()
    assert asked["layer"] == 0
    assert (asked["k"], asked["v"]) == (
        full["cache"]["layers"][0]["k"],
        full["cache"]["layers"][0]["v"],
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/step", {"ids": [1, 2], "cache_layer": 2}), ("/api/cache", {"ids": [1], "layer": -1})],
)
def test_a_layer_the_model_lacks_is_bad_block(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 400 and r.json()["code"] == "bad_block"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")
def test_the_page_asks_for_another_layers_keys_and_values_when_it_is_picked(browser, request):
    from .test_browser import wait_idle

    url, _ = request.getfixturevalue("server")
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    asked: list[dict] = []
    pg.on("request", lambda r: r.url.endswith("/api/cache") and asked.append(r.post_data_json))
    pg.goto(url)
    wait_idle(pg)
    n = len(pg.evaluate("window.attento.state.ids"))
    pg.click("#roll")
    wait_idle(pg, tokens=n + 1)
    assert pg.locator("#v-cache canvas").count() >= 3 and not asked
    pg.locator("#v-cache .cache-pickers .heads").first.locator("button", has_text="2").click()
    pg.wait_for_function(
        "() => document.querySelectorAll('#v-cache canvas').length >= 3 && "
        "window.attento.state.lastStep.cache.layers[1].k !== undefined"
    )
    assert [a["layer"] for a in asked] == [1]
    assert asked[0]["ids"] == pg.evaluate("window.attento.state.lastStep.ids")
    context.close()
    assert not errors, errors
