from __future__ import annotations

import json
import math
import re

import pytest
import torch

from attento.align.chat import IGNORE, ChatFormat, add_chat_tokens
from attento.align.data import load_conversations
from attento.align.lora import LoRAGPT
from attento.align.sft import SFTBatches, SFTSettings, make_sft_batches, sft
from attento.errors import UserError
from attento.models.folder import load_model, save_model

from .conftest import tiny_gpt

RECORDS = [
    {"instruction": f"{a}+{b}=", "input": "", "output": str(a + b)}
    for a in range(6)
    for b in range(6)
]


def test_batches_target_only_the_answers(char_tokenizer):
    _, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    chat = ChatFormat.of(tok)
    convs = [
        [
            {"role": "user", "content": r["instruction"]},
            {"role": "assistant", "content": r["output"]},
        ]
        for r in RECORDS
    ]
    batches = make_sft_batches(chat, convs, block_size=48, seed=0)
    assert len(batches.val) == 3 and len(batches.train) == 33
    ((x, y),) = batches.train_batches(8, 1)
    assert x.shape == y.shape and x.size(0) == 8
    for row_x, row_y in zip(x.tolist(), y.tolist(), strict=True):
        targets = [t for t in row_y if t != IGNORE]
        # the answer's digits and the closing marker, nothing from the prompt
        assert targets[-1] == chat.im_end and tok.decode(targets[:-1]).isdigit()
        prompt = tok.decode(row_x)
        n = len(targets)
        first = row_y.index(targets[0])
        assert prompt[: first + 1].endswith("assistant\n")  # x at t predicts y at t
        assert row_y[first + n :] == [IGNORE] * (len(row_y) - first - n)
    state = batches.state_dict()
    a = batches.train_batches(4, 2)
    batches.load_state_dict(state)
    b = batches.train_batches(4, 2)
    assert all(torch.equal(p[0], q[0]) for p, q in zip(a, b, strict=True))


def test_examples_without_an_answer_in_context_are_refused():
    with pytest.raises(UserError, match="no example"):
        SFTBatches([([1, 2, 3, 4], [IGNORE, IGNORE, IGNORE, 4])], block_size=2)


def test_a_character_the_model_never_saw_names_the_data_record(tmp_path, base_dir):
    data = tmp_path / "d.json"
    data.write_text(json.dumps([*RECORDS[:2], {"instruction": "1+1", "output": "DUE"}]))
    with pytest.raises(UserError, match=rf"^{re.escape(str(data))}, record 3: character 'D'"):
        sft(base_dir, data, tmp_path / "out", SFTSettings(max_steps=1), progress=False)


def test_sft_runs_through_the_shared_loop_and_learns(tmp_path, base_dir):
    data = tmp_path / "d.json"
    data.write_text(json.dumps(RECORDS))
    settings = SFTSettings(max_steps=15, batch_size=16, learning_rate=3e-3, eval_interval=15)
    result = sft(base_dir, data, tmp_path / "out", settings, progress=False)
    assert result.steps == 15 and result.final_val_loss < math.log(42)  # below uniform guessing
    model, tok = load_model(tmp_path / "out")
    assert ChatFormat.find(tok) is not None and model.config.vocab_size == tok.vocab_size
    config = json.loads((tmp_path / "out" / "train_config.json").read_text())
    assert config["objective"] == "sft"
    # the loop's own resume works for SFT too
    settings.max_steps = 16
    again = sft(base_dir, data, tmp_path / "out", settings, progress=False, resume=True)
    assert again.steps == 16


def test_sft_with_lora_writes_adapters_and_merged(tmp_path, base_dir):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    settings = SFTSettings(max_steps=3, batch_size=4, eval_interval=3, lora_r=2)
    sft(base_dir, data, tmp_path / "out", settings, progress=False)
    adapters, tok = load_model(tmp_path / "out")
    merged, _ = load_model(tmp_path / "out" / "merged")
    assert isinstance(adapters, LoRAGPT) and not isinstance(merged, LoRAGPT)
    assert adapters.config.lora_train_embeddings  # the new chat tokens must learn
    x = torch.tensor([ChatFormat.of(tok).encode_prompt([{"role": "user", "content": "1+2="}])])
    torch.testing.assert_close(merged(x), adapters(x), rtol=1e-4, atol=1e-4)


def test_alpaca_demo_file_trains_a_tiny_bpe_model(tmp_path, data_dir, bpe_tokenizer):
    model = tiny_gpt(bpe_tokenizer.vocab_size, block_size=64)
    save_model(model, bpe_tokenizer, tmp_path / "base")
    data = data_dir / "alpaca_en_demo.json"
    assert len(load_conversations(data)) == 999
    settings = SFTSettings(max_steps=2, batch_size=4, eval_interval=2, eval_batches=2)
    result = sft(tmp_path / "base", data, tmp_path / "out", settings, progress=False)
    assert result.steps == 2 and math.isfinite(result.final_val_loss)
    _, tok = load_model(tmp_path / "out")
    assert "<|im_start|>" in tok.special_tokens


def test_objective_sft_without_batches_is_a_user_error(tmp_path):
    from attento.train import TrainConfig, train

    cfg = TrainConfig(objective="sft", model=dict(block_size=8, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(UserError, match="batch source"):
        train(cfg, tmp_path / "x", text="hello world " * 50, progress=False)
