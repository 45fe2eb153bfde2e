"""Real models by name: a Hugging Face folder or a Hub id opens in every command, offline.

The models are tiny and random, built in the test with `transformers` and `tokenizers` and
saved as `save_pretrained` writes them; the Hub id goes through huggingface_hub's own code, on
a cache laid out by hand with HF_HUB_OFFLINE=1 (the `hf_cache` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from attento.cli import main

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


def hf_greedy(folder: Path, prompt: str, n: int) -> list[int]:
    from tokenizers import Tokenizer

    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(prompt).ids
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    out = model.generate(
        torch.tensor([ids]), max_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=0
    )
    return out[0, len(ids) :].tolist()


def generate_ids(capsys, model: str, *extra: str) -> list[int]:
    argv = ["generate", "--model", model, "--prompt", "Il gatto è", "--greedy"]
    assert main([*argv, "--max-new-tokens", "8", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)["ids"]


def test_a_hugging_face_folder_generates_what_transformers_generates(hf_llama_folder, capsys):
    assert generate_ids(capsys, str(hf_llama_folder)) == hf_greedy(hf_llama_folder, "Il gatto è", 8)


def test_a_hub_id_opens_offline_from_the_cache(hf_llama_folder, hf_cache, capsys):
    hf_cache("tiny-org/tiny-llama", hf_llama_folder)
    ids = generate_ids(capsys, "tiny-org/tiny-llama")
    assert ids == hf_greedy(hf_llama_folder, "Il gatto è", 8)


def test_loading_states_the_size_first_and_refuses_what_does_not_fit(
    hf_llama_folder, capsys, monkeypatch
):
    from attento import memory
    from attento.models import gpt, hf

    argv = ["generate", "--model", str(hf_llama_folder), "--prompt", "x", "--max-new-tokens", "1"]
    assert main(argv) == 0
    n = gpt.parameter_count(hf.read_config(hf_llama_folder))
    assert f"{n:,} parameters" in capsys.readouterr().err

    monkeypatch.setattr(memory, "available_bytes", lambda: 1000)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs" in err and "available" in err and "Traceback" not in err


def test_bfloat16_weights(hf_llama_folder, capsys):
    from attento.models.folder import load_model

    model, _ = load_model(hf_llama_folder, dtype="bfloat16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert len(generate_ids(capsys, str(hf_llama_folder), "--dtype", "bfloat16")) == 8


def test_chat_uses_the_models_own_template(hf_llama_folder, monkeypatch, capsys):
    """The prompt `attento chat` sends is transformers' apply_chat_template, token for token."""
    import io

    from attento.align import talk

    sent: list[list[int]] = []
    real = talk.Decoder

    def spy(model, ids, capacity, **kw):
        sent.append(ids[0].tolist())
        return real(model, ids, capacity, **kw)

    monkeypatch.setattr(talk, "Decoder", spy)
    monkeypatch.setattr("sys.stdin", io.StringIO("Ciao!\n"))
    argv = ["chat", "--model", str(hf_llama_folder), "--greedy", "--max-new-tokens", "4"]
    assert main([*argv, "--system", "Sei gentile."]) == 0
    reference = transformers.AutoTokenizer.from_pretrained(hf_llama_folder)
    expected = reference.apply_chat_template(
        [{"role": "system", "content": "Sei gentile."}, {"role": "user", "content": "Ciao!"}],
        add_generation_prompt=True,
        tokenize=True,
    )
    if hasattr(expected, "keys"):  # transformers >= 5 returns a BatchEncoding
        expected = expected["input_ids"]
    assert sent == [list(expected)]


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("no-such-org/no-such-model", "not in the Hugging Face cache"),
        ("./no/such/folder", "not found"),
    ],
)
def test_models_that_cannot_be_opened_are_one_line(hf_cache, capsys, model, words):
    assert main(["generate", "--model", model, "--prompt", "x"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_folder_without_tokenizer_files_says_so(hf_llama_folder, tmp_path, capsys):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(hf_llama_folder, bare)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (bare / name).unlink()
    assert main(["generate", "--model", str(bare), "--prompt", "x"]) == 2
    assert "saved without a tokenizer" in capsys.readouterr().err
