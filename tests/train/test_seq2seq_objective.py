"""The seq2seq objective: the shared loop trains an encoder–decoder on source TAB target pairs
(the corpus `numeri`, or a file), checkpoints it and resumes it bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from attento.data import load_corpus
from attento.data.numbers import italian, pairs_text
from attento.data.pairs import PairBatches, parse_pairs, split_pairs
from attento.data.windows import IGNORE
from attento.errors import UserError
from attento.generate.seq2seq import transduce
from attento.models.folder import load_model
from attento.models.seq2seq import Seq2Seq
from attento.train import train
from attento.train.config import preset
from attento.train.setup import pair_tokenizer

from .conftest import read_log, tiny_config

SPELLED = {
    0: "zero",
    3: "tre",
    13: "tredici",
    21: "ventuno",
    23: "ventitré",
    28: "ventotto",
    108: "centotto",
    180: "centottanta",
    347: "trecentoquarantasette",
    1000: "mille",
    1988: "millenovecentottantotto",
    2001: "duemilauno",
    9999: "novemilanovecentonovantanove",
}


def test_italian_spelling_and_the_numeri_corpus() -> None:
    assert {n: italian(n) for n in SPELLED} == SPELLED
    with pytest.raises(ValueError):
        italian(10_000)
    pairs = parse_pairs(load_corpus("numeri"))
    assert load_corpus("numeri") == pairs_text()
    assert len(pairs) == 10_000 and pairs[347] == ("347", "trecentoquarantasette")
    assert len({t for _, t in pairs}) == 10_000  # no two numbers spelled alike


def test_split_holds_out_a_tenth_and_batches_teacher_force() -> None:
    pairs = [(str(n), italian(n)) for n in range(50)]
    train_part, val = split_pairs(pairs, seed=3)
    assert len(val) == 5 and sorted(train_part + val) == sorted(pairs)
    assert split_pairs(pairs, seed=3) == (train_part, val)
    tok = pair_tokenizer("char", "".join(f"{s}\t{t}\n" for s, t in pairs))
    assert tok.encode("\x00\x01\x02") == [0, 1, 2]
    batches = PairBatches(pairs, tok.encode, 40, 0, 1, 2, seed=3)
    src, tin, tout = batches.collate(
        [(tok.encode("7"), tok.encode("sette")), (tok.encode("12"), tok.encode("dodici"))]
    )
    assert src.tolist() == [[*tok.encode("7"), 0], tok.encode("12")]
    assert tin.tolist() == [[1, *tok.encode("sette"), 0], [1, *tok.encode("dodici")]]
    assert tout.tolist() == [[*tok.encode("sette"), 2, IGNORE], [*tok.encode("dodici"), 2]]
    # two processes draw the same pairs as one, each keeping its half
    one = PairBatches(pairs, tok.encode, 40, 0, 1, 2, seed=3).train_batches(4, 1)
    halves = [
        PairBatches(pairs, tok.encode, 40, 0, 1, 2, seed=3).train_batches(4, 1, r, 2)
        for r in (0, 1)
    ]

    def targets(batch):
        return [[i for i in row if i != IGNORE] for row in batch[2].tolist()]

    assert targets(one[0]) == targets(halves[0][0]) + targets(halves[1][0])
    with pytest.raises(UserError, match=r"raise model\.block_size"):
        PairBatches(pairs, tok.encode, 5, 0, 1, 2)


def seq2seq_config(corpus: Path, **changes):
    return tiny_config(
        corpus=str(corpus),
        objective="seq2seq",
        arch="seq2seq",
        model=dict(block_size=24, n_layer=1, n_head=2, n_embd=16),
        batch_size=8,
        grad_accum=1,
        learning_rate=1e-2,
        eval_batches=None,
    ).replace(**changes)


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{n}\t{italian(n)}\n" for n in range(100)))
    return path


def test_the_loop_trains_an_encoder_decoder_on_pairs(tmp_path: Path, pairs_file: Path) -> None:
    out = tmp_path / "run"
    result = train(seq2seq_config(pairs_file), out, progress=False)
    rows = read_log(out)
    vals = [float(r["val_loss"]) for r in rows if r["val_loss"]]
    assert len(vals) == 3 and vals[-1] < vals[0]
    model, tok = load_model(out)
    assert isinstance(model, Seq2Seq) and tok.vocab_size == model.config.vocab_size
    written = transduce(model, torch.tensor([tok.encode("42")]), greedy=True)[0]
    assert len(written) < model.config.block_size and tok.decode(written) is not None
    assert result.best_val_loss == min(vals)
    assert json.loads((out / "train_config.json").read_text())["objective"] == "seq2seq"


def test_a_seq2seq_run_resumes_bit_for_bit(
    tmp_path: Path, pairs_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = seq2seq_config(
        pairs_file, model=dict(block_size=24, n_layer=1, n_head=2, n_embd=16, dropout=0.1)
    )
    straight = tmp_path / "straight"
    train(cfg, straight, progress=False)
    cut = tmp_path / "cut"
    real, count = PairBatches.train_batches, {"n": 0}

    def draw(self, *args, **kwargs):
        count["n"] += 1
        if count["n"] == 7:  # killed during step 7, after the checkpoint at step 4
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(PairBatches, "train_batches", draw)
        with pytest.raises(KeyboardInterrupt):
            train(cfg, cut, progress=False)
    train(None, cut, resume=True, progress=False)
    a, b = read_log(straight), read_log(cut)
    assert [r["train_loss"] for r in a] == [r["train_loss"] for r in b]
    assert [r["val_loss"] for r in a] == [r["val_loss"] for r in b]
    wa, wb = load_file(straight / "model.safetensors"), load_file(cut / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_objective_and_arch_go_together_and_the_preset_fits(
    pairs_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="objective seq2seq and arch seq2seq go together"):
        seq2seq_config(pairs_file, arch="gpt").check()
    with pytest.raises(UserError, match="--tokenizer char"):
        pair_tokenizer("bpe:100", pairs_file.read_text())
    shape = dict(block_size=24, n_layer=1, n_head=2, n_embd=16, pad_id=5)
    with pytest.raises(UserError, match="keeps pad_id 0, bos_id 1 and eos_id 2"):
        train(seq2seq_config(pairs_file, model=shape), tmp_path / "run", progress=False)
    cfg = preset("numeri")
    cfg.check()
    longest = max(len(t) for _, t in parse_pairs(pairs_text()))
    assert longest + 1 <= cfg.model["block_size"]  # BOS + the longest spelling
