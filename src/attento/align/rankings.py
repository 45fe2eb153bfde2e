"""Rankings from people: the human step of RLHF, and how a ranking becomes training data.

In the course's RLHF, a model answers a prompt several times and a person orders the
answers from best to worst. One ranking record (one JSON object per line of a .jsonl file):

    {"prompt": "...", "answers": ["a0", "a1", "a2"], "order": [1, 0, 2],
     "who": "anna", "when": "2026-12-02T08:00:00+00:00"}

`order` lists indices into `answers` (counted from 0), best first: here a1 > a0 > a2. A
ranking must name every answer exactly once: a tie or a forgotten answer is a mistake (one
line), not a guess.

A ranking of K answers holds K(K-1)/2 judgements "this one is better than that one", the
(chosen, rejected) pairs a reward model trains on with the Bradley–Terry loss (as in
InstructGPT, which trained on all pairs of each ranking). `ranking_preferences` expands a
file of rankings into those pairs, so `attento reward` and `dpo` read rankings as they read
pairs.

`append_ranking` adds one record so that the file is never half-written: under an exclusive
lock (two people ranking at once wait for each other), the old lines plus the new one go to
a temporary sibling that is flushed to disk and renamed over the file, an atomic step.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attento.align.data import Preference, read_records
from attento.config import Config, check_counts, check_positive
from attento.errors import UserError
from attento.messages import user_error
from attento.seeds import check_seed

FIELDS = ("prompt", "answers", "order")


def parse_order(text: str, k: int) -> list[int]:
    """What a person types, "2 1 3" (answer numbers from 1, best first, spaces or commas),
    -> 0-based indices [1, 0, 2]. Ties, missing answers and strangers are one-line errors."""
    parts = text.replace(",", " ").split()
    if not parts:
        raise user_error("order_count", k=k)
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise user_error("order_numbers", text=text.strip()) from None
    return check_order([n - 1 for n in numbers], k, one_based=True)


def check_order(order: Sequence[Any], k: int, one_based: bool = False) -> list[int]:
    """`order` must hold each of 0..k-1 exactly once."""
    shift = 1 if one_based else 0
    if not isinstance(order, (list, tuple)) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in order
    ):
        raise user_error("order_list")
    outside = [i + shift for i in order if not 0 <= i < k]
    if outside:
        raise user_error("order_outside", n=outside[0], first=shift, last=k - 1 + shift)
    seen: set[int] = set()
    for i in order:
        if i in seen:
            raise user_error("order_twice", n=i + shift)
        seen.add(i)
    missing = [i + shift for i in range(k) if i not in seen]
    if missing:
        raise user_error("order_missing", missing=missing, k=k)
    return list(order)


def make_record(
    prompt: str, answers: Sequence[str], order: Sequence[int], who: str = ""
) -> dict[str, Any]:
    """A checked ranking record, stamped with the current UTC time."""
    record = {
        "prompt": prompt,
        "answers": list(answers),
        "order": list(order),
        "who": who,
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    check_record(record)
    return record


def check_record(record: dict[str, Any], where: str = "ranking") -> None:
    missing = [f for f in FIELDS if f not in record]
    if missing:
        raise UserError(f"{where}: a ranking needs the field {missing[0]!r}")
    prompt, answers = record["prompt"], record["answers"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError(f"{where}: 'prompt' must be a non-empty string")
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise UserError(f"{where}: 'answers' must be a list of strings")
    if len(answers) < 2:
        raise UserError(f"{where}: a ranking needs at least two answers")
    try:
        check_order(record["order"], len(answers))
    except UserError as e:
        raise UserError(f"{where}: {e}") from None


def ranking_pairs(answers: Sequence[str], order: Sequence[int]) -> list[tuple[str, str]]:
    """The K(K-1)/2 (chosen, rejected) pairs of a ranking: each answer beats every answer
    ranked below it."""
    order = check_order(order, len(answers))
    return [
        (answers[order[i]], answers[order[j]])
        for i in range(len(order))
        for j in range(i + 1, len(order))
    ]


def is_rankings(record: dict[str, Any]) -> bool:
    return all(f in record for f in FIELDS)


def ranking_preferences(path: str | Path) -> list[Preference]:
    """A rankings file -> the `Preference` pairs of all its rankings."""
    out = []
    for i, record in enumerate(read_records(path)):
        where = f"{path}, record {i + 1}"
        check_record(record, where)
        messages = [{"role": "user", "content": record["prompt"]}]
        for chosen, rejected in ranking_pairs(record["answers"], record["order"]):
            out.append(Preference(messages, chosen, rejected))
    return out


def append_ranking(path: str | Path, record: dict[str, Any]) -> Path:
    """Add one checked record to a .jsonl rankings file (created if absent), atomically."""
    check_record(record)
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder: give a .jsonl file for the rankings")
    if not path.parent.is_dir():
        raise UserError(f"folder {path.parent} not found: give a file in an existing folder")
    line = json.dumps(record, ensure_ascii=False) + "\n"
    lock = path.parent / f".{path.name}.lock"
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        old = path.read_bytes() if path.exists() else b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
        with tmp.open("wb") as f:
            f.write(old + line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    return path


def ranking_prompts(path: str | Path) -> list[list[dict[str, str]]]:
    """The prompts of a rankings file, each once (for PPO)."""
    prompts = dict.fromkeys(p.prompt[0]["content"] for p in ranking_preferences(path))
    return [[{"role": "user", "content": p}] for p in prompts]


@dataclass
class RankSettings(Config):
    """How the answers to rank are sampled; checked when made.

    k: answers per prompt, 2 to 9 (one digit each in the order typed)
    max_new_tokens: the longest answer, in tokens
    temperature: sampling temperature of the answers
    seed: seed of the first prompt's answers (the next prompts take seed + 1, + 2, ...)
    """

    k: int = 3
    max_new_tokens: int = 64
    temperature: float = 1.0
    seed: int = 0

    def check(self) -> None:
        k = self.k
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 9:
            raise UserError(f"the number of answers must be between 2 and 9, got {k!r}")
        check_counts(self, "max_new_tokens")
        check_positive(self, "temperature")
        check_seed(self.seed)


def sample_answers(
    model: Any,
    chat: Any,
    prompt: str,
    k: int = RankSettings.k,
    max_new_tokens: int = RankSettings.max_new_tokens,
    temperature: float = RankSettings.temperature,
    seed: int = RankSettings.seed,
) -> list[str]:
    """K answers of a chat model to one prompt, sampled together (one seed, K rows)."""
    from attento.align.rollout import sample

    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 9:
        raise user_error("answers_count", k=k)
    RankSettings(k, max_new_tokens, temperature, seed)
    if not prompt.strip():
        raise user_error("prompt_empty")
    messages = [[{"role": "user", "content": prompt}]] * k
    return sample(model, chat, messages, max_new_tokens, temperature, seed).texts
