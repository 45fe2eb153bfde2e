"""The explainer's HTTP API (FastAPI TestClient): shapes, validation, and parity of the sampling
step with attento.generate (the `attento generate` path)."""

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from attento.explain.server import create_app
from attento.explain.tensors import tolerance, unpack
from attento.explain.traces import record
from attento.generate import generate


@pytest.fixture(scope="module")
def client(catalog):
    return TestClient(create_app(catalog), base_url="http://127.0.0.1")


def test_models_lists_configured_checkpoints_with_facts(client, tiny):
    data = client.get("/api/models").json()
    assert data["default"] == "tiny"
    by_name = {m["name"]: m for m in data["models"]}
    assert set(by_name) == {"tiny", "tiny-rope"}
    model, tok = tiny
    facts = by_name["tiny"]
    assert facts["n_layer"] == 2 and facts["n_head"] == 2 and facts["n_embd"] == 32
    assert facts["vocab_size"] == tok.vocab_size and facts["block_size"] == 48
    assert facts["parameters"] == sum(p.numel() for p in model.parameters())
    assert facts["decoder_only"] is True


def test_trace_without_prompt_uses_the_default_prompt(client):
    data = client.post("/api/trace", json={}).json()
    assert data["prompt"] == data["model"]["prompt"] == "Nel mezzo del cammin"
    assert len(data["ids"]) == len(data["tokens"]) == len("Nel mezzo del cammin")
    assert data["model"]["name"] == "tiny"


def test_each_bundled_model_opens_on_a_prompt_in_its_own_language():
    from attento.explain.catalog import BUNDLED_DIR, Catalog
    from attento.tokenize import load_tokenizer

    catalog = Catalog.discover(None)
    facts = {name: entry.facts() for name, entry in catalog.entries.items()}
    assert facts["dante"]["language"] == "it"
    assert facts["dante"]["prompt"] == "Nel mezzo del cammin"
    assert facts["shakespeare"]["language"] == "en"
    assert facts["shakespeare"]["prompt"] == "To be, or not to be"
    for name, f in facts.items():  # and the model's tokenizer can encode it
        assert load_tokenizer(BUNDLED_DIR / name).encode(f["prompt"]), name


def test_a_config_json_may_carry_its_own_prompt_and_language(tmp_path, make_ckpt):
    import json

    from attento.explain.catalog import Catalog

    path = make_ckpt(tmp_path / "own")
    config = json.loads((path / "config.json").read_text())
    config |= {"language": "it", "prompt": "la diritta via"}
    (path / "config.json").write_text(json.dumps(config))
    facts = Catalog.discover(str(path), None, bundled_dir=tmp_path / "none").entry("own").facts()
    assert facts["language"] == "it" and facts["prompt"] == "la diritta via"


def test_a_model_whose_tokenizer_lacks_the_default_prompts_gets_one_it_can_encode(
    tmp_path, make_ckpt
):
    from attento.explain.catalog import Catalog
    from attento.models.folder import load_model, save_model
    from attento.tokenize import CharTokenizer

    model, _ = load_model(make_ckpt(tmp_path / "src"))
    path = save_model(model, CharTokenizer(list("xyz")), tmp_path / "xyz")
    facts = Catalog.discover(str(path), None, bundled_dir=tmp_path / "none").entry("xyz").facts()
    assert facts["language"] is None and facts["prompt"] == "xyz"


def test_trace_of_ids_and_of_the_same_text_agree(client, tiny):
    _, tok = tiny
    ids = tok.encode("la diritta via")
    by_ids = client.post("/api/trace", json={"ids": ids}).json()
    by_text = client.post("/api/trace", json={"prompt": "la diritta via"}).json()
    assert by_ids["ids"] == by_text["ids"] == ids
    assert by_ids["final"] == by_text["final"] and by_ids["embed"] == by_text["embed"]
    assert by_ids["timing_ms"]["total"] > 0
    assert by_text["timing_ms"]["kept"]  # the same ids: the records of the first request


def test_other_models_are_picked_by_name(client):
    data = client.post("/api/trace", json={"model": "tiny-rope", "prompt": "via"}).json()
    assert data["model"]["pos_encoding"] == "rope" and data["embed"]["pos"] is None


@pytest.mark.parametrize(
    ("body", "status", "code", "params"),
    [
        ({"prompt": ""}, 422, "prompt_empty", {}),
        ({"prompt": "x" * 5000}, 422, "prompt_too_long", {"max": 4000}),
        ({"prompt": "via", "ids": [1]}, 422, "invalid_request", {"field": "body"}),
        ({"ids": []}, 422, "invalid_request", {"field": "ids"}),
        ({"ids": [1, "a"]}, 422, "invalid_request", {"field": "ids"}),
        ({"ids": [1, -1]}, 422, "invalid_request", {"field": "ids"}),
        ({"prompt": "via", "path": "/etc/passwd"}, 422, "invalid_request", {"field": "path"}),
        ({"model": "../../etc", "prompt": "via"}, 404, "unknown_model", None),
        ({"prompt": "via" * 20}, 400, "context_full", {"tokens": 60, "context": 48}),
        ({"prompt": "ZZZ"}, 400, "unencodable", {"char": "Z"}),
        ({"ids": [0, 10_000]}, 400, "token_out_of_vocab", None),
    ],
)
def test_trace_rejects_bad_requests_with_a_code_and_a_short_sentence(
    client, tiny, body, status, code, params
):
    r = client.post("/api/trace", json=body)
    assert r.status_code == status
    data = r.json()
    assert set(data) == {"detail", "code", "params"} and data["code"] == code
    assert 0 < len(data["detail"]) < 120 and "\n" not in data["detail"]
    if params is not None:
        assert data["params"] == params
    if code == "unknown_model":
        assert data["params"]["available"] == ["tiny", "tiny-rope"]
    if code == "token_out_of_vocab":
        assert data["params"] == {"id": 10_000, "vocab": tiny[1].vocab_size}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 0),
        ("temperature", -1),
        ("top_k", 0),
        ("top_p", 0),
        ("top_p", 1.5),
        ("seed", -3),
    ],
)
def test_step_rejects_invalid_sampling_settings(client, field, value):
    r = client.post("/api/step", json={"ids": [1, 2], field: value})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request" and r.json()["params"] == {"field": field}


def test_step_refuses_when_the_context_is_full(client):
    r = client.post("/api/step", json={"ids": [1] * 48})
    assert r.status_code == 400 and "no room" in r.json()["detail"]
    assert r.json()["code"] == "context_full"
    assert r.json()["params"] == {"tokens": 48, "context": 48}


def test_a_step_over_the_token_cap_is_refused_before_any_work(client):
    from attento.explain.server import MAX_IDS

    r = client.post("/api/step", json={"ids": [1] * (MAX_IDS + 1)})
    assert r.status_code == 400
    assert r.json()["code"] == "too_many_tokens"
    assert r.json()["params"] == {"max": MAX_IDS}


def test_a_model_without_tokenizer_is_a_no_tokenizer_error(tmp_path, make_ckpt):
    from attento.explain.catalog import Catalog

    path = make_ckpt(tmp_path / "bare")
    (path / "tokenizer.json").unlink()
    app = create_app(Catalog.discover(str(path), None, bundled_dir=tmp_path / "none"))
    r = TestClient(app, base_url="http://localhost").post("/api/trace", json={"ids": [1, 2]})
    assert r.status_code == 400 and r.json()["code"] == "no_tokenizer"


def test_greedy_step_appends_the_most_likely_token(client, tiny):
    model, tok = tiny
    ids = tok.encode("Nel mezzo")
    data = client.post("/api/step", json={"ids": ids, "greedy": True}).json()
    with torch.no_grad():
        best = int(model(torch.tensor([ids]))[0, -1].argmax())
    assert data["token"]["id"] == best and data["ids"] == [*ids, best]
    assert data["text"] == tok.decode([*ids, best])


@pytest.mark.parametrize("settings", [{}, {"temperature": 0.7, "top_k": 5, "top_p": 0.9}])
def test_seeded_rolls_write_what_generate_writes_with_that_seed(client, tiny, settings):
    model, tok = tiny
    prompt = tok.encode("Nel mezzo")
    expected = generate(
        model,
        torch.tensor([prompt]),
        4,
        settings.get("temperature", 1.0),
        settings.get("top_k"),
        settings.get("top_p"),
        seed=1234,
    )[0].tolist()
    ids, start = prompt, len(prompt)
    for _ in range(4):
        body = {"ids": ids, "start": start, "seed": 1234, **settings}
        data = client.post("/api/step", json=body).json()
        assert data["start"] == len(prompt)
        ids, start = data["ids"], data["start"]
    assert ids == expected


def test_a_run_that_no_longer_matches_its_seed_restarts_at_the_end(client, tiny):
    model, tok = tiny
    prompt = tok.encode("Nel mezzo")
    first = generate(model, torch.tensor([prompt]), 1, seed=7)[0].tolist()
    other = next(i for i in range(tok.vocab_size) if i != first[-1])
    ids = [*prompt, other]
    data = client.post("/api/step", json={"ids": ids, "start": len(prompt), "seed": 7}).json()
    assert data["start"] == len(ids)
    assert data["ids"] == generate(model, torch.tensor([ids]), 1, seed=7)[0].tolist()


def test_step_shows_the_real_kv_cache_as_the_new_token_goes_in(client, tiny):
    _, tok = tiny
    ids = tok.encode("Nel mezzo del")
    data = client.post("/api/step", json={"ids": ids, "seed": 1}).json()
    cache = data["cache"]
    assert cache["cached"] == len(ids) and cache["new"] == 1
    assert cache["cache_length_after"] == len(ids) + 1
    assert cache["max_abs_diff"] < 1e-4
    full = record(tiny[0], data["ids"])  # a full forward pass, exact float32
    for i, layer in enumerate(cache["layers"]):
        # cached keys/values + the new token's equal those of a full forward pass, to the
        # precision of the drawing encoding (u8 heat maps, f16 weights)
        p = f"blocks.{i}.attn."
        for name, want in [("k", full[p + "k"]), ("v", full[p + "v"]), ("q", full[p + "q"][:, -1])]:
            np.testing.assert_allclose(
                unpack(layer[name]), want.numpy(), atol=tolerance(layer[name]) + 1e-5
            )
        np.testing.assert_allclose(
            unpack(layer["weights"]), full[p + "weights"][:, -1].numpy(), rtol=1e-3, atol=1e-5
        )
    # the probability reported for the drawn token is the softmax of the logits it came from
    before = client.post("/api/trace", json={"ids": ids}).json()
    logits = unpack(before["final"]["logits"]).astype(np.float64)
    p = np.exp(logits - logits.max())
    assert data["prob"] == pytest.approx(p[data["token"]["id"]] / p.sum(), rel=1e-4)


def test_the_page_and_its_modules_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and '<script type="module" src="js/app.js">' in page.text
    assert "http" not in page.text.replace("http://www.w3.org", "")  # nothing from the internet
    for path in ["/js/app.js", "/js/sampling.js", "/js/views/final.js", "/style.css"]:
        assert client.get(path).status_code == 200, path
    assert client.get("/../server.py").status_code == 404


def count_forwards(model):
    """A counter of the model's top-level forward passes (a forward pre-hook)."""
    calls = [0]
    handle = model.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls, handle


@pytest.mark.parametrize("settings", [{}, {"temperature": 0.8, "top_k": 7, "top_p": 0.95}])
def test_thirty_rolls_kept_between_clicks_write_what_generate_writes(tiny, settings):
    """Each click continues the run kept in `Runs` and pays a fixed number of forward passes,
    however long the run already is; the tokens are those of generate() with that seed."""
    from attento.explain.step_view import Runs, step_view

    model, tok = tiny
    prompt = tok.encode("Nel mezzo")
    clicks = 30
    expected = generate(
        model,
        torch.tensor([prompt]),
        clicks,
        settings.get("temperature", 1.0),
        settings.get("top_k"),
        settings.get("top_p"),
        seed=99,
    )[0].tolist()
    runs = Runs()
    calls, handle = count_forwards(model)
    ids, start, per_click = prompt, len(prompt), []
    try:
        for _ in range(clicks):
            before = calls[0]
            view = step_view(model, tok, ids, start, seed=99, runs=runs, **settings)
            per_click.append(calls[0] - before)
            ids, start = view["ids"], view["start"]
    finally:
        handle.remove()
    assert ids == expected and start == len(prompt)
    # click 1 prefills the prompt, every later one feeds one token: 1 + cache_view's 3
    assert per_click == [4] * clicks


def test_without_the_kept_run_a_click_replays_it_to_the_same_tokens(tiny):
    from attento.explain.step_view import Runs, step_view

    model, tok = tiny
    prompt = tok.encode("Nel mezzo")
    expected = generate(model, torch.tensor([prompt]), 12, seed=5)[0].tolist()
    calls, handle = count_forwards(model)
    try:
        # no Runs: the k-th click replays k - 1 tokens (one forward each) before rolling
        ids, start, per_click = prompt, len(prompt), []
        for _ in range(12):
            before = calls[0]
            view = step_view(model, tok, ids, start, seed=5, runs=None)
            per_click.append(calls[0] - before)
            ids, start = view["ids"], view["start"]
        assert ids == expected
        assert per_click == [4 + k for k in range(12)]
        # a Runs too small for any run keeps none: the same tokens, by replay
        tiny_runs = Runs(max_bytes=1)
        ids, start = prompt, len(prompt)
        for _ in range(12):
            view = step_view(model, tok, ids, start, seed=5, runs=tiny_runs)
            ids, start = view["ids"], view["start"]
        assert ids == expected and len(tiny_runs) == 0
    finally:
        handle.remove()


def test_stepping_back_and_rolling_again_gives_generates_next_token(tiny):
    """The page's "back": the request names an earlier state; the run is replayed from its start."""
    from attento.explain.step_view import Runs, step_view

    model, tok = tiny
    prompt = tok.encode("la diritta")
    expected = generate(model, torch.tensor([prompt]), 6, seed=3)[0].tolist()
    runs = Runs()
    ids, start = prompt, len(prompt)
    for _ in range(6):
        view = step_view(model, tok, ids, start, seed=3, runs=runs)
        ids, start = view["ids"], view["start"]
    back = expected[: len(prompt) + 2]
    again = step_view(model, tok, back, len(prompt), seed=3, runs=runs)
    assert again["ids"] == expected[: len(prompt) + 3] and again["start"] == len(prompt)


def test_runs_evict_the_oldest_run_beyond_their_byte_budget(tiny):
    from attento.explain.step_view import Runs, step_view

    model, tok = tiny
    probe = Runs()
    step_view(model, tok, tok.encode("via"), 3, seed=1, runs=probe)
    one = probe.nbytes
    assert one > 0 and len(probe) == 1
    runs = Runs(max_bytes=3 * one)
    for i, text in enumerate(["via", "vita", "selva", "oscura"]):
        step_view(model, tok, tok.encode(text), len(text), seed=i, runs=runs)
    assert len(runs) == 3 and runs.nbytes <= 3 * one
