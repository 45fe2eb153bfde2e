"""The explainer against a hostile page or client: Host check (DNS rebinding), bad numbers and
strings, oversized bodies, no echo of the request, no API docs unless asked, security headers.
The Host check and the body limit are tested through a real uvicorn too."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
from fastapi.testclient import TestClient

from attento.explain.server import (
    CSP,
    ECHO_CHARS,
    MAX_BODY_BYTES,
    MAX_IDS,
    MAX_QUERY_CHARS,
    HostRule,
    create_app,
)

ENDPOINTS = [("GET", "/"), ("GET", "/api/models"), ("POST", "/api/trace"), ("POST", "/api/step")]
ENDPOINTS += [("POST", "/api/block"), ("POST", "/api/stack"), ("POST", "/api/cell")]
ENDPOINTS += [("POST", "/api/lens"), ("POST", "/api/heads"), ("POST", "/api/cache")]
ENDPOINTS += [("POST", "/api/vocab"), ("GET", "/js/app.js"), ("GET", "/style.css")]
ENDPOINTS += [("POST", "/api/attention"), ("POST", "/api/history"), ("POST", "/api/snapshot")]
ENDPOINTS += [("GET", "/encoder.html"), ("GET", "/history.html"), ("GET", "/js/encoder.js")]
ENDPOINTS += [("POST", "/api/seq2seq"), ("GET", "/seq2seq.html"), ("GET", "/js/seq2seq.js")]


@pytest.fixture(scope="module")
def client(catalog):
    return TestClient(create_app(catalog), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def live(catalog):
    """A real uvicorn on a free loopback port, serving an app that believes it was started with
    `--host 0.0.0.0 --allow-host aula3.local` (the classroom set-up)."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(catalog, host="0.0.0.0", allow_hosts=["aula3.local"])
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


@pytest.fixture(scope="module")
def live_loopback(catalog):
    """The default set-up: started for 127.0.0.1."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(catalog), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield port
    srv.should_exit = True
    thread.join(timeout=10)


def raw_request(
    port: int,
    method: str,
    path: str,
    host: str | None,
    body: bytes | None = None,
    chunked: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly this Host header (None: no Host header at all)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        if body is not None:
            conn.putheader("Content-Type", "application/json")
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            else:
                conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body is not None:
            if chunked:
                for i in range(0, len(body), 8192):
                    piece = body[i : i + 8192]
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                conn.send(b"0\r\n\r\n")
            else:
                conn.send(body)
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        conn.close()


def body_for(method: str, path: str) -> bytes | None:
    if method != "POST":
        return None
    return json.dumps({"ids": [1, 2]}).encode()


# --------------------------------------------------------------------------- Host header


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "attacker.example:8000",
        "127.0.0.1.attacker.example",
        "localhost.attacker.example",
    ],
)
def test_a_rebinding_host_name_gets_400_on_every_endpoint(live_loopback, method, path, host):
    status, headers, raw = raw_request(live_loopback, method, path, host, body_for(method, path))
    assert status == 400
    assert json.loads(raw)["code"] == "bad_host"
    assert headers["content-security-policy"] == CSP


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_the_loopback_names_are_answered_with_or_without_a_port(live_loopback, host):
    for value in (host, f"{host}:{live_loopback}"):
        status, _, raw = raw_request(live_loopback, "GET", "/api/models", value)
        assert status == 200, value
        assert json.loads(raw)["default"] == "tiny"


def test_a_loopback_server_does_not_answer_for_other_addresses(live_loopback):
    for host in ("192.168.1.20", "[fe80::1]", "0.0.0.0"):
        status, _, raw = raw_request(live_loopback, "GET", "/api/models", host)
        assert status == 400 and json.loads(raw)["code"] == "bad_host", host


def test_a_request_without_a_host_header_is_refused(live_loopback):
    status, _, _ = raw_request(live_loopback, "GET", "/api/models", None)
    assert status == 400


def test_a_classroom_server_answers_ip_addresses_and_allowed_names_only(live):
    for host in ("192.168.1.20:8000", "10.0.0.7", "[fe80::1]:8000", "localhost", "aula3.local"):
        status, _, _ = raw_request(live, "GET", "/api/models", host)
        assert status == 200, host
    for host in ("attacker.example", "aula4.local", "192.168.1.20.nip.io"):
        status, _, raw = raw_request(live, "GET", "/api/models", host)
        assert status == 400 and json.loads(raw)["code"] == "bad_host", host


def test_host_rule_for_a_named_bind_address():
    rule = HostRule("192.168.1.20", allow=["[fd00::5]"])
    assert rule.allows("192.168.1.20:8000") and rule.allows("[fd00::5]:80")
    assert rule.allows("localhost:1") and rule.allows("[::1]")
    assert not rule.allows("192.168.1.21") and not rule.allows("example.com")


# --------------------------------------------------------------------------- bad input

BAD_BODIES = [
    ("/api/step", b'{"ids": [1, 2], "temperature": NaN}', "temperature"),
    ("/api/step", b'{"ids": [1, 2], "temperature": Infinity}', "temperature"),
    ("/api/step", b'{"ids": [1, 2], "temperature": -Infinity}', "temperature"),
    ("/api/step", b'{"ids": [1, 2], "top_p": NaN}', "top_p"),
    ("/api/step", b'{"ids": [1, 2], "top_p": Infinity}', "top_p"),
    ("/api/step", b'{"ids": [1, 2], "top_p": -Infinity}', "top_p"),
    ("/api/step", b'{"ids": [1, NaN]}', "ids"),
    ("/api/step", b'{"ids": [1, 2], "seed": 1e400}', "seed"),
    ("/api/step", b'{"ids": [1, 2], "top_k": "3; DROP"}', "top_k"),
    ("/api/trace", b'{"prompt": "Nel \\ud800 mezzo"}', "prompt"),
    ("/api/trace", b'{"prompt": "\\udfff"}', "prompt"),
    ("/api/trace", b'{"model": "\\ud83d", "prompt": "via"}', "model"),
    ("/api/trace", b'{"\\ud800": 1}', "body"),
    ("/api/trace", b'{"prompt": "via"', "body"),
    ("/api/trace", b"\xff\xfe\x00", "body"),
    ("/api/trace", b"[1, 2]", "body"),
    ("/api/trace", b'"just a string"', "body"),
    ("/api/trace", b'{"ids": {"0": 1}}', "ids"),
    ("/api/block", b'{"ids": [1, 2], "block": NaN}', "block"),
    ("/api/block", b'{"ids": [1, 2], "block": "0; DROP"}', "block"),
    ("/api/block", b'{"ids": [1, 2], "block": 1e400}', "block"),
    ("/api/block", b'{"ids": [1, 2], "block": 0.5}', "block"),
    ("/api/block", b'{"ids": [1, 2]}', "block"),
    ("/api/block", b'{"ids": [], "block": 0}', "ids"),
    ("/api/stack", b'{"ids": [1, 2], "pos": Infinity}', "pos"),
    ("/api/lens", b'{"ids": [1, 2], "pos": NaN}', "pos"),
    ("/api/lens", b'{"ids": [1, 2], "pos": 0, "target": -1}', "target"),
    ("/api/heads", b'{"ids": [1, 2], "pos": 0}', "pos"),
    ("/api/heads", b'{"ids": "1, 2"}', "ids"),
    ("/api/cache", b'{"ids": [1, 2], "layer": NaN}', "layer"),
    ("/api/cache", b'{"ids": [1, 2]}', "layer"),
    ("/api/cell", b'{"ids": [1, 2], "name": "\\ud800", "index": [0]}', "name"),
    (
        "/api/cell",
        b'{"ids": [1, 2], "name": "ln_f", "index": [0, 0, 0, 0, 0, 0, 0, 0, 0]}',
        "index",
    ),
    ("/api/vocab", b'{"query": ""}', "query"),
    ("/api/attention", b'{"prompt": "\\ud800"}', "prompt"),
    ("/api/attention", b'{"ids": [1, NaN]}', "ids"),
    ("/api/attention", b'{"prompt": "a", "ids": [1]}', "body"),
    ("/api/history", b'{"model": 7}', "model"),
    ("/api/history", b'{"steps": 1}', "steps"),
    ("/api/snapshot", b'{"step": NaN}', "step"),
    ("/api/snapshot", b'{"step": 1e400}', "step"),
    ("/api/snapshot", b'{"step": "0; DROP"}', "step"),
    ("/api/snapshot", b'{"step": -1}', "step"),
    ("/api/snapshot", b'{"prompt": "a"}', "step"),
    ("/api/vocab", b'{"query": "\\udfff"}', "query"),
    ("/api/seq2seq", b'{"source": "\\ud800"}', "source"),
    ("/api/seq2seq", b'{"target": [1, NaN]}', "target"),
    ("/api/seq2seq", b'{"src": [1], "source": "1"}', "body"),
    ("/api/seq2seq", b'{"start": 1e400}', "start"),
    ("/api/seq2seq", b'{"step": "0; DROP"}', "step"),
    ("/api/seq2seq", b'{"seed": -1}', "seed"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_BODIES)
def test_bad_numbers_and_strings_get_a_short_422_never_a_500(client, path, body, field):
    r = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    data = r.json()
    assert data["code"] == "invalid_request" and data["params"] == {"field": field}
    assert len(data["detail"]) < 150
    assert "NaN" not in data["detail"] and "Infinity" not in data["detail"]
    assert "DROP" not in r.text and "mezzo" not in r.text


def test_the_same_bad_input_through_uvicorn_is_a_422(live):
    status, _, raw = raw_request(
        live, "POST", "/api/step", "127.0.0.1", b'{"ids": [1], "temperature": NaN}'
    )
    assert status == 422 and json.loads(raw)["code"] == "invalid_request"
    status, _, raw = raw_request(live, "POST", "/api/trace", "127.0.0.1", b'{"prompt": "\\ud800"}')
    assert status == 422 and json.loads(raw)["params"] == {"field": "prompt"}


MARKER = "Q7w" + "".join(chr(ord("a") + i % 26) for i in range(300))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/trace", {"model": MARKER, "prompt": "via"}),
        ("/api/trace", {"prompt": MARKER, "ids": [1]}),
        ("/api/trace", {"prompt": MARKER * 20}),
        ("/api/trace", {MARKER: 1}),
        ("/api/trace", {"prompt": "ZZ" + MARKER}),
        ("/api/step", {"ids": [1], "model": MARKER}),
        ("/api/step", {"ids": [1], "temperature": MARKER}),
        ("/api/step", {"ids": [1, 2], "greedy": MARKER}),
        ("/api/block", {"ids": [1, 2], "block": MARKER}),
        ("/api/cell", {"ids": [1, 2], "name": MARKER, "index": [0]}),
        ("/api/lens", {"ids": [1, 2], "pos": 0, "model": MARKER}),
        ("/api/heads", {"ids": [1, 2], MARKER: 0}),
        ("/api/cache", {"ids": [1, 2], "layer": MARKER}),
        ("/api/cell", {"ids": [1, 2], "name": "ZZ" + MARKER[:90], "index": [0]}),
        ("/api/vocab", {"query": MARKER}),
        ("/api/attention", {"model": MARKER, "prompt": "via"}),
        ("/api/attention", {"prompt": "ZZ" + MARKER}),
        ("/api/history", {"model": MARKER}),
        ("/api/snapshot", {"model": MARKER, "step": 0}),
        ("/api/snapshot", {"step": 0, "prompt": "ZZ" + MARKER}),
        ("/api/seq2seq", {"model": MARKER}),
        ("/api/seq2seq", {"source": MARKER, "target": [1]}),
    ],
)
def test_errors_quote_at_most_a_few_characters_of_the_request(client, path, body):
    r = client.post(path, json=body)
    assert 400 <= r.status_code < 500
    # MARKER repeats with period 26 after its first 3 characters: these windows are all of them
    windows = {MARKER[i : i + ECHO_CHARS + 1] for i in range(3 + 26)}
    assert not any(w in r.text for w in windows), r.text[:200]
    assert MARKER[:20] not in r.text or "..." in r.text  # a quote is cut and says so
    assert set(r.json()) == {"detail", "code", "params"}


# --------------------------------------------------------------------------- body limit


def test_a_body_over_the_limit_is_refused_with_413(client):
    big = json.dumps({"prompt": "a" * (MAX_BODY_BYTES + 10)}).encode()
    r = client.post("/api/trace", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {
        "detail": f"the request body is larger than {MAX_BODY_BYTES} bytes",
        "code": "body_too_large",
        "params": {"max": MAX_BODY_BYTES},
    }


def test_a_body_just_under_the_limit_reaches_validation(client):
    body = json.dumps({"prompt": "a" * (MAX_BODY_BYTES - 100)}).encode()
    r = client.post("/api/trace", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] == "prompt_too_long"


@pytest.mark.parametrize("chunked", [False, True])
def test_uvicorn_refuses_an_oversized_body_declared_or_streamed(live, chunked):
    big = json.dumps({"ids": [1] * MAX_BODY_BYTES}).encode()
    status, _, raw = raw_request(live, "POST", "/api/step", "127.0.0.1", big, chunked=chunked)
    assert status == 413 and json.loads(raw)["code"] == "body_too_large"
    # and the server still answers
    assert raw_request(live, "GET", "/api/models", "127.0.0.1")[0] == 200


# --------------------------------------------------------------------------- docs and headers


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"])
def test_no_api_description_unless_asked(client, catalog, path):
    assert client.get(path).status_code == 404
    assert client.get(path).json()["code"] == "not_found"
    asked = TestClient(create_app(catalog, api_docs=True), base_url="http://localhost")
    if path in ("/openapi.json", "/docs"):
        assert asked.get(path).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/", None, 200),
        ("GET", "/js/app.js", None, 200),
        ("GET", "/api/models", None, 200),
        ("POST", "/api/trace", {"prompt": "via"}, 200),
        ("POST", "/api/trace", {"prompt": ""}, 422),
        ("POST", "/api/trace", {"model": "nope"}, 404),
        ("GET", "/nothing-here", None, 404),
        ("POST", "/", {}, 405),
        ("PUT", "/api/trace", {}, 405),
    ],
)
def test_every_answer_carries_the_security_headers(client, method, path, body, status):
    r = client.request(method, path, json=body)
    assert r.status_code == status
    if status >= 400:
        assert set(r.json()) == {"detail", "code", "params"}
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["content-security-policy"] == CSP


def test_the_csp_allows_only_the_pages_own_scripts():
    rules = dict(part.strip().split(" ", 1) for part in CSP.split(";"))
    assert rules["script-src"] == "'self'" and rules["default-src"] == "'self'"
    assert rules["frame-ancestors"] == "'none'" and rules["connect-src"] == "'self'"
    assert "unsafe-inline" not in rules["script-src"] and "unsafe-eval" not in CSP


# --------------------------------------------------------------------------- detail endpoints


@pytest.mark.parametrize("block", [-1, 2, 3, 2**31 - 1, -(2**31)])
def test_a_block_the_model_does_not_have_is_a_bad_block(client, block):
    r = client.post("/api/block", json={"ids": [1, 2, 3], "block": block})
    assert r.status_code == 400
    assert r.json()["code"] == "bad_block" and r.json()["params"] == {"block": block, "blocks": 2}


@pytest.mark.parametrize("pos", [-1, 3, 10**6])
def test_a_position_outside_the_prompt_is_a_bad_position(client, pos):
    for path in ("/api/stack", "/api/lens"):
        r = client.post(path, json={"ids": [1, 2, 3], "pos": pos})
        assert r.status_code == 400 and r.json()["code"] == "bad_position", path


@pytest.mark.parametrize(
    ("name", "index", "field"),
    [
        ("blocks.9.attn.q", [0, 0, 0], "name"),
        ("../../etc/passwd", [0], "name"),
        ("blocks.0.attn.q", [0, 0], "index"),  # (H, T, Dh) needs three
        ("blocks.0.attn.q", [0, 3, 0], "index"),  # only 3 tokens
        ("blocks.0.attn.q", [0, -1, 0], "index"),  # no negative indexing
        ("embed.sum", [0, 10**6], "index"),
    ],
)
def test_a_cell_outside_the_trace_is_a_bad_cell(client, name, index, field):
    r = client.post("/api/cell", json={"ids": [1, 2, 3], "name": name, "index": index})
    assert r.status_code == 400
    assert r.json()["code"] == "bad_cell" and r.json()["params"] == {"field": field}


@pytest.mark.parametrize(
    "path", ["/api/block", "/api/stack", "/api/cell", "/api/lens", "/api/heads", "/api/cache"]
)
def test_detail_requests_take_the_same_limits_as_a_step(client, path, catalog):
    extra = {"/api/block": {"block": 0}, "/api/stack": {"pos": 0}, "/api/lens": {"pos": 0}}
    extra["/api/heads"] = {}
    extra["/api/cache"] = {"layer": 0}
    extra["/api/cell"] = {"name": "embed.sum", "index": [0, 0]}
    vocab = catalog.load("tiny")[0].config.vocab_size
    cases = [
        ([1] * (MAX_IDS + 1), 400, "too_many_tokens"),  # checked before any work
        ([1] * 49, 400, "context_full"),  # the tiny model reads 48 tokens
        ([1, vocab], 400, "token_out_of_vocab"),
        ([1, -1], 422, "invalid_request"),
    ]
    for ids, status, code in cases:
        r = client.post(path, json={"ids": ids, **extra[path]})
        assert (r.status_code, r.json()["code"]) == (status, code), (path, code)
    r = client.post(path, json={"ids": [1, 2], "model": "nope", **extra[path]})
    assert r.status_code == 404 and r.json()["code"] == "unknown_model"


def test_a_vocabulary_query_over_the_limit_is_refused(client):
    r = client.post("/api/vocab", json={"query": "a" * (MAX_QUERY_CHARS + 1)})
    assert r.status_code == 422 and r.json()["params"] == {"field": "query"}
