"""The chat template: how a conversation becomes one row of token ids.

A chat model is still a next-token predictor. Instruction tuning teaches it a *format*: each
turn is wrapped in markers that no ordinary text can produce (ChatML, used by many open models):

    <|im_start|>system
    You are helpful.<|im_end|>
    <|im_start|>user
    2+3=<|im_end|>
    <|im_start|>assistant
    5<|im_end|>

To answer, the model is given the conversation followed by `<|im_start|>assistant\\n` and
writes until it produces `<|im_end|>`. Because the markers are *special tokens* (one id each,
never the result of encoding the characters "<|im_start|>"), a user cannot forge a turn by
typing them.

Where the marker ids come from depends on the tokenizer:
- byte-level BPE: `<|im_start|>` and `<|im_end|>` are added as special tokens
  (`BPETokenizer.add_special_tokens`), with the next free ids;
- character-level: a character tokenizer has one token per character, so each marker is one
  reserved character of Unicode's Private Use Area, U+E000 for im_start and U+E001 for im_end,
  appended at the end of the vocabulary (with any template character the vocabulary lacks).
  No real text contains them, and the tokenizer saves and loads as any character tokenizer.

`add_chat_tokens` grows a pretrained model for the new ids: old embedding rows keep their
place, new rows start at the mean embedding plus a little noise (distinct, and not far from
the vectors the model already knows).

A model from the Hugging Face Hub was tuned on its own format, and its folder carries it as a
Jinja chat template (tokenize/chat_template.py): `TemplateChat` renders conversations with it,
exactly as `transformers.apply_chat_template` does, and a reply ends at the model's
end-of-text token or at one of the end-of-turn tokens these templates use (`END_OF_TURN`).
`chat_format(tokenizer)` picks the model's own template when it has one, else ChatML markers.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from attento.errors import UserError
from attento.models.gpt import GPT, GPTConfig
from attento.tokenize.base import Tokenizer
from attento.tokenize.bpe import IM_END, IM_START, BPETokenizer
from attento.tokenize.char import CharTokenizer
from attento.tokenize.chat_template import ChatTemplate

CHAR_IM_START = "\ue000"
CHAR_IM_END = "\ue001"
ROLES = ("system", "user", "assistant")
# tokens that close a turn in the templates of common open models (ChatML, Llama 3, Phi, Gemma)
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")
IGNORE = -100  # label of a token that is not trained (cross-entropy's ignore_index)
Message = dict[str, str]


@dataclass(frozen=True)
class ChatFormat:
    """A tokenizer plus the ids of its two chat markers: renders conversations to ids."""

    tokenizer: Tokenizer
    im_start: int
    im_end: int

    @classmethod
    def find(cls, tokenizer: Tokenizer | None) -> ChatFormat | None:
        """The chat markers of `tokenizer`, or None if it has none."""
        if isinstance(tokenizer, BPETokenizer):
            special = tokenizer.special_tokens
            if IM_START in special and IM_END in special:
                return cls(tokenizer, special[IM_START], special[IM_END])
        elif isinstance(tokenizer, CharTokenizer):
            chars = tokenizer.chars
            if CHAR_IM_START in chars and CHAR_IM_END in chars:
                return cls(tokenizer, chars.index(CHAR_IM_START), chars.index(CHAR_IM_END))
        return None

    @classmethod
    def of(cls, tokenizer: Tokenizer | None) -> ChatFormat:
        """Like `find`, but a model without chat markers is a user mistake."""
        found = cls.find(tokenizer)
        if found is None:
            raise UserError(
                "this model has no chat tokens (<|im_start|>, <|im_end|>): "
                "fine-tune it first with `attento sft`"
            )
        return found

    @property
    def markers(self) -> tuple[int, int]:
        return self.im_start, self.im_end

    def encode_text(self, text: str) -> list[int]:
        """Ordinary text -> ids; a marker typed by hand never becomes a marker id."""
        ids = self.tokenizer.encode(text)
        if self.im_start in ids or self.im_end in ids:
            raise UserError("the text contains a reserved chat-marker character (U+E000/U+E001)")
        return ids

    def header(self, role: str) -> list[int]:
        return [self.im_start, *self.encode_text(role + "\n")]

    def encode_example(
        self, messages: Sequence[Message], train_on: str = "assistant"
    ) -> tuple[list[int], list[int]]:
        """ids and labels of a whole conversation: labels copy the ids of the `train_on`
        turns' content and closing marker, and are IGNORE (-100) everywhere else, so the
        loss teaches the answers and never the prompts."""
        ids: list[int] = []
        labels: list[int] = []
        for message in check_messages(messages):
            head = self.header(message["role"])
            body = [*self.encode_text(message["content"]), self.im_end]
            tail = self.encode_text("\n")
            trained = message["role"] == train_on
            ids += head + body + tail
            labels += [IGNORE] * len(head) + (body if trained else [IGNORE] * len(body))
            labels += [IGNORE] * len(tail)
        return ids, labels

    def encode_prompt(self, messages: Sequence[Message]) -> list[int]:
        """The conversation so far plus the header that asks the assistant to answer."""
        ids = self.encode_example(messages)[0] if messages else []
        return ids + self.header("assistant")

    def encode_reply(self, reply: str) -> list[int]:
        """An assistant answer as the model writes it: content, then the closing marker."""
        return [*self.encode_text(reply), self.im_end]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ids, stopping at the first marker (the end of a reply)."""
        out = []
        for i in ids:
            if i in self.markers:
                break
            out.append(int(i))
        return self.tokenizer.decode(out)


@dataclass(frozen=True)
class TemplateChat:
    """A tokenizer with the model's own chat template; replies end at one of `stops`."""

    tokenizer: Tokenizer
    template: ChatTemplate
    stops: tuple[int, ...]

    @classmethod
    def find(cls, tokenizer: Tokenizer | None) -> TemplateChat | None:
        template = ChatTemplate.of(tokenizer)
        if template is None:
            return None
        specials = getattr(tokenizer, "special_tokens", {})
        stops = {specials[t] for t in END_OF_TURN if t in specials}
        if tokenizer.eot_id is not None:
            stops.add(tokenizer.eot_id)
        if not stops:
            raise UserError("this model's chat template has no token that ends a turn")
        return cls(tokenizer, template, tuple(sorted(stops)))

    @property
    def markers(self) -> tuple[int, ...]:
        return self.stops

    @property
    def im_end(self) -> int:
        """The token that closes a reply (also what batches are padded with)."""
        eot = self.tokenizer.eot_id
        return eot if eot in self.stops else self.stops[0]

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, allowed_special="all")

    def _render(self, messages: Sequence[Message], add_generation_prompt: bool = False) -> str:
        return self.template.render(list(messages), add_generation_prompt=add_generation_prompt)

    def encode_prompt(self, messages: Sequence[Message]) -> list[int]:
        """The conversation as the template writes it, ending with the assistant's header."""
        return self._ids(self._render(check_messages(messages), add_generation_prompt=True))

    def encode_example(
        self, messages: Sequence[Message], train_on: str = "assistant"
    ) -> tuple[list[int], list[int]]:
        """ids and labels of a whole conversation, as ChatFormat.encode_example: the text the
        template adds for a `train_on` turn after its header (the answer and what closes it)
        is the target, everything else IGNORE. Each turn's text is the difference between
        the renderings of the conversation up to it and up to the turn before."""
        messages = list(check_messages(messages))
        ids: list[int] = []
        labels: list[int] = []
        done = ""
        for i, message in enumerate(messages):
            full = self._render(messages[: i + 1])
            trained = message["role"] == train_on
            head = self._render(messages[:i], add_generation_prompt=True) if trained and i else ""
            head = head or done
            if not (full.startswith(head) and head.startswith(done)):
                raise UserError(
                    "this model's chat template rewrites earlier turns when a turn is added: "
                    "its conversations cannot be split into prompt and answer"
                )
            head_ids, body_ids = self._ids(head[len(done) :]), self._ids(full[len(head) :])
            ids += head_ids + body_ids
            labels += [IGNORE] * len(head_ids) + (body_ids if trained else [IGNORE] * len(body_ids))
            done = full
        return ids, labels

    def encode_reply(self, reply: str) -> list[int]:
        """An assistant answer as the template writes it after the assistant's header."""
        probe: list[Message] = [{"role": "user", "content": "?"}]
        head = self._render(probe, add_generation_prompt=True)
        full = self._render([*probe, {"role": "assistant", "content": reply}])
        if not full.startswith(head):
            raise UserError("this model's chat template writes answers apart from its prompts")
        return self._ids(full[len(head) :])

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ids, stopping at the first end-of-turn token."""
        out = []
        for i in ids:
            if i in self.stops:
                break
            out.append(int(i))
        return self.tokenizer.decode(out)


def chat_format(tokenizer: Tokenizer | None) -> ChatFormat | TemplateChat:
    """How this model's conversations are written: its own chat template (a Hugging Face
    chat model), else attento's ChatML markers (a model tuned with `attento sft`)."""
    return TemplateChat.find(tokenizer) or ChatFormat.of(tokenizer)


def check_messages(messages: Sequence[Message]) -> Sequence[Message]:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise UserError("a conversation must be a non-empty list of messages")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise UserError("each message needs a text 'content' and a 'role'")
        if m.get("role") not in ROLES:
            raise UserError(f"unknown role {m.get('role')!r} (use {', '.join(ROLES)})")
    return messages


def add_chat_tokens(
    model: GPT, tokenizer: Tokenizer | None, seed: int = 0
) -> tuple[GPT, Tokenizer, bool]:
    """(model, tokenizer, added): the same pair when it already has chat markers, else a
    tokenizer with the markers and a model grown to match. The inputs are not modified."""
    if tokenizer is None:
        raise UserError("the model folder has no tokenizer: chat tokens cannot be added")
    if ChatFormat.find(tokenizer) is not None:
        if tokenizer.vocab_size > model.config.vocab_size:
            raise UserError("the tokenizer has more tokens than the model")
        return model, tokenizer, False
    old_vocab = tokenizer.vocab_size
    if isinstance(tokenizer, BPETokenizer):
        new_tok: Tokenizer = copy.deepcopy(tokenizer)
        new_tok.add_special_tokens([IM_START, IM_END])
        old_to_new = list(range(old_vocab))
    elif isinstance(tokenizer, CharTokenizer):
        template = "".join(ROLES) + "\n"
        missing = sorted(set(template) - set(tokenizer.chars))
        chars = [*tokenizer.chars, *missing, CHAR_IM_START, CHAR_IM_END]
        new_tok = CharTokenizer(chars, unk=tokenizer.unk)
        # the <unk> id (if any) follows the characters, so it moves to the new end
        old_to_new = list(range(len(tokenizer.chars))) + ([len(chars)] if tokenizer.unk else [])
    else:
        raise UserError(
            f"chat tokens can be added to character and BPE tokenizers, not {tokenizer.kind!r}"
        )
    return resize_vocab(model, old_to_new, new_tok.vocab_size, seed), new_tok, True


def resize_vocab(model: GPT, old_to_new: list[int], new_size: int, seed: int = 0) -> GPT:
    """A copy of `model` with `new_size` token rows; old row i moves to old_to_new[i]."""
    config = GPTConfig.from_dict({**model.config.to_dict(), "vocab_size": new_size})
    grown = GPT(config)
    old = model.state_dict()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in grown.state_dict(keep_vars=True).items():
            if name in ("embed.tok.weight", "lm_head.weight"):
                rows = old[name]
                new = rows.mean(0).repeat(new_size, 1)
                new += 0.02 * torch.randn(new.shape, generator=gen)
                new[old_to_new] = rows
                param.copy_(new)
            else:
                param.copy_(old[name])
    return grown.train(model.training)
