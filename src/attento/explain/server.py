"""The explainer's web server: JSON endpoints and the static page.

    GET  /api/models  -> {"default": name, "models": [facts of each model]}   (catalog.py)
    POST /api/trace   {model?, prompt? | ids?}  -> the overview of one traced forward pass
    POST /api/block   {model?, ids, block}      -> one block's detail             (trace_view.py)
    POST /api/stack   {model?, ids, pos}        -> one token's residual stream, stage by stage
    POST /api/cell    {model?, ids, name, index} -> the exact float32 of one traced number
    POST /api/lens    {model?, ids, pos, target?} -> the logit lens of one token, block by block
    POST /api/heads   {model?, ids}             -> every head's attention map and summaries
    POST /api/vocab   {model?, query}           -> the vocabulary's tokens that match a text
    POST /api/step    {model?, ids, start?, temperature, top_k?, top_p?, greedy, seed?,
                       cache_layer?}           -> the next token + KV cache   (step_view.py)
    POST /api/cache   {model?, ids, layer}      -> one layer's cached keys and values
    POST /api/attention {model?, prompt? | ids?} -> every block's attention weights, causal
                                                or not, and an encoder's [MASK] logits
                                                (encoder_view.py, for encoder.html)
    POST /api/history {model?}                  -> a run's snapshot steps and loss log
    POST /api/snapshot {model?, step, prompt? | ids?} -> the model at that snapshot: next-token
                                                logits, attention   (history_view.py)
    POST /api/seq2seq {model?, source? | src?, target?, step?, start?, temperature, top_k?,
                       top_p?, greedy, seed?}  -> an encoder–decoder's three attentions and
                                                next-token logits for the target so far; with
                                                step, after writing its next token
                                                (seq2seq_view.py, for seq2seq.html)
    GET  /            -> the page (web/index.html and its ES modules; no build step, no CDN)

Requests name a model from the catalog (catalog.py), never a path. Every request is answered
from its own body alone (no session): the only state kept between requests is the loaded
models, a bounded cache of recorded forward passes that makes the page's later questions about
a prompt cheap (traces.Traces), and one of seeded runs that makes the next roll cheap
(step_view.Runs; an encoder–decoder's run also needs its source's decoder, kept in
seq2seq_view.Writers). Either may forget: the answer is then recomputed, equal.

**Errors.** Every 4xx answer is JSON `{"detail": sentence, "code": code, "params": {...}}`:
`detail` is one short English sentence that quotes at most ~40 characters of the request;
the page shows its own text for `code`, filled in from `params`.

    code                 status  params              when
    invalid_request      422     field               malformed request: wrong type, missing or
                                                     unknown field, out of range, NaN/Infinity,
                                                     lone surrogates, not JSON
    prompt_empty         422/400                     empty prompt, or one that gives no tokens
    prompt_too_long      422     max                 more than MAX_PROMPT_CHARS characters
    unknown_model        404     available           a name that is not in the catalog
    no_tokenizer         400                         the model was saved without a tokenizer
    token_out_of_vocab   400     id, vocab           a token id outside the vocabulary
    context_full         400     tokens, context     more tokens than the context (for a step:
                                                     no room for one more)
    unencodable          400     char                a character the tokenizer cannot encode
    too_many_tokens      400     max                 a step/cache/block/stack/cell request over
                                                     MAX_IDS ids
    bad_block            400     block, blocks       a block (or cache layer) the model lacks
    bad_position         400     pos, tokens         a position outside the prompt
    bad_cell             400     field               a record name or index not in the trace
    encoder_model        400                         an encoder (BERT) asked for a decoder's
                                                     view (trace, block, step...): encoder.html
    seq2seq_model        400                         an encoder–decoder asked for another
                                                     page's view: seq2seq.html
    not_seq2seq          400                         /api/seq2seq of a model that is not one
    bad_source           400                         pad in an encoder–decoder's source
    bad_target           400     id                  pad or BOS in a target, or EOS before its end
    seq2seq_done         400                         a step after <eos>, or with a full context
    no_history           400                         a model without snapshots (history.html)
    bad_step             400     step, steps         a step that has no snapshot
    no_lens              400                         a logit lens of a model without ln_f + lm_head
    body_too_large       413     max                 a body over MAX_BODY_BYTES
    bad_host             400                         a Host header the server does not answer
    not_found            404                         no such page or endpoint
    method_not_allowed   405                         e.g. POST / (the page is GET only)

**A hostile page or client.** The server answers only requests whose Host header names it
(`HostRule`): a page on another site that resolves its own name to this machine (DNS
rebinding) sends that name and is refused. Bodies are capped, errors never echo the request,
/openapi.json and /docs exist only with `api_docs=True`, and every answer carries
`X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and
a Content-Security-Policy that lets the page run only its own scripts (CSP).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from attento.errors import UserError
from attento.explain.catalog import Catalog
from attento.explain.encoder_view import decoder_attention, encoder_ids, encoder_view, is_encoder
from attento.explain.heads import heads_view
from attento.explain.history_view import Snapshots, check_step, history_view, snapshot_view
from attento.explain.lens import lens_view
from attento.explain.seq2seq_view import (
    Writers,
    check_source,
    check_target,
    seq2seq_step,
    seq2seq_view,
)
from attento.explain.settings import ServeSettings
from attento.explain.step_view import Runs, layer_kv, step_view
from attento.explain.tensors import dumps
from attento.explain.trace_view import (
    block_view,
    cell_value,
    check_block,
    overview,
    stack_view,
)
from attento.explain.traces import Traces

WEB_DIR = Path(__file__).resolve().parent / "web"
MAX_PROMPT_CHARS = 4000
MAX_IDS = 1024  # ids one step/block/stack/cell request may carry: bounds its forward pass
MAX_QUERY_CHARS = 100  # a vocabulary search
VOCAB_MATCHES = 20  # tokens one vocabulary search lists
MAX_BODY_BYTES = 64 * 1024  # a full prompt of 4-byte characters, or 1024 ids, fits many times
ECHO_CHARS = 40  # the most of a request an error message quotes
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
# /docs (only with api_docs) is FastAPI's Swagger UI: an inline script and files from a CDN
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def quote(text: str) -> str:
    """At most ECHO_CHARS printable characters of `text`, safe to put in an error."""
    cut = text[:ECHO_CHARS]
    safe = "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in cut)
    return safe + ("..." if len(text) > ECHO_CHARS else "")


def error_body(detail: str, code: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"detail": detail, "code": code, "params": params or {}}


def error_response(status: int, detail: str, code: str, **params: Any) -> JSONResponse:
    return JSONResponse(error_body(detail, code, params), status_code=status)


def no_lone_surrogates(text: str) -> str:
    """Refuse a string holding half of a UTF-16 pair: it is not text and cannot be encoded."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise ValueError("the text holds a lone surrogate (half of a UTF-16 pair)")
    return text


Text = Annotated[str, AfterValidator(no_lone_surrogates)]
TokenId = Annotated[int, Field(ge=0, lt=2**31)]


class PackedJSON(JSONResponse):
    """JSON whose packed tensors are spliced in as they are (see tensors.dumps)."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


class TraceRequest(BaseModel):
    """Trace a prompt (text) or a list of token ids; neither means the model's default prompt."""

    model_config = ConfigDict(extra="forbid")
    model: Text | None = Field(None, max_length=200)
    prompt: Text | None = Field(None, min_length=1, max_length=MAX_PROMPT_CHARS)
    ids: list[TokenId] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def one_input(self) -> TraceRequest:
        if self.prompt is not None and self.ids is not None:
            raise ValueError("give either prompt or ids, not both")
        return self


class IdsRequest(BaseModel):
    """A question about the traced forward pass of `ids` (traces.py)."""

    model_config = ConfigDict(extra="forbid")
    model: Text | None = Field(None, max_length=200)
    ids: list[TokenId] = Field(min_length=1)


class BlockRequest(IdsRequest):
    block: int = Field(ge=-(2**31), lt=2**31)


class StackRequest(IdsRequest):
    pos: int = Field(ge=-(2**31), lt=2**31)


class LensRequest(StackRequest):
    target: TokenId | None = None


class CellRequest(IdsRequest):
    name: Text = Field(min_length=1, max_length=100)
    index: list[Annotated[int, Field(ge=-(2**31), lt=2**31)]] = Field(max_length=8)


class VocabRequest(BaseModel):
    """Tokens of the model's vocabulary whose text holds `query`."""

    model_config = ConfigDict(extra="forbid")
    model: Text | None = Field(None, max_length=200)
    query: Text = Field(min_length=1, max_length=MAX_QUERY_CHARS)


class SnapshotRequest(TraceRequest):
    """A prompt (or ids) through the snapshot of one training step."""

    step: int = Field(ge=0, lt=2**62)


class HistoryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Text | None = Field(None, max_length=200)


class StepRequest(BaseModel):
    """One sampling step after `ids`; `start` is where the current seeded run began."""

    model_config = ConfigDict(extra="forbid")
    model: Text | None = Field(None, max_length=200)
    ids: list[TokenId] = Field(min_length=1)
    start: int | None = Field(None, ge=0, lt=2**31)
    temperature: float = Field(1.0, gt=0, le=100, allow_inf_nan=False)
    top_k: int | None = Field(None, ge=1, lt=2**31)
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    greedy: bool = False
    seed: int | None = Field(None, ge=0, lt=2**53)
    # the layer whose cached keys/values the answer carries (the page's); None: every layer
    cache_layer: int | None = Field(None, ge=-(2**31), lt=2**31)


class Seq2SeqRequest(BaseModel):
    """An encoder–decoder reading `source` (text) or `src` (ids; neither: the model's prompt)
    with `target` written so far; with `step`, it first writes one more token."""

    model_config = ConfigDict(extra="forbid")
    model: Text | None = Field(None, max_length=200)
    source: Text | None = Field(None, min_length=1, max_length=MAX_PROMPT_CHARS)
    src: list[TokenId] | None = Field(None, min_length=1)
    target: list[TokenId] = Field(default_factory=list)
    step: bool = False
    start: int = Field(0, ge=0, lt=2**31)
    temperature: float = Field(1.0, gt=0, le=100, allow_inf_nan=False)
    top_k: int | None = Field(None, ge=1, lt=2**31)
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    greedy: bool = False
    seed: int | None = Field(None, ge=0, lt=2**53)

    @model_validator(mode="after")
    def one_input(self) -> Seq2SeqRequest:
        if self.source is not None and self.src is not None:
            raise ValueError("give either source or src, not both")
        return self


class CacheRequest(IdsRequest):
    """The cached keys and values of `layer` after a step that ended with ids[-1]."""

    layer: int = Field(ge=-(2**31), lt=2**31)


def validation_error(exc: RequestValidationError) -> JSONResponse:
    """Pydantic's first complaint as one of our codes, without the input it complained about."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "type": "", "msg": "invalid request"}
    names = [part for part in first.get("loc", ())[1:] if isinstance(part, str)]
    field = quote(names[0]) if names else "body"
    kind = first.get("type", "")
    if field == "prompt" and kind in ("string_too_short", "too_short"):
        return error_response(
            422, "the prompt is empty: type at least one character", "prompt_empty"
        )
    if field == "prompt" and kind in ("string_too_long", "too_long"):
        return error_response(
            422,
            f"the prompt is longer than {MAX_PROMPT_CHARS} characters",
            "prompt_too_long",
            max=MAX_PROMPT_CHARS,
        )
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind in ("json_invalid", "model_attributes_type", "string_unicode", "dict_type"):
        message = "the body is not a JSON object"
    else:
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")[:120]
    return error_response(
        422, f"invalid request ({field}): {message}", "invalid_request", field=field
    )


class HostRule:
    """Which Host headers the server answers.

    Always the loopback names (127.0.0.1, localhost, [::1]), the address it was bound to, and
    each `allow` name. Bound to a wildcard (0.0.0.0 or ::), as for a classroom, it also answers
    any IP literal: a DNS-rebinding page can only send its own DNS name, never an IP address,
    so an IP literal in Host is always a client that typed this machine's address. Names other
    than localhost (e.g. a machine's `aula3.local`) must be allowed one by one with --allow-host.
    """

    def __init__(self, bind: str = ServeSettings.host, allow: Iterable[str] = ()) -> None:
        bind = bind.strip("[]").lower()
        self.names = {*LOOPBACK_HOSTS, *(a.strip("[]").lower() for a in allow)}
        self.any_ip = bind in WILDCARD_BINDS
        if not self.any_ip:
            self.names.add(bind)

    @staticmethod
    def hostname(header: str) -> str:
        """`name`, `name:port`, `[v6]` or `[v6]:port` -> the lower-case name or address."""
        header = header.strip().lower()
        if header.startswith("["):
            return header[1 : header.find("]")] if "]" in header else ""
        if header.count(":") == 1:
            return header.split(":")[0]
        return header

    def allows(self, header: str) -> bool:
        name = self.hostname(header)
        if name in self.names:
            return True
        if not self.any_ip:
            return False
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True


Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


class Guard:
    """ASGI middleware in front of everything: Host check, body limit, security headers."""

    def __init__(self, app: ASGIApp, hosts: HostRule, docs_path: str | None = None) -> None:
        self.app, self.hosts, self.docs_path = app, hosts, docs_path

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] == self.docs_path else CSP

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {b"x-frame-options", b"content-security-policy"}
                ]
                message["headers"] = [
                    *headers,
                    *SECURITY_HEADERS,
                    (b"content-security-policy", csp.encode()),
                ]
            await send(message)

        hosts = [v.decode("latin-1") for k, v in scope["headers"] if k == b"host"]
        if len(hosts) != 1 or not self.hosts.allows(hosts[0]):
            response = error_response(
                400, "this server does not answer for that host name", "bad_host"
            )
            await response(scope, receive, send_with_headers)
            return
        body, too_large = await self.read_body(scope, receive)
        if too_large:
            response = error_response(
                413,
                f"the request body is larger than {MAX_BODY_BYTES} bytes",
                "body_too_large",
                max=MAX_BODY_BYTES,
            )
            await response(scope, receive, send_with_headers)
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect

        await self.app(scope, replay, send_with_headers)

    @staticmethod
    async def read_body(scope: Scope, receive: Any) -> tuple[bytes, bool]:
        """The whole body, or (b"", True) as soon as it is longer than MAX_BODY_BYTES."""
        for k, v in scope["headers"]:
            if k == b"content-length" and (not v.isdigit() or int(v) > MAX_BODY_BYTES):
                return b"", True
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return b"", True
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks), False


def create_app(
    catalog: Catalog,
    host: str = ServeSettings.host,
    allow_hosts: Iterable[str] = ServeSettings.allow_hosts,
    api_docs: bool = ServeSettings.api_docs,
    runs: Runs | None = None,
    traces: Traces | None = None,
    labs: Any = None,
) -> FastAPI:
    """The app serving `catalog`'s models and the page, for a server bound to `host`.

    `allow_hosts`: more Host names to answer (see HostRule); `api_docs`: serve /openapi.json
    and /docs; `runs`: the cache of seeded runs, `traces`: the cache of recorded forward passes
    (default: new ones of default size); `labs`: a labs.Labs, whose endpoints (labs.py) it
    serves too.
    """
    app = FastAPI(
        title="attento explainer",
        docs_url="/docs" if api_docs else None,
        openapi_url="/openapi.json" if api_docs else None,
        redoc_url=None,
    )
    runs = Runs() if runs is None else runs
    traces = Traces() if traces is None else traces
    vocabularies: dict[str, list[str]] = {}
    vocab_lock = threading.Lock()
    snapshots = Snapshots()
    writers = Writers()

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> JSONResponse:
        code = exc.code or "bad_input"
        status = 404 if code == "unknown_model" else 400
        return JSONResponse(error_body(str(exc), code, exc.params), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI: a body it cannot even decode
            return error_response(
                422, "invalid request (body): the body is not JSON", "invalid_request", field="body"
            )
        codes = {404: "not_found", 405: "method_not_allowed"}
        words = {404: "there is nothing at this address", 405: "this method is not allowed here"}
        return error_response(
            exc.status_code,
            words.get(exc.status_code, "the request cannot be answered"),
            codes.get(exc.status_code, "http_error"),
        )

    def open_model(
        name: str | None, encoders: bool = False, seq2seq: bool = False
    ) -> tuple[str, Any, Any]:
        """(name, model, tokenizer); an encoder only where `encoders` (the decoder views do
        not apply to it), an encoder–decoder only and always where `seq2seq`."""
        name = name or catalog.default
        if name not in catalog.entries:
            raise UserError(
                f"unknown model {quote(name)!r}",
                code="unknown_model",
                params={"available": list(catalog.entries)},
            )
        if catalog.entries[name].facts()["encoder_decoder"] != seq2seq:
            if seq2seq:
                raise UserError(f"model {name!r} is not an encoder–decoder", code="not_seq2seq")
            raise UserError(
                f"model {name!r} is an encoder–decoder: its view is /seq2seq.html",
                code="seq2seq_model",
            )
        if not seq2seq and not encoders and not catalog.entries[name].facts()["decoder_only"]:
            raise UserError(
                f"model {name!r} is an encoder (BERT): its view is /encoder.html",
                code="encoder_model",
            )
        model, tokenizer = catalog.load(name)
        if tokenizer is None:
            raise UserError(f"model {name!r} was saved without a tokenizer", code="no_tokenizer")
        return name, model, tokenizer

    def check_ids(ids: list[int], model: Any, room: int = 0) -> None:
        vocab, context = model.config.vocab_size, model.config.block_size
        bad = next((i for i in ids if i >= vocab), None)
        if bad is not None:
            raise UserError(
                f"token id {bad} is outside the vocabulary (0..{vocab - 1})",
                code="token_out_of_vocab",
                params={"id": bad, "vocab": vocab},
            )
        if len(ids) + room > context:
            raise UserError(
                f"{len(ids)} tokens {'leave no room for another' if room else 'exceed'} "
                f"this model's context of {context} tokens; shorten the prompt",
                code="context_full",
                params={"tokens": len(ids), "context": context},
            )

    @app.get("/api/models")
    def models() -> dict[str, Any]:
        return {
            "default": catalog.default,
            "models": [entry.facts() for entry in catalog.entries.values()],
        }

    def check_count(ids: list[int]) -> None:
        if len(ids) > MAX_IDS:
            raise UserError(
                f"a request takes at most {MAX_IDS} tokens",
                code="too_many_tokens",
                params={"max": MAX_IDS},
            )

    def recorded(req: IdsRequest) -> tuple[Any, Any]:
        """(model, records of req.ids), after the same checks as every request with ids."""
        check_count(req.ids)
        _, model, _ = open_model(req.model)
        check_ids(req.ids, model)
        return model, traces.get(model, req.ids)[0]

    @app.post("/api/trace")
    def trace(req: TraceRequest) -> Response:
        t0 = time.perf_counter()
        name, model, tokenizer = open_model(req.model)
        facts = catalog.entries[name].facts()
        if req.ids is not None:
            ids = req.ids
        else:
            text = req.prompt if req.prompt is not None else facts["prompt"]
            ids = tokenizer.encode(text)
            if not ids:
                raise UserError(
                    "the prompt gives no tokens: type at least one character", code="prompt_empty"
                )
        check_ids(ids, model)
        rec, kept = traces.get(model, ids)
        view = overview(model, tokenizer, ids, rec)
        view["timing_ms"] = {
            "forward": 0.0 if kept else round(rec.forward_ms, 2),
            "total": round((time.perf_counter() - t0) * 1000, 2),
            "kept": kept,
        }
        # a Response directly: the payload is already plain JSON (skips jsonable_encoder)
        return PackedJSON({"model": facts, "prompt": tokenizer.decode(ids), "ids": ids} | view)

    @app.post("/api/block")
    def block(req: BlockRequest) -> Response:
        check_count(req.ids)
        _, model, _ = open_model(req.model)
        check_ids(req.ids, model)
        check_block(req.block, model.config.n_layer)
        rec = traces.partial(model, req.ids, req.block)
        return PackedJSON(block_view(rec, req.block, model.config))

    @app.post("/api/stack")
    def stack(req: StackRequest) -> Response:
        model, rec = recorded(req)
        return PackedJSON(stack_view(rec, model.config.n_layer, req.pos))

    @app.post("/api/lens")
    def lens(req: LensRequest) -> dict[str, Any]:
        check_count(req.ids)
        _, model, tokenizer = open_model(req.model)
        check_ids(req.ids, model)
        return lens_view(model, tokenizer, traces.get(model, req.ids)[0], req.pos, req.target)

    @app.post("/api/heads")
    def heads(req: IdsRequest) -> Response:
        model, rec = recorded(req)
        return PackedJSON(heads_view(rec, model.config))

    @app.post("/api/cell")
    def cell(req: CellRequest) -> dict[str, Any]:
        _, rec = recorded(req)
        return cell_value(rec, req.name, req.index)

    def vocabulary(name: str, model: Any, tokenizer: Any) -> list[str]:
        """Every token's text, computed once per model."""
        with vocab_lock:
            if name not in vocabularies:
                n = min(model.config.vocab_size, tokenizer.vocab_size)
                vocabularies[name] = [tokenizer.token_str(i) for i in range(n)]
            return vocabularies[name]

    @app.post("/api/vocab")
    def vocab(req: VocabRequest) -> dict[str, Any]:
        """The tokens the query encodes to, then up to VOCAB_MATCHES tokens whose text holds it
        (ignoring case): equal first, then those starting with it, shortest first."""
        name, model, tokenizer = open_model(req.model)
        try:
            encoded = [int(i) for i in tokenizer.encode(req.query)][:VOCAB_MATCHES]
        except UserError:
            encoded = []  # a character the tokenizer cannot encode: search the texts only
        texts = vocabulary(name, model, tokenizer)
        q = req.query.casefold()
        found = [(i, t) for i, t in enumerate(texts) if q in t.casefold()]
        found.sort(
            key=lambda it: (
                it[1] != req.query,
                not it[1].casefold().startswith(q),
                len(it[1]),
                it[0],
            )
        )
        return {
            "query": req.query,
            "encoded": [{"id": i, "text": texts[i] if i < len(texts) else ""} for i in encoded],
            "matches": [{"id": i, "text": t} for i, t in found[:VOCAB_MATCHES]],
            "total": len(found),
        }

    @app.post("/api/step")
    def step(req: StepRequest) -> Response:
        check_count(req.ids)
        _, model, tokenizer = open_model(req.model)
        check_ids(req.ids, model, room=1)
        start = len(req.ids) if req.start is None else req.start
        if req.cache_layer is not None:
            check_block(req.cache_layer, model.config.n_layer)
        view = step_view(
            model,
            tokenizer,
            req.ids,
            start,
            temperature=req.temperature,
            top_k=req.top_k,
            top_p=req.top_p,
            greedy=req.greedy,
            seed=req.seed,
            runs=runs,
            kv_layer=req.cache_layer,
        )
        return PackedJSON(view)

    @app.post("/api/cache")
    def cache(req: CacheRequest) -> Response:
        check_count(req.ids)
        _, model, _ = open_model(req.model)
        check_ids(req.ids, model)
        check_block(req.layer, model.config.n_layer)
        return PackedJSON(layer_kv(model, req.ids, req.layer))

    def prompt_ids(req: TraceRequest, encoders: bool) -> tuple[str, Any, Any, list[int]]:
        """(name, model, tokenizer, ids) of a request's prompt, ids or the model's prompt;
        an encoder reads the text as fill-mask does (encoder_view.encoder_ids)."""
        name, model, tokenizer = open_model(req.model, encoders=encoders)
        if req.ids is not None:
            ids = req.ids
        else:
            text = req.prompt if req.prompt is not None else catalog.entries[name].facts()["prompt"]
            ids = encoder_ids(tokenizer, text) if is_encoder(model) else tokenizer.encode(text)
            if not ids:
                raise UserError(
                    "the prompt gives no tokens: type at least one character", code="prompt_empty"
                )
        check_count(ids)
        check_ids(ids, model)
        return name, model, tokenizer, ids

    @app.post("/api/attention")
    def attention(req: TraceRequest) -> Response:
        name, model, tokenizer, ids = prompt_ids(req, encoders=True)
        if is_encoder(model):
            view = encoder_view(model, tokenizer, ids)
        else:
            view = decoder_attention(model, tokenizer, ids, traces.get(model, ids)[0])
        return PackedJSON({"model": catalog.entries[name].facts(), "ids": ids} | view)

    def history_folder(name: str | None) -> tuple[str, Path]:
        name = name or catalog.default
        open_model(name)  # the same checks (known, a decoder) as every other request
        return name, catalog.entries[name].path

    @app.post("/api/history")
    def history(req: HistoryRequest) -> dict[str, Any]:
        name, folder = history_folder(req.model)
        return {"model": name} | history_view(folder)

    @app.post("/api/snapshot")
    def snapshot(req: SnapshotRequest) -> Response:
        name, folder = history_folder(req.model)
        steps = history_view(folder)["steps"]
        check_step(req.step, steps)
        _, final, tokenizer, ids = prompt_ids(req, encoders=False)
        model = snapshots.get(folder, req.step, final)
        view = snapshot_view(model, tokenizer, ids, req.step)
        return PackedJSON({"model": name, "ids": ids} | view)

    @app.post("/api/seq2seq")
    def seq2seq(req: Seq2SeqRequest) -> Response:
        name = req.model or next(
            (n for n, e in catalog.entries.items() if e.facts()["encoder_decoder"]), None
        )
        if name is None:
            raise UserError("the catalog holds no encoder–decoder", code="not_seq2seq")
        name, model, tokenizer = open_model(name, seq2seq=True)
        if req.src is not None:
            src = req.src
        else:
            text = req.source if req.source is not None else catalog.entries[name].facts()["prompt"]
            src = tokenizer.encode(text)
            if not src:
                raise UserError(
                    "the source gives no tokens: type at least one character", code="prompt_empty"
                )
        for ids, room in ((src, 0), (req.target, 1 + req.step)):  # BOS, and the step's token
            check_count(ids)
            check_ids(ids, model, room=room)
        check_source(model, src)
        check_target(model, req.target)
        if req.step:
            view = seq2seq_step(
                model,
                tokenizer,
                src,
                req.target,
                req.start,
                temperature=req.temperature,
                top_k=req.top_k,
                top_p=req.top_p,
                greedy=req.greedy,
                seed=req.seed,
                runs=runs,
                writers=writers,
            )
        else:
            view = seq2seq_view(model, tokenizer, src, req.target)
        return PackedJSON({"model": catalog.entries[name].facts(), "src": src} | view)

    if labs is not None:
        from attento.explain.labs import labs_router

        app.include_router(labs_router(labs))
    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    app.add_middleware(
        Guard, hosts=HostRule(host, allow_hosts), docs_path="/docs" if api_docs else None
    )
    return app
