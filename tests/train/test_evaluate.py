"""Whole-split evaluation: every target once, units by hand, the same as per-window losses."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from attento.cli import main
from attento.data.windows import covering as windows
from attento.errors import UserError
from attento.models import GPT, GPTConfig
from attento.tokenize.bpe import BPETokenizer
from attento.train.evaluate import clm_score, mlm_score, validation_split


def tiny_gpt(vocab_size: int, block_size: int = 16, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=2, n_head=2, n_embd=16)
    return GPT(config).eval()


@pytest.mark.parametrize("n_tokens", [2, 3, 16, 17, 18, 50, 101])
@pytest.mark.parametrize(("block", "stride"), [(16, 16), (16, 5), (16, 1), (4, 3)])
def test_every_target_is_scored_exactly_once(n_tokens, block, stride):
    scored = []
    for start, first in windows(n_tokens, block, stride):
        size = min(block, n_tokens - 1)
        assert start >= 0 and start + size <= n_tokens - 1
        scored += [start + 1 + j for j in range(first, size)]
    assert scored == list(range(1, n_tokens))


def test_bits_per_byte_by_hand():
    """One prediction at a time from its whole prefix, summed in bits, over the UTF-8 bytes."""
    tok = BPETokenizer({bytes([b]): b for b in range(256)} | {b"ab": 256, b"\xc3\xa8": 257})
    model = tiny_gpt(tok.vocab_size, block_size=32)
    ids = tok.encode("abè cab è")
    assert 257 in ids and 256 in ids  # a two-byte token and a merge are in the text
    nats = 0.0
    with torch.no_grad():
        for t in range(1, len(ids)):
            logits = model(torch.tensor([ids[:t]]))[0, -1]
            nats -= float(F.log_softmax(logits.double(), -1)[ids[t]])
    n_bytes = sum(len(tok.token_bytes(i)) for i in ids[1:])
    score = clm_score(model, ids, tok)
    assert score.tokens == len(ids) - 1 and score.bytes == n_bytes
    assert score.chars == len(tok.decode(ids[1:]))
    assert score.bits_per_byte == pytest.approx(nats / math.log(2) / n_bytes, rel=1e-5)
    assert score.perplexity == pytest.approx(math.exp(nats / (len(ids) - 1)), rel=1e-5)


def test_the_split_loss_is_the_token_weighted_mean_of_window_losses():
    """Each window's mean loss from the model's own forward (already scored targets ignored,
    -100), weighted by the targets it scores, gives the split's loss."""
    torch.manual_seed(1)
    model = tiny_gpt(20, block_size=8)
    data = torch.randint(0, 20, (45,))
    score = clm_score(model, data, batch_size=3)  # batches of 3 windows, the last one partial
    total, n = 0.0, 0
    for start, first in windows(len(data), 8, 8):
        x, y = data[start : start + 8].clone(), data[start + 1 : start + 9].clone()
        y[:first] = -100
        with torch.no_grad():
            _, loss = model(x[None], y[None])
        total, n = total + float(loss) * (8 - first), n + 8 - first
    assert first > 0  # the last window was moved back over scored targets
    assert score.tokens == n == len(data) - 1
    assert score.loss == pytest.approx(total / n, rel=1e-6)


def test_a_smaller_stride_gives_more_context_and_is_deterministic():
    torch.manual_seed(2)
    model = tiny_gpt(12, block_size=8)
    data = torch.randint(0, 12, (60,))
    a, b = clm_score(model, data, stride=2), clm_score(model, data, stride=2)
    assert a == b
    assert a.tokens == clm_score(model, data).tokens == 59


def test_mlm_scores_are_fixed_by_the_seed_and_consistent():
    from attento.models.bert import Bert, BertConfig

    tok = BPETokenizer({bytes([b]): b for b in range(256)})
    tok.add_special_tokens(["[MASK]"])
    torch.manual_seed(0)
    model = Bert(
        BertConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
    )
    ids = tok.encode("nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura " * 3)
    a, b = mlm_score(model, ids, tok), mlm_score(model, ids, tok)
    assert a == b and a.tokens > 0
    assert 0 <= a.top1 <= a.top5 <= 1
    assert mlm_score(model, ids, tok, seed=5) != a  # the seed decides the masked positions


def test_validation_split_is_the_training_tail():
    from attento.data.windows import CLMWindows

    data = list(range(1000))
    assert validation_split(data).tolist() == CLMWindows(data, 8).val_data.tolist()


def test_too_little_text_is_one_line():
    with pytest.raises(UserError, match="at least 2"):
        clm_score(tiny_gpt(5), [1])
    with pytest.raises(UserError, match="stride"):
        clm_score(tiny_gpt(5), [1, 2, 3], stride=0)


def test_eval_command_on_the_bundled_model(capsys, data_dir):
    assert main(["eval", "--model", "dante", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"] == "divina_commedia" and out["objective"] == "clm"
    assert out["bits_per_byte"] < out["bits_per_char"] * 1.2  # Dante is mostly ASCII
    assert out["bits_per_byte"] == pytest.approx(
        out["loss"] * out["tokens"] / math.log(2) / out["bytes"]
    )


def test_eval_command_mistakes(capsys, tmp_path):
    assert main(["eval", "--model", "dante", "--batch-size", "0"]) == 2
    assert "batch_size must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["eval", "--model", "dante", "--file", str(tmp_path / "none.txt")]) == 2
    err = capsys.readouterr().err
    assert "none.txt" in err and "Traceback" not in err


def test_training_evaluates_the_whole_split_as_attento_eval_does(tmp_path):
    from attento.models.folder import load_model
    from attento.train import train
    from attento.train.config import preset

    text = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura. " * 40
    cfg = preset("tiny").replace(max_steps=6, eval_interval=3, eval_batches=None)
    result = train(cfg, tmp_path / "run", progress=False, text=text)
    model, tok = load_model(tmp_path / "run")
    whole = clm_score(model, validation_split(tok.encode(text)), tok)
    assert result.final_val_loss == pytest.approx(whole.loss, rel=1e-5)


def test_whole_split_mlm_eval_masks_every_row_the_same_way_each_time():
    from attento.data.masking import IGNORE, MLMWindows

    tok = BPETokenizer({bytes([b]): b for b in range(256)})
    tok.add_special_tokens(["[MASK]"])
    ids = tok.encode("abcdefghij" * 200)
    w = MLMWindows.for_tokenizer(ids, 16, tok, seed=0)
    first = list(w.eval_batches(None, 4))
    again = list(w.eval_batches(None, 4))
    rows = sum(len(x) for x, _ in first)
    assert rows == len(w.val_data) // 16
    assert all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        for a, b in zip(first, again, strict=True)
    )
    assert sum(int((y != IGNORE).sum()) for _, y in first) > 0


@pytest.mark.parametrize("world", [1, 3])
def test_whole_split_clm_batches_score_each_validation_target_once(world):
    from attento.data.windows import IGNORE, CLMWindows

    w = CLMWindows(torch.arange(1000) % 97, 16)
    targets = []
    for rank in range(world):
        for x, y in w.eval_batches(None, 5, rank, world):
            assert (x >= 0).all()  # marking the scored targets left the inputs alone
            kept = y[:, :-1] != IGNORE
            assert torch.equal(x[:, 1:][kept], y[:, :-1][kept])  # y is x shifted by one
            targets += [int(v) for v in y.flatten() if v != IGNORE]
    assert sorted(targets) == sorted(w.val_data[1:].tolist())
