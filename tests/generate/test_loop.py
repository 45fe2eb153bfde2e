"""The generation loop: KV cache vs full recompute, batches, context window, stop rules, streaming."""

from __future__ import annotations

import warnings

import pytest
import torch

from attento.errors import UserError
from attento.generate import Decoder, generate, generate_text, stream
from attento.generate.loop import StopRule
from attento.models import GPT, GPTConfig
from attento.tokenize import CharTokenizer
from attento.tokenize.bpe import BPETokenizer

ENCODINGS = ["learned", "sinusoidal", "rope"]


def tiny_gpt(pos_encoding: str = "rope", vocab_size: int = 32, block_size: int = 16, **kw) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=vocab_size,
        block_size=block_size,
        n_layer=2,
        n_head=2,
        n_embd=16,
        pos_encoding=pos_encoding,
        **kw,
    )
    model = GPT(config).eval()
    with torch.no_grad():  # larger weights than the init: peaked, prompt-dependent logits
        for p in model.parameters():
            p.mul_(8.0 if p.dim() > 1 else 1.0)
    return model


def byte_tokenizer() -> BPETokenizer:
    return BPETokenizer({bytes([b]): b for b in range(256)}, special_tokens={"<|endoftext|>": 256})


@pytest.mark.parametrize("pos", ENCODINGS)
def test_cached_logits_equal_full_recompute(pos):
    """Teacher-force random tokens past the context: every step's logits agree to 1e-5."""
    model = tiny_gpt(pos)
    g = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, 32, (2, 5), generator=g)
    forced = torch.randint(0, 32, (2, 20), generator=g)  # 5 + 20 > block_size 16: the window slides
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cached = Decoder(model, prompt, 20, use_cache=True)
        full = Decoder(model, prompt, 20, use_cache=False)
        for t in range(20):
            a, b = cached.next_logits(), full.next_logits()
            seq = full.sequence[:, -16:]
            torch.testing.assert_close(b, model(seq)[:, -1], atol=1e-5, rtol=0)
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
            cached.append(forced[:, t])
            full.append(forced[:, t])


@pytest.mark.parametrize("pos", ENCODINGS)
def test_generate_same_tokens_with_and_without_cache(pos):
    model = tiny_gpt(pos)
    idx = torch.tensor([[1, 2, 3]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kwargs in ({"greedy": True}, {"seed": 3, "top_k": 10, "temperature": 0.9}):
            a = generate(model, idx, 25, use_cache=True, **kwargs)
            b = generate(model, idx, 25, use_cache=False, **kwargs)
            assert a.tolist() == b.tolist()
            assert a.shape == (1, 28) and a[:, :3].tolist() == idx.tolist()


def test_same_seed_same_text_other_seed_other_text():
    model = tiny_gpt()
    idx = torch.tensor([[4, 5]])
    a = generate(model, idx, 12, seed=11, temperature=1.5)
    assert a.tolist() == generate(model, idx, 12, seed=11, temperature=1.5).tolist()
    assert a.tolist() != generate(model, idx, 12, seed=12, temperature=1.5).tolist()


@pytest.mark.parametrize("pos", ["learned", "rope"])
def test_left_padded_batch_matches_one_by_one(pos):
    model = tiny_gpt(pos, block_size=32)
    prompts = [[3, 1, 4, 1, 5, 9], [2, 7], [1, 8, 2, 8]]
    width = max(map(len, prompts))
    idx = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    valid = torch.tensor([[False] * (width - len(p)) + [True] * len(p) for p in prompts])
    greedy = generate(model, idx, 10, greedy=True, valid=valid)
    sampled = generate(model, idx, 10, seed=5, temperature=1.3, valid=valid)
    for row, p in enumerate(prompts):
        alone = torch.tensor([p])
        assert (
            greedy[row, width:].tolist()
            == generate(model, alone, 10, greedy=True)[0, len(p) :].tolist()
        )
        solo = generate(model, alone, 10, seed=5 + row, temperature=1.3)
        assert sampled[row, width:].tolist() == solo[0, len(p) :].tolist()


def test_long_prompt_learned_positions_warn_and_keep_last_block():
    model = tiny_gpt("learned")
    idx = torch.randint(0, 32, (1, 40), generator=torch.Generator().manual_seed(2))
    with pytest.warns(UserWarning, match="last 16"):
        out = generate(model, idx, 3, greedy=True)
    assert out[:, :40].tolist() == idx.tolist()
    with torch.no_grad():
        expected = model(idx[:, -16:])[0, -1].argmax().item()
    assert out[0, 40].item() == expected


def test_rope_slides_silently():
    model = tiny_gpt("rope")
    idx = torch.randint(0, 32, (1, 40), generator=torch.Generator().manual_seed(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = generate(model, idx, 5, greedy=True)
    with torch.no_grad():
        expected = model(out[:, 28:44])[0, -1].argmax().item()
    assert out[0, 44].item() == expected


def test_eot_stops_and_is_kept():
    model = tiny_gpt()
    idx = torch.tensor([[1, 2]])
    free = generate(model, idx, 20, greedy=True)[0, 2:].tolist()
    eot = free[4]
    first = free.index(eot)
    out = generate(model, idx, 20, greedy=True, eot_id=eot)[0, 2:].tolist()
    assert out == free[: first + 1]


def test_batch_rows_that_stop_are_padded():
    model = tiny_gpt()
    idx = torch.tensor([[1, 2], [5, 6]])
    free = generate(model, idx, 12, greedy=True)[:, 2:].tolist()
    eot = free[0][3]
    out = generate(model, idx, 12, greedy=True, eot_id=eot, pad_id=31)[:, 2:].tolist()
    stop0 = free[0].index(eot)
    assert out[0][: stop0 + 1] == free[0][: stop0 + 1]
    assert set(out[0][stop0 + 1 :]) <= {31}
    if eot in free[1]:
        assert len(out[1]) == max(stop0, free[1].index(eot)) + 1
    else:
        assert out[1] == free[1]


def test_stop_string_ends_the_text():
    tok = CharTokenizer.from_text("abcdefghij klmnopqrstuvwxyz.,")
    model = tiny_gpt(vocab_size=tok.vocab_size)
    free = generate_text(model, tok, "ab", 30, greedy=True)
    stop = free[6:8]
    cut = generate_text(model, tok, "ab", 30, greedy=True, stop=[stop, "NOT THERE"])
    assert cut == free[: free.index(stop) + len(stop)]


def test_stream_pieces_are_whole_characters():
    tok = byte_tokenizer()
    model = tiny_gpt(vocab_size=257, block_size=64)
    pairs = list(stream(model, tok, "città", 40, seed=0, temperature=2.0))
    ids = [i for i, _ in pairs if i != tok.eot_id]
    assert "".join(p for _, p in pairs) == tok.decode(ids)


def test_stop_rule_holds_back_partial_characters():
    tok = byte_tokenizer()
    rule = StopRule(tok, tok.eot_id)
    data = "perché è così".encode()
    pieces = [rule.feed(b, last=n == len(data) - 1) for n, b in enumerate(data)]
    assert "".join(pieces) == "perché è così"
    assert "\ufffd" not in "".join(pieces)
    assert pieces[data.index(0xC3)] == ""  # first byte of "é" alone prints nothing


def test_empty_prompt_starts_from_eot_or_fails():
    model = tiny_gpt(vocab_size=257, block_size=32)
    pairs = list(stream(model, byte_tokenizer(), "", 3, greedy=True))
    assert len(pairs) >= 1
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(UserError, match="empty"):
        list(stream(tiny_gpt(vocab_size=3), tok, "", 3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": 0.0}, "greedy"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 1.01}, "top_p"),
        ({"top_p": 0.0}, "top_p"),
        ({"max_new_tokens": -1}, "max_new_tokens"),
    ],
)
def test_bad_settings_raise_user_errors(kwargs, message):
    model = tiny_gpt()
    settings = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(UserError, match=message):
        generate(model, torch.tensor([[1]]), **settings)


def test_stop_strings_need_a_tokenizer_and_zero_tokens_is_identity():
    model = tiny_gpt()
    with pytest.raises(UserError, match="tokenizer"):
        generate(model, torch.tensor([[1]]), 3, stop=["x"])
    assert generate(model, torch.tensor([[1, 2]]), 0).tolist() == [[1, 2]]
    with pytest.raises(UserError, match="empty"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 3)


def test_model_mode_is_restored():
    model = tiny_gpt().train()
    generate(model, torch.tensor([[1]]), 2)
    assert model.training


def grad_watch(model: torch.nn.Module) -> list[bool]:
    """Record, for every forward of `model`, whether its logits would carry autograd."""
    seen: list[bool] = []
    model.register_forward_hook(lambda m, args, out: seen.append(out.requires_grad))
    return seen


def test_every_generation_path_runs_without_autograd():
    tok = CharTokenizer.from_text("abcdefghijklmnopqrstuvwxyz ")
    model = tiny_gpt(vocab_size=tok.vocab_size)
    seen = grad_watch(model)
    assert model(torch.tensor([[1, 2]])).requires_grad and seen == [True]  # the watch works
    seen.clear()
    generate(model, torch.tensor([[1, 2, 3]]), 4, seed=0)
    generate_text(model, tok, "abc", 4, seed=0)
    pieces = stream(model, tok, "abc", 4, seed=0)
    assert not torch.is_inference_mode_enabled()
    for _ in pieces:  # consumed outside any decorator, as `attento generate` does
        assert not torch.is_inference_mode_enabled()  # the mode does not leak to the caller
    assert len(seen) == 12 and not any(seen)


def test_generation_leaves_a_model_in_eval_mode_untouched(monkeypatch):
    """Threads may share a model in eval mode only if generating never flips its mode; a
    model in training mode is put back as it was."""
    model = tiny_gpt()
    flips: list[bool] = []
    original = type(model).train
    monkeypatch.setattr(
        type(model), "train", lambda m, mode=True: flips.append(mode) or original(m, mode)
    )
    generate(model, torch.tensor([[1, 2]]), 3, seed=0)
    assert flips == []
    model.train()
    flips.clear()
    generate(model, torch.tensor([[1, 2]]), 3, seed=0)
    assert model.training and flips == [False, True]
