"""RPO (DPO plus the chosen answers' NLL, TRL's `rpo_alpha`): the added term is the
cross-entropy of the chosen answer tokens, a mean over tokens, and 0 leaves DPO as it was."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attento.align.chat import ChatFormat, add_chat_tokens
from attento.align.data import Preference
from attento.align.dpo import DPOBatches, DPOSettings, encode_preference
from attento.errors import UserError

from .conftest import tiny_gpt

PREFS = [
    Preference([{"role": "user", "content": f"{a}+{b}="}], str(a + b), f"{a + b + 1} no")
    for a in range(3)
    for b in range(3)
]


@pytest.fixture
def setup(char_tokenizer):
    model, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    chat = ChatFormat.of(tok)
    pairs = [encode_preference(chat, p, model.config.block_size) for p in PREFS]
    ref = torch.randn(len(pairs), 2, generator=torch.Generator().manual_seed(0))
    return model.eval(), chat, pairs, ref


def batches(pairs, ref, pad, alpha):
    return DPOBatches(pairs, pairs, ref, ref, pad, 0.1, 0, False, rpo_alpha=alpha)


def test_rpo_adds_alpha_times_the_chosen_token_cross_entropy(setup):
    model, chat, pairs, ref = setup
    picks = list(range(len(pairs)))
    plain, rpo = batches(pairs, ref, chat.im_end, 0.0), batches(pairs, ref, chat.im_end, 0.5)
    batch = plain.collate(picks, pairs, ref)
    dpo_losses, chosen, rejected = plain.losses(model, batch)
    rpo_losses, chosen2, rejected2 = rpo.losses(model, batch)
    # TRL: cross_entropy over the chosen rows' answer tokens (labels elsewhere ignored)
    ids = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor(r) for r, _ in (p[0] for p in pairs)], True, chat.im_end
    )
    labels = ids[:, 1:].clone()
    for i, (r, n_prompt) in enumerate(p[0] for p in pairs):
        labels[i, : n_prompt - 1] = -100
        labels[i, len(r) - 1 :] = -100
    logits = model(ids[:, :-1])
    nll = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    torch.testing.assert_close(rpo_losses - dpo_losses, (0.5 * nll).expand_as(dpo_losses))
    torch.testing.assert_close(chosen, chosen2)  # the implicit rewards are DPO's
    torch.testing.assert_close(rejected, rejected2)


def test_rpo_alpha_is_checked():
    with pytest.raises(UserError, match="rpo_alpha"):
        DPOSettings(rpo_alpha=-1.0)
