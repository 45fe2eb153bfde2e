"""Tiny models and a refusal report for the labs' tests (built in a second, never trained)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from attento.align.chat import add_chat_tokens
from attento.align.refusal import build_sets, load_refusal_data, refusal_markers
from attento.align.reward import RewardModel
from attento.models import GPT, GPTConfig
from attento.models.folder import save_model
from attento.tokenize import CharTokenizer

CHARS = "0123456789+= abcdefghijklmnopqrstuvwxyz\n"


def chat_model(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    tok = CharTokenizer.from_text(CHARS)
    config = GPTConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2, n_embd=16)
    model, tok, _ = add_chat_tokens(GPT(config).eval(), tok)
    return save_model(model, tok, folder)


def lab_models(root: Path) -> dict[str, Path]:
    """{"chat", "after", "reward"}: two chat GPTs of different seeds and a reward model."""
    from attento.models.folder import load_model

    chat = chat_model(root / "chat", 0)
    after = chat_model(root / "after", 1)
    lm, tok = load_model(chat)
    torch.manual_seed(2)
    reward = save_model(RewardModel.from_lm(lm).eval(), tok, root / "reward")
    return {"chat": chat, "after": after, "reward": reward}


def refusal_report(folder: Path) -> Path:
    """A report.json shaped as refusal_demo writes it: the held-out prompts, where the
    "before" stage answers everything and the later stages refuse the harmful ones."""
    data = load_refusal_data()
    sets, refusal = build_sets(data), data["refusal"]
    stages = {}
    for stage, refuses in (("helpful_sft", False), ("safety_sft", True), ("dpo", True)):
        answers = []
        for kind in ("harmful", "harmless"):
            for p in sets[kind]:
                refused = refuses and kind == "harmful"
                text = refusal[p["lang"]] if refused else f"risposta {stage}"
                answers.append({"prompt": p["prompt"], "answer": text, "refused": refused})
        stages[stage] = {
            "refusal_rate_harmful": 1.0 if refuses else 0.0,
            "over_refusal_rate_harmless": 0.0,
            "answers": answers,
        }
    assert all(m for m in refusal_markers(data))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps({"stages": stages}, ensure_ascii=False))
    return folder
