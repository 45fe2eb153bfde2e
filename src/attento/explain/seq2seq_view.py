"""The encoder–decoder at work, one written token at a time: what seq2seq.html draws.

The 2017 Transformer reads a source (the digits "347") with its encoder and writes a target
("trecentoquarantasette") with its decoder, token by token. Three attentions do the work,
and the page shows each, in every block and head:

- the encoder's self-attention over the source: bidirectional, no mask (as BERT);
- the decoder's self-attention over the target written so far: masked, causal (as GPT);
- cross-attention: the target's queries read the encoder's output (the memory), so each row
  says which source tokens that output position looks at.

`seq2seq_view` traces one forward pass of (source, BOS + target so far) and sends, from that
trace (models/trace.py: encoder.{i}.attn.weights, decoder.{i}.attn.weights,
decoder.{i}.cross.weights, logits), the three weight tensors and the exact float32 logits of
the next token, which the page's temperature / top-k / top-p sliders turn into probabilities
as the final step does (sampling.js). `seq2seq_step` first chooses that next token with the
generation loop itself (step_view.choose on `model.conditioned(source)`, the decoder that
`transduce` drives): greedy, or a die seeded when the run began at BOS, whose k-th roll is the
k-th token of `transduce(model, source, seed=S)`; a target the run would not have written
restarts the run at its end, as on the main page. Between clicks the run waits in the
server's `Runs` (its KV cache and die), found again because the same source gets the same
conditioned decoder (`Writers`): a click costs one token's forward pass, not a replay.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import torch

from attento.errors import UserError
from attento.explain.step_view import Runs, choose
from attento.explain.tensors import pack
from attento.explain.trace_view import TOP_LOGITS
from attento.generate import filter_logits, probabilities
from attento.generate.sampling import SamplingConfig
from attento.models.trace import Trace

WRITERS_MAX = 256  # sources whose encoder output is kept between clicks
ATTENTIONS = {
    "encoder": "encoder.{}.attn",
    "decoder": "decoder.{}.attn",
    "cross": "decoder.{}.cross",
}


class Writers:
    """A bounded, thread-safe LRU of decoders bound to one source (`model.conditioned(src)`).

    A seeded run is kept under the decoder it drives (step_view.Runs, keyed by that object), so
    the next click must bring the same object: the same (model, source) gets it here. The
    decoder holds only the encoder's output, read and never written, so threads may share it."""

    def __init__(self, size: int = WRITERS_MAX) -> None:
        self.size = size
        self._writers: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: Any, src: list[int]) -> Any:
        key = (model, tuple(src))
        with self._lock:
            if key in self._writers:
                self._writers.move_to_end(key)
                return self._writers[key]
        with torch.inference_mode():
            writer = model.conditioned(torch.tensor([src], dtype=torch.long))
        with self._lock:
            writer = self._writers.setdefault(key, writer)
            while len(self._writers) > self.size:
                self._writers.popitem(last=False)
            return writer


def is_seq2seq(model: Any) -> bool:
    """An encoder–decoder: a model that writes a target conditioned on a source."""
    return hasattr(model, "conditioned")


def specials(model: Any) -> dict[int, str]:
    c = model.config
    return {c.pad_id: "<pad>", c.bos_id: "<bos>", c.eos_id: "<eos>"}


def tokens(model: Any, tokenizer: Any, ids: list[int]) -> list[dict[str, Any]]:
    """Each id with its text; pad, BOS and EOS by name (their characters are invisible)."""
    named = specials(model)
    return [
        {"id": i, "text": named[i], "special": True}
        if i in named
        else {"id": i, "text": tokenizer.token_str(i)}
        for i in ids
    ]


def check_source(model: Any, src: list[int]) -> None:
    """A source without padding: the encoder hides pad tokens, and a source of pad alone
    would leave cross-attention nothing to read."""
    if model.config.pad_id in src:
        raise UserError("the source holds <pad>: give the real tokens only", code="bad_source")


def check_target(model: Any, target: list[int]) -> None:
    """A target as the decoder writes it: no pad or BOS, and EOS only as its last token."""
    c = model.config
    inner = target[:-1] if target and target[-1] == c.eos_id else target
    bad = next((i for i in inner if i in (c.pad_id, c.bos_id, c.eos_id)), None)
    if bad is not None:
        raise UserError(
            f"the target holds {specials(model)[bad]} where the decoder never writes it",
            code="bad_target",
            params={"id": bad},
        )


def finished(model: Any, target: list[int]) -> bool:
    """Whether the decoder is done: it wrote EOS, or BOS + target fill its context."""
    c = model.config
    return bool(target and target[-1] == c.eos_id) or len(target) + 1 >= c.block_size


@torch.no_grad()
def record_pair(model: Any, src: list[int], target: list[int]) -> dict[str, torch.Tensor]:
    """One traced teacher-forced forward pass of (source, BOS + target); batch row 0."""
    tgt = [model.config.bos_id, *target]
    with Trace() as tr:
        model(torch.tensor([src], dtype=torch.long), torch.tensor([tgt], dtype=torch.long))
    return {name: t[0] for name, t in tr.records.items()}


def seq2seq_view(model: Any, tokenizer: Any, src: list[int], target: list[int]) -> dict[str, Any]:
    """Source and target tokens, the three attentions of every block (n_layer, H, rows, keys)
    and the next token's logits, all from one traced forward pass."""
    c = model.config
    rec = record_pair(model, src, target)
    weights = {
        kind: pack(
            torch.stack([rec[f"{name.format(i)}.weights"] for i in range(c.n_layer)]), dtype="f16"
        )
        for kind, name in ATTENTIONS.items()
    }
    logits = rec["logits"][-1].float()
    top = torch.topk(logits, min(TOP_LOGITS, logits.numel()))
    named = specials(model)
    return {
        "source": tokens(model, tokenizer, src),
        "target": tokens(model, tokenizer, [c.bos_id, *target]),
        "written": target,
        "text": tokenizer.decode([i for i in target if i not in named]),
        "done": finished(model, target),
        "n_layer": c.n_layer,
        "n_head": c.n_head,
        **weights,
        "next": {
            "logits": pack(logits, max_width=logits.numel()),
            "top": [
                {"id": int(i), "text": named.get(int(i), tokenizer.token_str(int(i))), "logit": v}
                for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
            ],
        },
    }


def seq2seq_step(
    model: Any,
    tokenizer: Any,
    src: list[int],
    target: list[int],
    start: int = 0,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int | None = None,
    runs: Runs | None = None,
    writers: Writers | None = None,
) -> dict[str, Any]:
    """Write the next target token as `transduce` would, then the view of the longer target.

    `start`: how many target tokens there were when the current seeded run began (0: at BOS,
    so the run is `transduce(..., seed=seed)`); the answer says where its run began. `runs`
    and `writers` keep seeded runs between calls (None: every call replays its run)."""
    if finished(model, target):
        raise UserError(
            "the answer is written: the target ends with <eos> or fills the context",
            code="seq2seq_done",
        )
    config = SamplingConfig(temperature, top_k, top_p, greedy, seed)
    bos = model.config.bos_id
    writer = (writers or Writers(1)).get(model, src)
    ids, begin = [bos, *target], min(start, len(target)) + 1
    token, began, logits = choose(writer, ids, begin, config, runs)
    with torch.inference_mode():
        probs = probabilities(filter_logits(logits.float(), temperature, top_k, top_p))
    new = [*target, token]
    step = {"token": tokens(model, tokenizer, [token])[0], "prob": float(probs[token])}
    return step | {"start": began - 1} | seq2seq_view(model, tokenizer, src, new)
