"""Speculative decoding: the target's greedy text exactly, the target's distribution when sampling."""

from __future__ import annotations

import json
import math

import pytest
import torch

from attento.cli import main
from attento.errors import UserError
from attento.generate import generate
from attento.generate.speculative import (
    SpeculativeStats,
    accept,
    check_same_tokenizer,
    speculative_generate,
)
from attento.models import GPT, GPTConfig
from attento.models.folder import save_model
from attento.tokenize import CharTokenizer

TEXT = "nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"


def _model(seed: int, vocab: int, block: int, layers: int, embd: int, **kw) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab, block, layers, 2, embd, **kw)).eval()
    with torch.no_grad():  # sharper distributions than the 0.02 init: greedy ties are rare
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(5.0)
    return model


@pytest.mark.filterwarnings("ignore:the prompt has")
@pytest.mark.parametrize("pos_encoding", ["learned", "rope"])
def test_greedy_is_the_target_alone(pos_encoding):
    target = _model(0, 11, 24, 2, 32, pos_encoding=pos_encoding)
    draft = _model(1, 11, 16, 1, 16, pos_encoding=pos_encoding)
    gen = torch.Generator().manual_seed(3)
    seen_accepts = 0
    # prompt lengths: short, just below the context edge, at it, beyond it
    for length in (1, 4, 20, 23, 24, 30):
        idx = torch.randint(0, 11, (1, length), generator=gen)
        expected = generate(target, idx, 30, greedy=True)
        for k in (1, 3, 6):
            stats = SpeculativeStats()
            out = speculative_generate(target, draft, idx, 30, k=k, greedy=True, stats=stats)
            assert torch.equal(out, expected), (length, k)
            seen_accepts += stats.accepted
    assert seen_accepts > 0  # the rollback path and the accepted path both ran


def test_greedy_with_the_target_as_its_own_draft_accepts_everything():
    target = _model(0, 11, 64, 2, 32)
    stats = SpeculativeStats()
    idx = torch.tensor([[1, 2]])
    out = speculative_generate(target, target, idx, 40, k=4, greedy=True, stats=stats)
    assert torch.equal(out, generate(target, idx, 40, greedy=True))
    assert stats.acceptance_rate == 1.0 and stats.target_passes == 8  # 5 tokens per pass


def test_greedy_stops_at_end_of_text_like_the_target():
    target = _model(0, 11, 64, 2, 32)
    draft = _model(1, 11, 64, 1, 16)
    idx = torch.tensor([[3]])
    free = generate(target, idx, 40, greedy=True)[0, 1:].tolist()
    eot = free[7]  # a token the target writes: the text ends at its first appearance
    expected = generate(target, idx, 40, greedy=True, eot_id=eot)
    assert expected.size(1) < 41 and expected[0, -1] == eot
    for k in (1, 2, 5):
        out = speculative_generate(target, draft, idx, 40, k=k, greedy=True, eot_id=eot)
        assert torch.equal(out, expected)


def _tv(counts: torch.Tensor, p: torch.Tensor) -> float:
    return 0.5 * float((counts / counts.sum() - p).abs().sum())


def _tv_bound(p: torch.Tensor, n: int) -> float:
    """Four standard deviations of every cell at once: a correct sampler stays below it."""
    return 0.5 * float((4 * (p * (1 - p) / n).sqrt()).sum())


def test_acceptance_rule_gives_the_target_distribution():
    """One step of the rule, many seeded draws: the first token is distributed as p (TV
    bound), and the same bound rejects the rule without its correction (resampling from p)."""
    V, k, n = 6, 2, 6000
    gen = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(k + 1, V, generator=gen) * 2, dim=-1)
    q = p[:k].flip(-1)  # the draft favours what the target does not: many rejections
    counts = torch.zeros(V)
    draws = torch.Generator().manual_seed(1)
    for _ in range(n):
        drafted = torch.multinomial(q, 1, generator=draws).view(-1)
        accepted, token = accept(p, q, drafted, draws)
        counts[int(drafted[0]) if accepted >= 1 else token] += 1
    bound = _tv_bound(p[0], n)
    assert _tv(counts, p[0]) < bound
    # without the correction step the first token would be q·min(1, p/q) + (1 - beta)·p
    kept = torch.minimum(p[0], q[0])
    broken = kept + (1 - kept.sum()) * p[0]
    assert 0.5 * float((broken - p[0]).abs().sum()) > 2 * bound


def test_sampled_text_is_distributed_as_the_target():
    """End to end on a 4-token vocabulary: the first two tokens' joint distribution over
    seeded runs matches the target's exact one (computed from its logits)."""
    V = 4
    target = _model(0, V, 16, 1, 16)
    draft = _model(5, V, 16, 1, 16)
    idx = torch.tensor([[0, 1]])
    with torch.inference_mode():
        first = torch.softmax(target(idx)[0, -1], dim=-1)
        second = torch.stack(
            [torch.softmax(target(torch.tensor([[0, 1, a]]))[0, -1], -1) for a in range(V)]
        )
    joint = (first[:, None] * second).view(-1)
    n = 2500
    counts = torch.zeros(V * V)
    stats = SpeculativeStats()
    for seed in range(n):
        out = speculative_generate(target, draft, idx, 2, k=2, seed=seed, stats=stats)
        counts[int(out[0, 2]) * V + int(out[0, 3])] += 1
    assert _tv(counts, joint) < _tv_bound(joint, n)
    assert 0 < stats.accepted < stats.proposed  # both the accept and the reject branch ran


def test_bad_settings_are_user_errors():
    target = _model(0, 11, 16, 1, 16)
    with pytest.raises(UserError, match="k must be"):
        speculative_generate(target, target, torch.tensor([[1]]), 3, k=0)
    with pytest.raises(UserError, match="batch 1"):
        speculative_generate(target, target, torch.tensor([[1], [2]]), 3)
    with pytest.raises(UserError, match="vocabulary"):
        speculative_generate(target, _model(0, 12, 16, 1, 16), torch.tensor([[1]]), 3)


def test_tokenizers_must_be_the_same():
    a = CharTokenizer.from_text("abc")
    check_same_tokenizer(a, CharTokenizer.from_text("cab"))
    with pytest.raises(UserError, match="another tokenizer"):
        check_same_tokenizer(a, CharTokenizer.from_text("abd"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tok = CharTokenizer.from_text(TEXT)
    root = tmp_path_factory.mktemp("pair")
    target = save_model(_model(0, tok.vocab_size, 32, 2, 16), tok, root / "target")
    draft = save_model(_model(1, tok.vocab_size, 32, 1, 16), tok, root / "draft")
    other = save_model(_model(1, 5, 32, 1, 16), CharTokenizer.from_text("abcde"), root / "other")
    return target, draft, other


def test_cli_draft_writes_the_target_text(pair, capsys):
    target, draft, _ = pair
    base = ["generate", "--model", str(target), "--prompt", "mi", "--greedy", "--json"]
    assert main([*base, "--max-new-tokens", "20"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert main([*base, "--max-new-tokens", "20", "--draft", str(draft), "--draft-k", "3"]) == 0
    drafted = json.loads(capsys.readouterr().out)
    assert drafted["text"] == alone["text"] and drafted["ids"] == alone["ids"]
    d = drafted["draft"]
    assert d["target_passes"] <= 20 and math.isclose(
        d["acceptance_rate"], d["accepted"] / d["proposed"]
    )
    assert "draft" not in alone


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--draft-k", "3"], "--draft-k needs --draft"),
        (["--draft", "DRAFT", "--no-cache"], "drop --no-cache"),
        (["--draft", "OTHER"], "another tokenizer"),
        (["--draft", "DRAFT", "--draft-k", "0"], "k must be"),
    ],
)
def test_cli_draft_mistakes_are_one_line(pair, capsys, extra, message):
    target, draft, other = pair
    extra = [{"DRAFT": str(draft), "OTHER": str(other)}.get(a, a) for a in extra]
    args = ["generate", "--model", str(target), "--prompt", "mi", "--max-new-tokens", "5"]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
