"""Recorded forward passes, kept for a while: the page's later questions about the same prompt.

The page first asks for the overview of a prompt (/api/trace), then for each block it opens
(/api/block), another token's residual stream (/api/stack) and the exact value of the cell
under the mouse (/api/cell). Each of these requests carries the prompt's ids and is answered
from them alone: the records of one traced forward pass of those ids. `Traces` keeps the
records of recent prompts, so that the later requests cost a lookup instead of a forward pass
(GPT-2 small: ~45 MB of records for 64 tokens, ~0.3 s to compute on a small CPU). A prompt
that is not there (evicted, never asked, a restart) is traced again: the same numbers, since it
is the same computation.

What is kept is batch row 0 of every record, except the logits, of which only the last
position is computed (the others are never shown; for a 50k vocabulary the projection is a
third of GPT-2 small's forward pass: `last_position_only`), and the pre-softmax attention stages of prompts longer than STAGES_MAX_T (they grow
quadratically; the page shows the weights only).

Concurrent requests for a prompt that is being traced wait for that trace instead of computing
their own (a class opening the page at once asks for the same default prompt). A block asked
for a prompt that is not kept is traced only up to that block (`partial`): the forward pass
stops there, and those partial records are not kept.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any

import torch

from attento.models.trace import Trace, active

TRACES_MAX_BYTES = 256 * 2**20  # ~5 prompts of 64 tokens on GPT-2 small, hundreds on dante
STAGES_MAX_T = 128  # beyond this prompt length only the softmax weights of attention are kept
PRE_SOFTMAX = ("attn.scores", "attn.scaled_masked")


class Recorded:
    """The records of one forward pass of `ids` (batch row 0), and what it cost."""

    def __init__(self, records: dict[str, torch.Tensor], forward_ms: float) -> None:
        self.records = records
        self.forward_ms = forward_ms
        self.nbytes = sum(t.untyped_storage().nbytes() for t in records.values())

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.records[name]

    def __contains__(self, name: object) -> bool:
        return name in self.records


class LastPositionTrace(Trace):
    """A Trace under which the vocabulary projection sees only the last position, and the
    forward pass stops after block `stop_after` (None: it runs to the end)."""

    def __init__(self, stop_after: int | None = None) -> None:
        super().__init__()
        self.stop_after = stop_after


class _Stop(Exception):
    """Raised after the last block a partial trace needs."""


_hooked: weakref.WeakSet[torch.nn.Module] = weakref.WeakSet()
_hook_lock = threading.Lock()


def _last_position(module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    if isinstance(active(), LastPositionTrace):
        return (args[0][:, -1:], *args[1:])
    return None  # any other call, on any thread, runs unchanged


def _stopper(i: int) -> Any:
    def hook(module: torch.nn.Module, args: tuple[Any, ...], output: Any) -> None:
        tr = active()
        if isinstance(tr, LastPositionTrace) and tr.stop_after == i:
            raise _Stop

    return hook


def last_position_only(model: Any) -> None:
    """Give `model.lm_head` a hook that, inside a LastPositionTrace of this context only, cuts
    its input to the last position, and each block one that stops the forward pass where such
    a trace asks (the trace lives in a ContextVar: other threads running the same model
    plainly, or under another trace, are not affected)."""
    head = getattr(model, "lm_head", None)
    if not isinstance(head, torch.nn.Module):
        return
    with _hook_lock:
        if head not in _hooked:
            head.register_forward_pre_hook(_last_position)
            for i, block in enumerate(getattr(model, "blocks", [])):
                block.register_forward_hook(_stopper(i))
            _hooked.add(head)


@torch.no_grad()
def record(model: Any, ids: list[int], stop_after: int | None = None) -> Recorded:
    """Run `model` once on `ids` under a Trace and keep what the explainer shows; with
    `stop_after`, only up to that block (the records of the later ones are missing)."""
    last_position_only(model)
    t0 = time.perf_counter()
    with LastPositionTrace(stop_after) as tr, contextlib.suppress(_Stop):
        model(torch.tensor([ids], dtype=torch.long))
    forward_ms = (time.perf_counter() - t0) * 1000
    long = len(ids) > STAGES_MAX_T
    records = {}
    for name, t in tr.records.items():
        if long and name.endswith(PRE_SOFTMAX):
            continue
        records[name] = t[0, -1:].clone() if name == "logits" else t[0]
    return Recorded(records, forward_ms)


class Traces:
    """A bounded, thread-safe LRU of recorded forward passes, keyed by (model, ids)."""

    def __init__(self, max_bytes: int = TRACES_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, Recorded] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._pending: dict[tuple, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, model: Any, ids: list[int]) -> tuple[Recorded, bool]:
        """(the records of `ids`, whether they were kept from an earlier request)."""
        key = (model, tuple(ids))
        with self._lock:
            found = self._lookup(key)
            if found is not None:
                return found, True
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:  # one computation per prompt; the others wait for it
            with self._lock:
                found = self._lookup(key)
            if found is not None:
                return found, True
            try:
                recorded = record(model, ids)
                self._put(key, recorded)
            finally:
                with self._lock:
                    self._pending.pop(key, None)
        return recorded, False

    def partial(self, model: Any, ids: list[int], block: int) -> Recorded:
        """Records of `ids` up to block `block` at least: the kept ones, else a forward pass
        that stops after that block (not kept: a later overview traces the whole)."""
        with self._lock:
            found = self._lookup((model, tuple(ids)))
        if found is not None:
            return found
        n_layer = len(getattr(model, "blocks", []))
        return record(model, ids, stop_after=block if 0 <= block < n_layer else None)

    def _lookup(self, key: tuple) -> Recorded | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def _put(self, key: tuple, recorded: Recorded) -> None:
        if recorded.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = recorded
            self._bytes += recorded.nbytes
            while self._bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes
