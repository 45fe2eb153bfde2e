"""Fine-tuning data in the formats people bring, read into two shapes.

Instruction data (for SFT) becomes *conversations*: lists of {"role", "content"} messages.
- Alpaca: {"instruction", "input" (may be empty), "output"}; the user turn is the
  instruction, followed by the input after a blank line when there is one.
- chat: {"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}.

Preference data (for reward models and DPO) becomes `Preference`s: a prompt conversation
and two answers, the one a person preferred (`chosen`) and the other (`rejected`).
- explicit prompt: {"prompt", "chosen", "rejected"}; each is a string, or (as TRL's
  conversational format) a list of messages;
- rankings from people: {"prompt", "answers", "order", ...}, each ranking of K answers
  giving its K(K-1)/2 pairs (rankings.py);
- Anthropic hh-rlhf: {"chosen", "rejected"}, two whole dialogues
  "\\n\\nHuman: ... \\n\\nAssistant: ..." that share everything up to the last
  "\\n\\nAssistant:"; that shared prefix is the prompt, the rest are the two answers.

Files are a JSON array (.json) or one JSON object per line (.jsonl), optionally gzipped
(.gz). Every problem (unreadable file, empty file, unknown format, a record missing a field)
is a `UserError` that names the file and, where it helps, the record.

Helpers serve every stage that batches these examples: `hold_out` (the seeded
train/validation split of the reward model and DPO), `pad_rows` (token-id rows padded to
one tensor, on the right for scoring, on the left for prompts to continue) and
`random_state`/`set_random_state` (a batch source's sampler in a training checkpoint).
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from attento.align.chat import ROLES, Message
from attento.errors import UserError

HUMAN, ASSISTANT = "\n\nHuman:", "\n\nAssistant:"
FORMATS = {
    "alpaca": ("instruction", "output"),
    "chat": ("messages",),
    "preference": ("prompt", "chosen", "rejected"),
    "hh-rlhf": ("chosen", "rejected"),
}


@dataclass(frozen=True)
class Preference:
    """One human judgement: for this prompt, `chosen` is better than `rejected`."""

    prompt: list[Message]
    chosen: str
    rejected: str


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a .json array or a .jsonl file (either may be gzipped)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"data file {path} is a folder: give a .json or .jsonl file in it")
    if not path.is_file():
        raise UserError(f"data file {path} not found")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            raise UserError(f"{path} is not a readable gzip file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None
    if not text.strip():
        raise UserError(f"{path} is empty")
    try:
        if text.lstrip().startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is neither a JSON array nor JSON lines ({e.msg})") from None
    except RecursionError:
        raise UserError(f"{path} is nested too deeply to be fine-tuning data") from None
    if not records:
        raise UserError(f"{path} holds no records")
    if not all(isinstance(r, dict) for r in records):
        raise UserError(f"{path}: every record must be a JSON object")
    return records


def detect_format(record: dict[str, Any], source: str = "data") -> str:
    """Name of the format whose fields the record has (the first that matches)."""
    for name, fields in FORMATS.items():
        if all(f in record for f in fields):
            return name
    known = "; ".join(f"{n}: {', '.join(f)}" for n, f in FORMATS.items())
    raise UserError(
        f"{source}: unknown data format with fields {', '.join(sorted(record)) or 'none'} "
        f"(known formats and their fields: {known})"
    )


def _text(record: dict[str, Any], field: str, where: str, allow_empty: bool = False) -> str:
    value = record.get(field)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise UserError(f"{where}: field {field!r} must be a non-empty string")
    return value


def _messages(value: Any, where: str) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise UserError(f"{where}: 'messages' must be a non-empty list")
    out = []
    for m in value:
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise UserError(f"{where}: each message needs a role among {', '.join(ROLES)}")
        if not isinstance(m.get("content"), str):
            raise UserError(f"{where}: each message needs a text 'content'")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def load_conversations(path: str | Path) -> list[list[Message]]:
    """Instruction data (Alpaca or chat messages) -> conversations for SFT."""
    records = read_records(path)
    kind = detect_format(records[0], str(path))
    if kind not in ("alpaca", "chat"):
        raise UserError(
            f"{path} holds {kind} records; SFT needs instruction data (alpaca or chat messages)"
        )
    conversations = []
    for i, r in enumerate(records):
        where = f"{path}, record {i + 1}"
        if kind == "alpaca":
            user = _text(r, "instruction", where)
            extra = r.get("input") or ""
            if not isinstance(extra, str):
                raise UserError(f"{where}: field 'input' must be a string")
            if extra.strip():
                user = f"{user}\n\n{extra}"
            answer = _text(r, "output", where)
            conversations.append(
                [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
            )
        else:
            messages = _messages(r.get("messages"), where)
            if not any(m["role"] == "assistant" for m in messages):
                raise UserError(f"{where}: the conversation has no assistant turn to learn")
            conversations.append(messages)
    return conversations


def load_preferences(path: str | Path) -> list[Preference]:
    """Preference data (explicit prompt or hh-rlhf dialogues) -> `Preference`s."""
    records = read_records(path)
    if {"answers", "order"} <= records[0].keys():  # rankings from people: all their pairs
        from attento.align.rankings import ranking_preferences

        return ranking_preferences(path)
    kind = detect_format(records[0], str(path))
    if kind not in ("preference", "hh-rlhf"):
        raise UserError(
            f"{path} holds {kind} records; preference data needs chosen and rejected answers"
        )
    out = []
    for i, r in enumerate(records):
        where = f"{path}, record {i + 1}"
        if kind == "hh-rlhf":
            out.append(split_dialogues(_text(r, "chosen", where), _text(r, "rejected", where)))
            continue
        prompt = r.get("prompt")
        if isinstance(prompt, str) and prompt.strip():
            messages = [{"role": "user", "content": prompt}]
        elif isinstance(prompt, list):
            messages = _messages(prompt, where)
        else:
            raise UserError(f"{where}: 'prompt' must be a string or a list of messages")
        answers = [_answer(r.get(f), f, where) for f in ("chosen", "rejected")]
        out.append(Preference(messages, *answers))
    return out


def _answer(value: Any, field: str, where: str) -> str:
    """A string, or a conversational answer: its last (assistant) message."""
    if isinstance(value, list):
        return _messages(value, where)[-1]["content"]
    return _text({field: value}, field, where, allow_empty=True)  # an empty answer can lose


def split_dialogues(chosen: str, rejected: str) -> Preference:
    """hh-rlhf: the shared "\\n\\nHuman: ... \\n\\nAssistant:" prefix is the prompt."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    cut = chosen.rfind(ASSISTANT, 0, n)
    if cut < 0 or cut + len(ASSISTANT) > n:
        raise UserError(
            "an hh-rlhf pair must share its dialogue up to a final '\\n\\nAssistant:' turn"
        )
    prompt = chosen[: cut + len(ASSISTANT)]
    return Preference(
        dialogue_messages(prompt),
        chosen[len(prompt) :].strip(),
        rejected[len(prompt) :].strip(),
    )


def dialogue_messages(text: str) -> list[Message]:
    """ "\\n\\nHuman: a\\n\\nAssistant: b\\n\\nHuman: c\\n\\nAssistant:" -> user/assistant
    messages (the final empty assistant turn is the one to be written)."""
    parts = re.split(r"\n\n(Human|Assistant):", text)
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2], strict=True):
        role = "user" if speaker == "Human" else "assistant"
        messages.append({"role": role, "content": content.strip()})
    if messages and messages[-1]["role"] == "assistant" and not messages[-1]["content"]:
        messages.pop()
    if not messages:
        raise UserError("an hh-rlhf dialogue has no 'Human:' turn")
    return messages


def load_prompts(path: str | Path) -> list[list[Message]]:
    """Prompts to answer (for PPO): the prompt of preference data, or the conversation of
    instruction data up to (not including) its last assistant turn."""
    records = read_records(path)
    if {"answers", "order"} <= records[0].keys():  # rankings from people
        from attento.align.rankings import ranking_prompts

        return ranking_prompts(path)
    kind = detect_format(records[0], str(path))
    if kind in ("preference", "hh-rlhf"):
        return [p.prompt for p in load_preferences(path)]
    prompts = []
    for conversation in load_conversations(path):
        last = max(i for i, m in enumerate(conversation) if m["role"] == "assistant")
        if last > 0:
            prompts.append(conversation[:last])
    if not prompts:
        raise UserError(f"{path} has no prompt before an assistant turn")
    return prompts


T = TypeVar("T")


def hold_out(items: Sequence[T], fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """(train, val): the items shuffled by `seed`, with `fraction` of them held out for
    validation, at least one, and at least one left to train on (needs two items)."""
    items = list(items)
    random.Random(seed).shuffle(items)
    n_val = min(len(items) - 1, max(1, int(len(items) * fraction)))
    return items[n_val:], items[:n_val]


def pad_rows(
    rows: Sequence[Sequence[int]], value: int, left: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, valid), both (B, longest row): each row padded with `value`, and True where
    it holds a real token. Right padding keeps every row's start in column 0 (examples to
    score); left padding ends every row in the last column, so that the answers generated
    after a batch of prompts all start in the same column."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), value, dtype=torch.long)
    valid = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, r in enumerate(rows):
        cols = slice(width - len(r), width) if left else slice(0, len(r))
        ids[i, cols] = torch.tensor(r, dtype=torch.long)
        valid[i, cols] = True
    return ids, valid


def random_state(rng: random.Random) -> torch.Tensor:
    """A `random.Random`'s state as an int64 tensor, so a checkpoint loads with
    `torch.load(weights_only=True)` (no pickled Python objects)."""
    _, internal, _ = rng.getstate()
    return torch.tensor(internal, dtype=torch.int64)


def set_random_state(rng: random.Random, state: torch.Tensor) -> None:
    rng.setstate((3, tuple(int(v) for v in state.tolist()), None))
