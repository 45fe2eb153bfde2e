from __future__ import annotations

import pytest
import torch

from attento.align.chat import (
    CHAR_IM_END,
    CHAR_IM_START,
    IGNORE,
    ChatFormat,
    add_chat_tokens,
)
from attento.errors import UserError
from attento.tokenize.bpe import IM_END, IM_START

from .conftest import tiny_gpt

CONVERSATION = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "2+3="},
    {"role": "assistant", "content": "5"},
    {"role": "user", "content": "4+4="},
    {"role": "assistant", "content": "8"},
]


def test_char_markers_are_appended_and_old_ids_keep_their_logits(char_tokenizer):
    model = tiny_gpt(char_tokenizer.vocab_size)
    grown, tok, added = add_chat_tokens(model, char_tokenizer)
    assert added
    assert tok.chars[: len(char_tokenizer.chars)] == char_tokenizer.chars
    assert tok.chars[-2:] == [CHAR_IM_START, CHAR_IM_END]
    assert grown.config.vocab_size == tok.vocab_size
    chat = ChatFormat.of(tok)
    assert (chat.im_start, chat.im_end) == (tok.vocab_size - 2, tok.vocab_size - 1)
    idx = torch.tensor([char_tokenizer.encode("2+3=5 abc")])
    old, new = model(idx), grown(idx)
    # the same hidden states: old tokens' logits are unchanged, only new columns are added
    torch.testing.assert_close(new[..., : char_tokenizer.vocab_size], old)
    assert ChatFormat.find(char_tokenizer) is None  # the input was not modified


def test_char_unk_id_moves_to_the_new_end(char_tokenizer):
    from attento.tokenize import CharTokenizer

    tok = CharTokenizer(char_tokenizer.chars, unk=True)
    model = tiny_gpt(tok.vocab_size)
    grown, new_tok, _ = add_chat_tokens(model, tok)
    assert new_tok.unk_id == new_tok.vocab_size - 1
    torch.testing.assert_close(grown.embed.tok.weight[new_tok.unk_id], model.embed.tok.weight[-1])


def test_bpe_markers_are_special_tokens(bpe_tokenizer):
    model = tiny_gpt(bpe_tokenizer.vocab_size)
    grown, tok, added = add_chat_tokens(model, bpe_tokenizer)
    assert added and IM_START in tok.special_tokens and IM_END in tok.special_tokens
    assert IM_START not in bpe_tokenizer.special_tokens
    chat = ChatFormat.of(tok)
    # typing the marker text never produces the marker id
    assert chat.im_start not in chat.encode_text("<|im_start|>user")
    again, same_tok, added_again = add_chat_tokens(grown, tok)
    assert not added_again and again is grown and same_tok is tok


def test_labels_mask_everything_but_the_answers(char_tokenizer):
    _, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    chat = ChatFormat.of(tok)
    ids, labels = chat.encode_example(CONVERSATION)
    assert len(ids) == len(labels)
    trained = [i for i, label in zip(ids, labels, strict=True) if label != IGNORE]
    assert all(label in (IGNORE, i) for i, label in zip(ids, labels, strict=True))
    # exactly the two answers, each with its closing marker
    assert trained == [*tok.encode("5"), chat.im_end, *tok.encode("8"), chat.im_end]
    text = tok.decode(ids)
    assert text.count(CHAR_IM_START) == 5 and text.count(CHAR_IM_END) == 5
    assert text.startswith(f"{CHAR_IM_START}system\nbe brief{CHAR_IM_END}\n")
    prompt = chat.encode_prompt(CONVERSATION[:2])
    assert ids[: len(prompt)] == prompt  # training rows and inference prompts agree
    assert tok.decode(prompt).endswith(f"{CHAR_IM_START}assistant\n")


def test_model_without_chat_tokens_is_a_user_error(char_tokenizer):
    with pytest.raises(UserError, match="no chat tokens"):
        ChatFormat.of(char_tokenizer)


def test_bad_messages(char_tokenizer):
    _, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    chat = ChatFormat.of(tok)
    with pytest.raises(UserError, match="role"):
        chat.encode_example([{"role": "robot", "content": "x"}])
    with pytest.raises(UserError, match="non-empty"):
        chat.encode_example([])
    with pytest.raises(UserError, match="reserved"):
        chat.encode_text(f"hi {CHAR_IM_END}")


def test_chat_answers_run_without_autograd(char_tokenizer):
    from attento.align.talk import stream_reply
    from attento.generate.sampling import SamplingConfig

    model, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    seen: list[bool] = []
    model.register_forward_hook(lambda m, args, out: seen.append(out.requires_grad))
    question = [{"role": "user", "content": "2+3="}]
    pieces = 0
    for _ in stream_reply(model, ChatFormat.of(tok), question, 5, SamplingConfig(greedy=True)):
        assert not torch.is_inference_mode_enabled()  # not leaked into the caller's frame
        pieces += 1
    assert pieces and seen and not any(seen)
