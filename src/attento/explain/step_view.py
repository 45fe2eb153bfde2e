"""One roll of the die, and the KV cache that made it cheap.

`step_view` appends one token to `ids` with the generation loop of `attento.generate` (its
`Decoder`, die and `pick`, the very code behind `attento generate`), so that what the page
shows is what the command line writes:

- greedy: the most likely token;
- sampling with a seed S: the die of a *run* is seeded once, when the run starts (at position
  `start`). The k-th roll of a run therefore gives the k-th token of
  `generate(ids[:start], k, seed=S)`, i.e. exactly what `attento generate --seed S` prints. If
  the tokens after `start` are not what that run would have produced (the settings changed, or
  the person stepped back and changed something), the run restarts at the current end;
- sampling without a seed: a fresh die.

A seeded run keeps its state between clicks: after each roll, the run's decoder (its KV cache)
and its die wait in `Runs`, keyed by everything that determines them (model, settings, seed,
start, the ids so far). The next click with exactly those ids takes them and pays one token's
forward pass, as the generation loop does. When the run is not there (evicted, taken by a
request with the same ids, or a server restart), the run is replayed from `start` (one forward
pass per token since then): slower, but the same tokens, since it is the same computation.

Then it shows the KV cache at work on the token just drawn, as the generation loop feeds it:
the earlier tokens are run once (prefill) into the model's real cache, and the new token goes
in alone under a `Trace`. Its q, k, v are computed now; the keys and values of the earlier
tokens are read back from the cache (the cache holds the n_kv_head key/value heads only, and
so does the view). The logits equal those of a full recomputation; the largest difference is
reported. Its tensors travel as u8 heat maps and f16 weights (tensors.py): GPT-2 small's
cache for 64 tokens is 1.2 million numbers, so a step carries the keys and values of the one
layer the page shows, and the page asks for another layer's (`layer_kv`) when it is picked.

The view also carries what such a cache costs in memory (`memory`): per token, for these
tokens and at full context, and what multi-head attention would take, from the same
`CacheShape.memory` as `attento kv-cache`, in the dtype of the keys just computed; the sizes
come formatted too (`human`), so the page shows them without a second formatter.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

from attento.explain.tensors import pack
from attento.explain.trace_view import heads_of
from attento.generate import filter_logits, probabilities
from attento.generate.loop import Decoder
from attento.generate.sampling import SamplingConfig, make_generators, pick
from attento.models.kv_memory import CacheShape, human_bytes

RUNS_MAX_BYTES = 64 * 2**20  # KV caches kept for seeded runs: ~128 runs of the bundled models


@dataclass
class Run:
    """A seeded run between two clicks: its decoder (ids + KV cache) and its die."""

    decoder: Decoder
    generators: list[torch.Generator]
    start: int

    @property
    def nbytes(self) -> int:
        cache = self.decoder.cache
        layers = cache.layers if cache is not None else []
        # the buffers behind the cached keys and values (they grow with room to spare)
        kv = sum(
            t.untyped_storage().nbytes()
            for layer in layers
            for t in (layer.k, layer.v)
            if t is not None
        )
        return kv + self.decoder.ids.nbytes


class Runs:
    """A bounded, thread-safe LRU of seeded runs, waiting for their next click.

    `take` removes the run it returns, so a run is only ever advanced by one request at a time;
    a second request with the same ids finds nothing and replays (the same tokens)."""

    def __init__(self, max_bytes: int = RUNS_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._runs: OrderedDict[tuple, tuple[Run, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._runs)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def take(self, key: tuple) -> Run | None:
        with self._lock:
            found = self._runs.pop(key, None)
            if found is None:
                return None
            self._bytes -= found[1]
            return found[0]

    def put(self, key: tuple, run: Run) -> None:
        size = run.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._runs.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._runs[key] = (run, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._runs.popitem(last=False)
                self._bytes -= dropped


def run_key(model: Any, config: SamplingConfig, start: int, ids: list[int]) -> tuple:
    """Everything that determines a seeded run's state (a model is equal only to itself)."""
    return (model, config, start, tuple(ids))


@torch.inference_mode()
def choose(
    model: Any,
    ids: list[int],
    start: int,
    config: SamplingConfig,
    runs: Runs | None = None,
) -> tuple[int, int, torch.Tensor]:
    """(next token, start of the run it belongs to, the logits it was drawn from)."""
    room = model.config.block_size - len(ids)
    if config.greedy or config.seed is None:
        decoder = Decoder(model, torch.tensor([ids]), 1)
        _, generators = make_generators(config.seed, 1)
        logits = decoder.next_logits()
        return int(pick(logits, config, generators)), start, logits[0]
    run = runs.take(run_key(model, config, start, ids)) if runs is not None else None
    if run is None:
        run = replay(model, ids, start, config, room)
    logits = run.decoder.next_logits()
    token = int(pick(logits, config, run.generators))
    run.decoder.append(torch.tensor([token]))
    if runs is not None and room > 1:
        runs.put(run_key(model, config, run.start, [*ids, token]), run)
    return token, run.start, logits[0]


def replay(model: Any, ids: list[int], start: int, config: SamplingConfig, room: int) -> Run:
    """The seeded run started at `start`, advanced over ids[start:] as `generate` would; a new
    run at the end of `ids` if it would have written other tokens."""
    if 0 < start <= len(ids):
        decoder = Decoder(model, torch.tensor([ids[:start]]), len(ids) - start + room)
        _, generators = make_generators(config.seed, 1)
        for expected in ids[start:]:
            if int(pick(decoder.next_logits(), config, generators)) != expected:
                break
            decoder.append(torch.tensor([expected]))
        else:
            return Run(decoder, generators, start)
    decoder = Decoder(model, torch.tensor([ids]), room)
    return Run(decoder, make_generators(config.seed, 1)[1], len(ids))


@torch.no_grad()
def cache_view(
    model: Any, tokenizer: Any, ids: list[int], kv_layer: int | None = None
) -> dict[str, Any]:
    """Prefill ids[:-1] into a real KV cache, then trace the last token alone; compare its
    logits with a full (cache-free) forward.

    Every layer's query and weights travel; the keys and values (the bulk: 1.2 MB of u8 for
    GPT-2 small at 64 tokens) only for layer `kv_layer`, the one the page draws (None: all);
    the page asks `layer_kv` for another when it is picked. With a sliding window the cache
    keeps the last W tokens only: `tokens` are those rows, from position `first`."""
    rec, cached, after, diff = _traced_step(model, ids)
    layers = []
    for i in range(model.config.n_layer):
        p = f"blocks.{i}.attn."
        layer = {
            "q": pack(rec[p + "q"][0, :, -1], dtype="u8"),  # (H, Dh): the new token's queries
            "weights": pack(rec[p + "weights"][0, :, -1], dtype="f16"),  # (H, N)
        }
        if kv_layer is None or i == kv_layer:
            layer |= _kv(rec, i)
        layers.append(layer)
    n_head, n_kv = heads_of(model.config)
    # the rows the new token read: every token, or with a sliding window only the last W
    first = len(ids) - rec["blocks.0.attn.k"].size(2)
    return {
        "tokens": [{"id": int(i), "text": tokenizer.token_str(int(i))} for i in ids[first:]],
        "first": first,
        "cached": cached - first,
        "new": len(ids) - cached,
        "cache_length_after": after,
        "n_head": n_head,
        "n_kv_head": n_kv,
        "layers": layers,
        "max_abs_diff": diff,
        "memory": memory_view(model.config, len(ids), rec["blocks.0.attn.k"].element_size()),
    }


def memory_view(config: Any, tokens: int, dtype_bytes: int) -> dict[str, Any]:
    """`CacheShape.memory` of this model after `tokens` tokens, each size also as text."""
    memory = CacheShape.from_config(config).memory(tokens, dtype_bytes)
    sizes = [k for k in memory if "bytes" in k and k != "dtype_bytes"]
    return memory | {"human": {k: human_bytes(memory[k]) for k in sizes}}


def layer_kv(model: Any, ids: list[int], layer: int) -> dict[str, Any]:
    """The cached keys and values of one layer, as `cache_view` shows them."""
    return {"layer": layer} | _kv(_traced_step(model, ids, compare=False)[0], layer)


def _kv(rec: dict[str, torch.Tensor], i: int) -> dict[str, Any]:
    # (Hkv, N, Dh): cached rows + the new one; query head h reads h // (H / Hkv)
    p = f"blocks.{i}.attn."
    return {"k": pack(rec[p + "k"][0], dtype="u8"), "v": pack(rec[p + "v"][0], dtype="u8")}


@torch.no_grad()
def _traced_step(
    model: Any, ids: list[int], compare: bool = True
) -> tuple[dict[str, torch.Tensor], int, int, float]:
    """(records of the last token fed alone after a prefill, tokens cached before it, cache
    length after it, largest logit difference from a cache-free forward, if `compare`)."""
    from attento.models.trace import Trace

    cache = model.new_cache(1)
    if len(ids) > 1:
        model(torch.tensor([ids[:-1]], dtype=torch.long), cache=cache)
    cached = cache.length
    with Trace() as tr:
        logits = model(torch.tensor([ids[-1:]], dtype=torch.long), cache=cache)[0, -1]
    if not compare:
        return tr.records, cached, cache.length, float("nan")
    full = model(torch.tensor([ids], dtype=torch.long))[0, -1]
    return tr.records, cached, cache.length, float((logits - full).abs().max())


def step_view(
    model: Any,
    tokenizer: Any,
    ids: list[int],
    start: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int | None = None,
    runs: Runs | None = None,
    kv_layer: int | None = None,
) -> dict[str, Any]:
    """Choose the next token after `ids`, and show the cache as the new token goes in.

    `runs` keeps seeded runs between calls (None: every call replays its run); `kv_layer`:
    the one layer whose keys and values the view carries (None: all, see `cache_view`)."""
    config = SamplingConfig(temperature, top_k, top_p, greedy, seed)
    token, start, logits = choose(model, ids, start, config, runs)
    with torch.inference_mode():
        probs = probabilities(filter_logits(logits.float(), temperature, top_k, top_p))
    new_ids = [*ids, token]
    view = cache_view(model, tokenizer, new_ids, kv_layer)
    return {
        "token": {"id": token, "text": tokenizer.token_str(token)},
        "prob": float(probs[token]),
        "ids": new_ids,
        "start": start,
        "text": tokenizer.decode(new_ids),
        "cache": view,
    }
