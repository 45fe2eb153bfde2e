"""The labs' endpoints against a hostile page or client: no request names a file (embedders
come from a fixed list, the rankings file from the command line), malformed and oversized
bodies are refused without echo, the Host check covers them, and many simultaneous rankings
all land in the file, each line intact."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from fastapi.testclient import TestClient

from attento.embeddings.word2vec import BUNDLED_WORDS
from attento.explain.labs import MAX_TEXTS, Labs
from attento.explain.server import CSP, ECHO_CHARS, MAX_BODY_BYTES, create_app

from .labs_setup import lab_models
from .test_hostile import raw_request


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def labs(tmp_path_factory):
    root = tmp_path_factory.mktemp("labs-hostile")
    models = lab_models(root / "models")
    return Labs(
        chat_model=models["chat"], rankings=root / "rankings.jsonl", embedders=("dante-words",)
    )


@pytest.fixture(scope="module")
def client(catalog, labs):
    return TestClient(create_app(catalog, labs=labs), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def live(catalog, labs):
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(catalog, labs=labs)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize(
    "name",
    [
        str(BUNDLED_WORDS / "dante-words"),  # a real vectors folder, by path
        "../assets/words/dante-words",
        "/etc/passwd",
        "dante",  # a model name the explainer knows, not an embedder of the labs
        "minilm",  # an embedder load_embedder knows, not enabled on this server
    ],
)
def test_an_embedder_is_a_name_from_the_list_never_a_path(client, name):
    r = client.post("/api/labs/similarity", json={"texts": ["re"], "embedder": name})
    assert r.status_code == 400
    assert r.json()["code"] == "unknown_embedder"
    assert r.json()["params"]["available"] == ["dante-words"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "rank",
            {
                "prompt": "a",
                "answers": ["x", "y"],
                "order": [0, 1],
                "token": "0",
                "rankings": "/tmp/evil.jsonl",
            },
        ),
        ("sample", {"prompt": "a", "model": "/tmp/model"}),
        ("similarity", {"texts": ["re"], "path": "/etc/passwd"}),
        ("bias", {"lang": "it", "embedder": "/tmp/x"}),
    ],
)
def test_a_field_that_could_name_a_file_is_unknown(client, path, body, tmp_path):
    r = client.post(f"/api/labs/{path}", json=body)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"


BAD = [
    ("similarity", b'{"texts": []}', "texts"),
    ("similarity", json.dumps({"texts": ["re"] * (MAX_TEXTS + 1)}).encode(), "texts"),
    ("similarity", json.dumps({"texts": ["a" * 201]}).encode(), "texts"),
    ("similarity", b'{"texts": "re"}', "texts"),
    ("similarity", b'{"texts": ["re", "\\ud800"]}', "texts"),
    ("similarity", b'{"texts": [1, 2]}', "texts"),
    ("analogy", b'{"a": "re", "b": "re", "c": "re", "k": NaN}', "k"),
    ("analogy", b'{"a": "re", "b": "re", "c": "re", "k": 1000}', "k"),
    ("axes", b'{"words": ["re"], "axes": [["uomo"]]}', "axes"),
    ("axes", b'{"words": ["re"], "axes": [["a", "b"], ["c", "d"], ["e", "f"]]}', "axes"),
    ("axes", b'{"words": ["re"], "axes": []}', "axes"),
    ("bias", b'{"lang": "fr"}', "lang"),
    ("sample", b'{"prompt": "a", "k": 1}', "k"),
    ("sample", b'{"prompt": "a", "k": 100}', "k"),
    ("sample", b'{"prompt": "a", "seed": -1}', "seed"),
    ("sample", json.dumps({"prompt": "a" * 501}).encode(), "prompt"),
    ("rank", b'{"prompt": "a", "answers": ["x"], "order": [0], "token": "0"}', "answers"),
    ("rank", b'{"prompt": "a", "answers": ["x", "y"], "order": [0, 1e400], "token": "0"}', "order"),
    ("rank", b'{"prompt": "a", "answers": ["x", "y"], "order": [0, 1]}', "token"),
    ("compare", b'{"prompt": ["a"]}', "prompt"),
    ("map", b'{"words": ["re"', "body"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD)
def test_malformed_bodies_are_422_naming_the_field(client, path, body, field):
    r = client.post(f"/api/labs/{path}", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["code"] in ("invalid_request", "prompt_too_long")
    if r.json()["code"] == "invalid_request":
        assert r.json()["params"]["field"] == field


def test_errors_quote_at_most_a_little_of_the_request(client):
    word = "z" * 190
    r = client.post("/api/labs/similarity", json={"texts": [word]})
    assert r.json()["code"] == "unknown_word"
    assert word[: ECHO_CHARS + 1] not in r.text


def test_host_check_body_limit_and_headers_cover_the_labs(live):
    body = json.dumps({"texts": ["re"]}).encode()
    status, headers, raw = raw_request(live, "POST", "/api/labs/similarity", "evil.example", body)
    assert status == 400 and json.loads(raw)["code"] == "bad_host"
    big = json.dumps({"texts": ["re" * MAX_BODY_BYTES]}).encode()
    status, _, raw = raw_request(live, "POST", "/api/labs/similarity", "127.0.0.1", big)
    assert status == 413 and json.loads(raw)["code"] == "body_too_large"
    status, headers, _ = raw_request(live, "GET", "/labs.html", "127.0.0.1")
    assert status == 200 and headers["content-security-policy"] == CSP
    assert headers["x-frame-options"] == "DENY"


def test_many_simultaneous_rankings_all_land_intact(live, labs):
    status, _, raw = raw_request(
        live, "POST", "/api/labs/sample", "127.0.0.1", b'{"prompt": "2+3=", "k": 4}'
    )
    assert status == 200
    sampled = json.loads(raw)
    before = labs.rankings.read_text().splitlines() if labs.rankings.exists() else []
    n = 48

    def post(i: int) -> int:
        order = [i % 4, *(j for j in range(4) if j != i % 4)]
        body = json.dumps({**sampled, "order": order, "who": f"student-{i}"}).encode()
        status, _, _ = raw_request(live, "POST", "/api/labs/rank", "127.0.0.1", body)
        return status

    with ThreadPoolExecutor(n) as pool:
        statuses = list(pool.map(post, range(n)))
    assert statuses == [200] * n
    lines = labs.rankings.read_text(encoding="utf-8").splitlines()
    assert lines[: len(before)] == before
    records = [json.loads(line) for line in lines[len(before) :]]
    assert sorted(r["who"] for r in records) == sorted(f"student-{i}" for i in range(n))
    for r in records:
        i = int(r["who"].split("-")[1])
        assert r["answers"] == sampled["answers"] and r["order"][0] == i % 4
    assert not list(labs.rankings.parent.glob(".*.tmp"))
