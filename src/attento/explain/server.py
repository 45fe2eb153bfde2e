"""The explainer's web server: three JSON endpoints and the static page.

    GET  /api/models  -> {"default": name, "models": [facts of each model]}
    POST /api/trace   {model?, prompt? | ids?}       -> one traced forward pass (trace_view.py)
    POST /api/step    {model?, ids, start?, temperature, top_k?, top_p?, greedy, seed?}
                                                     -> the next token + KV cache (step_view.py)
    GET  /            -> the page (web/index.html and its ES modules; no build step, no CDN)

Requests name a model from the catalog (catalog.py), never a path. Mistakes come back as
4xx with a one-sentence `detail`: 422 for a malformed request (Pydantic: empty prompt,
temperature <= 0, top_p outside (0, 1], ...), 404 for an unknown model, 400 for input the
model cannot take (too many tokens, characters outside a character vocabulary).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator

from attento.errors import UserError
from attento.explain.catalog import Catalog
from attento.explain.step_view import step_view
from attento.explain.tensors import dumps
from attento.explain.trace_view import trace_view

WEB_DIR = Path(__file__).resolve().parent / "web"
MAX_PROMPT_CHARS = 4000
DEFAULT_PROMPTS = ("Nel mezzo del cammin", "To be, or not to be", "The")


class PackedJSON(JSONResponse):
    """JSON whose packed tensors are spliced in as they are (see tensors.dumps)."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


class UnknownModel(UserError):
    """A model name that is not in the catalog (HTTP 404)."""


class TraceRequest(BaseModel):
    """Trace a prompt (text) or a list of token ids; neither means the model's default prompt."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    prompt: str | None = Field(None, min_length=1, max_length=MAX_PROMPT_CHARS)
    ids: list[int] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def one_input(self) -> TraceRequest:
        if self.prompt is not None and self.ids is not None:
            raise ValueError("give either prompt or ids, not both")
        return self


class StepRequest(BaseModel):
    """One sampling step after `ids`; `start` is where the current seeded run began."""

    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    ids: list[int] = Field(min_length=1)
    start: int | None = Field(None, ge=0)
    temperature: float = Field(1.0, gt=0, le=100)
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0, le=1)
    greedy: bool = False
    seed: int | None = Field(None, ge=0, lt=2**53)


def default_prompt(tokenizer: Any) -> str:
    """The first of DEFAULT_PROMPTS this tokenizer can encode, else a few of its tokens."""
    for text in DEFAULT_PROMPTS:
        try:
            if tokenizer.encode(text):
                return text
        except UserError:
            continue
    return tokenizer.decode(list(range(min(8, tokenizer.vocab_size))))


def create_app(catalog: Catalog) -> FastAPI:
    """The FastAPI app serving `catalog`'s models and the page."""
    app = FastAPI(title="attento explainer", docs_url=None, redoc_url=None)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> JSONResponse:
        status = 404 if isinstance(exc, UnknownModel) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    def open_model(name: str | None) -> tuple[str, Any, Any]:
        name = name or catalog.default
        if name not in catalog.entries:
            raise UnknownModel(f"unknown model {name!r} (available: {', '.join(catalog.entries)})")
        model, tokenizer = catalog.load(name)
        if tokenizer is None:
            raise UserError(f"model {name!r} was saved without a tokenizer")
        return name, model, tokenizer

    def check_ids(ids: list[int], model: Any, room: int = 0) -> None:
        vocab, context = model.config.vocab_size, model.config.block_size
        bad = [i for i in ids if not 0 <= i < vocab]
        if bad:
            raise UserError(f"token id {bad[0]} is outside the vocabulary (0..{vocab - 1})")
        if len(ids) + room > context:
            raise UserError(
                f"{len(ids)} tokens {'leave no room for another' if room else 'exceed'} "
                f"this model's context of {context} tokens; shorten the prompt"
            )

    @app.get("/api/models")
    def models() -> dict[str, Any]:
        return {
            "default": catalog.default,
            "models": [entry.facts() for entry in catalog.entries.values()],
        }

    @app.post("/api/trace")
    def trace(req: TraceRequest) -> Response:
        name, model, tokenizer = open_model(req.model)
        if req.ids is not None:
            ids = req.ids
        else:
            text = req.prompt if req.prompt is not None else default_prompt(tokenizer)
            ids = tokenizer.encode(text)
            if not ids:
                raise UserError("the prompt gives no tokens: type at least one character")
        check_ids(ids, model)
        view = trace_view(model, tokenizer, ids)
        # a Response directly: the payload is already plain JSON (skips jsonable_encoder)
        return PackedJSON(
            {"model": catalog.entries[name].facts(), "prompt": tokenizer.decode(ids), "ids": ids}
            | view
        )

    @app.post("/api/step")
    def step(req: StepRequest) -> Response:
        _, model, tokenizer = open_model(req.model)
        check_ids(req.ids, model, room=1)
        start = len(req.ids) if req.start is None else req.start
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
        )
        return PackedJSON(view)

    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app
