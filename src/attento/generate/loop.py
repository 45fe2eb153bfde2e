"""The generation loop: predict a token, append it, repeat.

A language model only ever answers one question: given these tokens, how likely is each token to
come next? Writing text is that question asked again and again (*autoregression*): the chosen
token (see sampling.py) is appended to the sequence and the longer sequence goes back in.

**KV cache.** Re-reading the whole sequence at every step would redo the same work: the keys and
values of earlier tokens never change. So the loop first runs the prompt once (*prefill*),
keeping every layer's keys and values in the model's cache, and then feeds only the newest token
at each step. The logits are the same as without the cache (to float rounding).

**Context window.** A model reads at most `block_size` tokens. The rule, the same with and
without the cache: the model always sees the **last block_size tokens** of the sequence.
- With RoPE, positions are relative, so this is a plain *sliding window*: nothing is lost but
  the oldest tokens. When the window slides, the cache is rebuilt from the new window (the
  cached keys/values of deeper layers depended on the dropped tokens, so they cannot be reused).
- With learned or sinusoidal positions, the model has no position vector beyond block_size;
  cropping to the last block_size tokens (the prompt, or the text once it grows that long) gives
  each token a position other than the one it was trained at. It works, but it is a truncation,
  so it raises a `warnings.warn` the first time it happens.
The returned ids always hold the whole sequence; only the model's view is cropped.

**Stop rules.** Generation ends after `max_new_tokens`, when the model writes the end-of-text
token (`tokenizer.eot_id`, kept in the output), or when the text written so far contains one of
the `stop` strings (the token completing it is kept). In a batch, a row that has stopped is
filled with `pad_id` (default: the end-of-text id, else 0) until every row has stopped.

**Streaming.** `stream` yields each token with its piece of text as soon as it is chosen. A
byte-level BPE token can be half of a UTF-8 character; an incremental decoder holds such bytes
back until the character is complete, so a partial character never prints as garbage.

**Batches.** Prompts of different lengths are left-padded to the same length; `valid` marks the
real tokens, so each row gets the logits it would get alone. Row b rolls its own die, seeded
`seed + b`: a batch row gives the same tokens as that prompt alone with seed `seed + b`.
"""

from __future__ import annotations

import codecs
import warnings
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from attento.errors import UserError
from attento.generate.sampling import SamplingConfig, make_generators, pick
from attento.generate.static import StaticDecoder, fits
from attento.messages import Notice, user_error
from attento.tokenize.base import Tokenizer


def encode_prompt(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """Prompt text -> ids; an empty prompt starts from the end-of-text token when there is one."""
    ids = tokenizer.encode(prompt)
    if ids:
        return ids
    if tokenizer.eot_id is None:
        raise user_error("prompt_without_start")
    return [tokenizer.eot_id]


class Decoder:
    """The growing sequence of a batch and the model's view of it: window + KV cache.

    `next_logits()` gives the logits (B, V) for the token after the current sequence and
    `append(tokens)` adds one token per row. With `use_cache` the model reads each token once,
    except when the window slides (see the module docstring).
    """

    def __init__(
        self,
        model: nn.Module,
        idx: torch.Tensor,
        capacity: int,
        valid: torch.Tensor | None = None,
        use_cache: bool = True,
    ) -> None:
        if idx.dim() != 2:
            raise UserError(f"expected token ids of shape (batch, time), got {tuple(idx.shape)}")
        B, T = idx.shape
        if T == 0:
            raise UserError("the prompt is empty: give at least one token")
        config = model.config
        device = next(model.parameters()).device
        self.model, self.use_cache, self.block_size = model, use_cache, config.block_size
        # only absolute position tables make cropping a truncation (RNN/CNN/MLP have none)
        self.warn_on_crop = getattr(config, "pos_encoding", None) in ("learned", "sinusoidal")
        self.ids = torch.empty(B, T + capacity, dtype=torch.long, device=device)
        self.ids[:, :T] = idx
        self.valid: torch.Tensor | None = None
        if valid is not None:
            if tuple(valid.shape) != (B, T):
                raise UserError(f"valid must have the shape of the ids {(B, T)}")
            self.valid = torch.ones(B, T + capacity, dtype=torch.bool, device=device)
            self.valid[:, :T] = valid
        self.length = T
        self.cache = None
        self.cache_start = 0  # position in `ids` of the first cached token
        if self.block_size < T and self.warn_on_crop:
            self._warn("warning.prompt_cropped", T)

    def _warn(self, key: str, n: int) -> None:
        positions = self.model.config.pos_encoding
        warnings.warn(Notice(key, n=n, context=self.block_size, positions=positions), stacklevel=4)
        self.warn_on_crop = False

    def next_logits(self) -> torch.Tensor:
        return self.last_logits(1)[:, -1]

    def last_logits(self, n: int) -> torch.Tensor:
        """Logits (B, n, V) after each of the last n tokens, every one read through the window
        the newest token sees; the caller keeps all n inside that window (speculative decoding
        checks n drafted tokens at once). Tokens the cache lacks are fed, all at once."""
        start = max(0, self.length - self.block_size)
        if not self.use_cache:
            return self._forward(start, None)[:, -n:]
        cache = self.cache
        if (
            cache is not None
            and start == self.cache_start
            and start + cache.length <= self.length - n
        ):
            new = self.ids[:, start + cache.length : self.length]
            return self.model(new, cache=cache)[:, -n:]
        self.cache = self.model.new_cache(self.ids.size(0))
        self.cache_start = start
        return self._forward(start, self.cache)[:, -n:]

    def rollback(self, length: int) -> None:
        """Forget every token after the first `length`, in the sequence and in the cache."""
        self.length = length
        if self.cache is not None:
            self.cache.crop(max(0, length - self.cache_start))

    def _forward(self, start: int, cache) -> torch.Tensor:
        window = self.ids[:, start : self.length]
        valid = None if self.valid is None else self.valid[:, start : self.length]
        return self.model(window, cache=cache, valid=valid)

    def append(self, tokens: torch.Tensor) -> None:
        self.ids[:, self.length] = tokens
        self.length += 1
        if self.length > self.block_size and self.warn_on_crop:
            self._warn("warning.text_cropped", self.length)

    @property
    def sequence(self) -> torch.Tensor:
        return self.ids[:, : self.length]


class StopRule:
    """Decides, token by token, when one row is done, and turns its tokens into text."""

    def __init__(
        self, tokenizer: Tokenizer | None, eot_id: int | None, stop: Sequence[str] = ()
    ) -> None:
        self.tokenizer, self.eot_id, self.stop = tokenizer, eot_id, tuple(stop)
        self.longest = max((len(s) for s in self.stop), default=0)
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""
        self.done = False

    def feed(self, token: int, last: bool = False) -> str:
        """The text this token completes ("" for part of a character or end-of-text)."""
        piece = ""
        if token == self.eot_id:
            self.done = True
        elif self.tokenizer is not None:
            piece = self.utf8.decode(self.tokenizer.token_bytes(token))
            before = len(self.text)
            self.text += piece
            if self.stop:
                tail = self.text[max(0, before - self.longest + 1) :]
                self.done = any(s in tail for s in self.stop)
        if (last or self.done) and self.tokenizer is not None:
            piece += self.utf8.decode(b"", final=True)
        return piece


def check_max_new_tokens(max_new_tokens: int) -> None:
    """A token budget must be a whole number >= 0 (0: just the prompt)."""
    if isinstance(max_new_tokens, bool) or int(max_new_tokens) != max_new_tokens:
        raise UserError(f"max_new_tokens must be an integer, got {max_new_tokens!r}")
    if max_new_tokens < 0:
        raise UserError(f"max_new_tokens must be >= 0, got {max_new_tokens}")


@torch.inference_mode()  # on a generator function torch enters the mode at each resume
def _tokens(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    config: SamplingConfig,
    use_cache: bool,
    valid: torch.Tensor | None,
    compile: bool = False,
) -> Iterator[torch.Tensor]:
    """Yield the next token of every row, (B,), for up to max_new_tokens steps.

    Every model call runs without autograd: the decorator is on this generator itself, because
    one on a function that merely returns a generator has exited before the first token.
    """
    if compile and use_cache and valid is None and fits(model, idx.size(1), max_new_tokens):
        decoder: Decoder | StaticDecoder = StaticDecoder(model, idx, max_new_tokens, compile)
    else:
        decoder = Decoder(model, idx, max_new_tokens, valid=valid, use_cache=use_cache)
    _, generators = make_generators(config.seed, idx.size(0))
    was_training = model.training
    if was_training:  # a model already in eval mode is never touched: threads may share it
        model.eval()
    try:
        for _ in range(max_new_tokens):
            token = pick(decoder.next_logits(), config, generators)
            decoder.append(token)
            yield token
    finally:
        if was_training:
            model.train()


@torch.inference_mode()
def generate(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int | None = None,
    use_cache: bool = True,
    *,
    valid: torch.Tensor | None = None,
    tokenizer: Tokenizer | None = None,
    eot_id: int | None = None,
    stop: Sequence[str] = (),
    pad_id: int | None = None,
    compile: bool = False,
) -> torch.Tensor:
    """idx (B, T) -> (B, T + n) with up to max_new_tokens new tokens appended to each row.

    `eot_id` (default: `tokenizer.eot_id`) and `stop` strings (need `tokenizer`) end a row
    early; `valid` (B, T) marks the real tokens of left-padded prompts. `compile` runs a GPT's
    decode steps compiled on a fixed-shape cache (generate/static.py) when the run fits one
    window without padding; the first call for a model pays the compile time.
    """
    check_max_new_tokens(max_new_tokens)
    config = SamplingConfig(temperature, top_k, top_p, greedy, seed)
    if stop and tokenizer is None:
        raise UserError("stop strings need the tokenizer to read the generated text")
    if eot_id is None and tokenizer is not None:
        eot_id = tokenizer.eot_id
    if pad_id is None:
        pad_id = 0 if eot_id is None else eot_id
    idx = idx.to(next(model.parameters()).device)
    B = idx.size(0)
    rules = [StopRule(tokenizer, eot_id, stop) for _ in range(B)]
    checking = eot_id is not None or bool(stop)
    new: list[torch.Tensor] = []
    finished = torch.zeros(B, dtype=torch.bool, device=idx.device)
    steps = _tokens(model, idx, max_new_tokens, config, use_cache, valid, compile)
    for token in steps:
        if not checking:
            new.append(token)
            continue
        token = token.masked_fill(finished, pad_id)
        new.append(token)
        for row, t in enumerate(token.tolist()):
            if not rules[row].done:
                rules[row].feed(t)
        finished = torch.tensor([r.done for r in rules], device=idx.device)
        if bool(finished.all()):
            break
    steps.close()
    if not new:
        return idx
    return torch.cat((idx, torch.stack(new, dim=1)), dim=1)


def stream(
    model: nn.Module,
    tokenizer: Tokenizer,
    prompt: str,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    seed: int | None = None,
    use_cache: bool = True,
    stop: Sequence[str] = (),
    compile: bool = False,
) -> Iterator[tuple[int, str]]:
    """Yield (token id, text piece) for each new token as soon as it is chosen.

    Joining the pieces gives the decoded continuation, whole characters only. The settings
    and the prompt are checked when `stream` is called, not at the first token, so a caller
    that prints the prompt first never prints it before an error. `compile`: as in `generate`
    (the same tokens; static.Timing tells its compile time from its speed).
    """
    check_max_new_tokens(max_new_tokens)
    config = SamplingConfig(temperature, top_k, top_p, greedy, seed)
    idx = torch.tensor([encode_prompt(tokenizer, prompt)], dtype=torch.long)
    rule = StopRule(tokenizer, tokenizer.eot_id, stop)
    steps = _tokens(model, idx, max_new_tokens, config, use_cache, None, compile)
    return stream_pieces(steps, max_new_tokens, rule)


def stream_pieces(
    steps: Iterator[torch.Tensor], max_new_tokens: int, rule: StopRule
) -> Iterator[tuple[int, str]]:
    """(token id, text piece) for each token of a one-row token generator, until `rule` stops."""
    for step, token in enumerate(steps):
        t = int(token.item())
        piece = rule.feed(t, last=step == max_new_tokens - 1)
        yield t, piece
        if rule.done:
            steps.close()
            return


def generate_text(
    model: nn.Module, tokenizer: Tokenizer, prompt: str, max_new_tokens: int, **kwargs
) -> str:
    """The continuation of `prompt` as one string (see `stream` for the settings)."""
    return "".join(piece for _, piece in stream(model, tokenizer, prompt, max_new_tokens, **kwargs))
