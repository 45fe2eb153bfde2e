"""The align commands on a Hugging Face chat model: its folder as --model, its own template."""

from __future__ import annotations

import json

import pytest

from attento.align.chat import IGNORE, TemplateChat, chat_format
from attento.cli import main
from attento.models.folder import load_model

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Il gatto è"},
    {"role": "assistant", "content": "sul tappeto."},
    {"role": "user", "content": "The cat?"},
    {"role": "assistant", "content": "sat on the mat."},
]
RECORDS = [
    {"instruction": f"Il gatto {i}", "input": "", "output": "sul tappeto."} for i in range(6)
]
PAIRS = [
    {"prompt": f"The cat {i}", "chosen": "sat on the mat.", "rejected": "Nel mezzo"}
    for i in range(6)
]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_template_example_equals_transformers_and_trains_only_the_answers(hf_llama_folder):
    transformers = pytest.importorskip("transformers")
    _, tokenizer = load_model(str(hf_llama_folder))
    chat = chat_format(tokenizer)
    assert isinstance(chat, TemplateChat)
    ids, labels = chat.encode_example(CONVERSATION)
    reference = transformers.AutoTokenizer.from_pretrained(hf_llama_folder)
    expected = reference.apply_chat_template(CONVERSATION, tokenize=True, return_dict=True)
    assert ids == list(expected["input_ids"])
    trained = [i for i, label in zip(ids, labels, strict=True) if label != IGNORE]
    answers = [m["content"] + "<|im_end|>\n" for m in CONVERSATION if m["role"] == "assistant"]
    assert reference.decode(trained) == "".join(answers)
    prompt = chat.encode_prompt(CONVERSATION[:2])
    assert ids[: len(prompt) + 3] == prompt + chat.encode_reply("sul tappeto.")[:3]
    assert chat.encode_reply("x")[-2:] == reference.encode("<|im_end|>\n")


@pytest.mark.slow
def test_sft_reward_dpo_ppo_take_a_hugging_face_folder(tmp_path, hf_llama_folder, capsys):
    sft_data = tmp_path / "sft.json"
    sft_data.write_text(json.dumps(RECORDS))
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps(PAIRS))
    model = str(hf_llama_folder)
    steps = ["--steps", "2", "--batch-size", "2", "--json"]
    sft_out = tmp_path / "sft"
    assert (
        main(["sft", "--model", model, "--data", str(sft_data), "--out", str(sft_out), *steps]) == 0
    )
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    tuned, tokenizer = load_model(sft_out)
    assert isinstance(chat_format(tokenizer), TemplateChat)  # its own format, no tokens added
    assert tuned.config.vocab_size == load_model(model)[0].config.vocab_size

    rm = tmp_path / "rm"
    assert main(["reward", "--model", model, "--data", str(pairs), "--out", str(rm), *steps]) == 0
    assert json.loads(capsys.readouterr().out)["val_pairs"] == 1
    dpo_out = str(tmp_path / "dpo")
    assert main(["dpo", "--model", model, "--data", str(pairs), "--out", dpo_out, *steps]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["val_reward_accuracy"] <= 1
    argv = ["ppo", "--model", model, "--reward", str(rm), "--data", str(sft_data)]
    assert main([*argv, "--out", str(tmp_path / "ppo"), "--max-new-tokens", "3", *steps]) == 0
    assert [log["step"] for log in json.loads(capsys.readouterr().out)] == [1, 2]
