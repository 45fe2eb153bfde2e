"""A model attento trained, exported with its tokenizer (export_hf + to_hf_json), runs in
`transformers.pipeline("text-generation")` and writes what `attento generate` writes, greedy,
token for token: the bundled dante (as GPT2LMHeadModel) and the `cpu` preset's shape (RoPE,
RMSNorm, no biases: as LlamaForCausalLM) with dante's tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from attento.cli import main
from attento.models.folder import load_model, save_model
from attento.models.gpt import GPT, GPTConfig
from attento.models.hf import export_hf
from attento.tokenize.hf_json import to_hf_json

transformers = pytest.importorskip("transformers")

PROMPT = "Nel mezzo del cammin"
NEW = 12


def attento_greedy(model: str, capsys) -> list[int]:
    argv = ["generate", "--model", model, "--prompt", PROMPT, "--greedy", "--json"]
    assert main([*argv, "--max-new-tokens", str(NEW)]) == 0
    return json.loads(capsys.readouterr().out)["ids"]


def cpu_shaped(tmp_path: Path) -> Path:
    """A random model of the cpu preset's shape, peaked enough that greedy has no near-ties."""
    from attento.train.config import preset

    _, tokenizer = load_model("dante")
    torch.manual_seed(3)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **preset("cpu").model)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(8.0 if p.dim() > 1 else 1.0)
    return save_model(model, tokenizer, tmp_path / "cpu-shaped")


@pytest.mark.parametrize(
    ("which", "architecture"), [("dante", "GPT2LMHeadModel"), ("cpu", "LlamaForCausalLM")]
)
def test_an_exported_model_generates_the_same_in_transformers(
    which: str, architecture: str, tmp_path: Path, capsys
) -> None:
    source = "dante" if which == "dante" else str(cpu_shaped(tmp_path))
    model, tokenizer = load_model(source)
    folder = tmp_path / "exported"
    export_hf(model, folder)
    to_hf_json(tokenizer, folder)
    expected = attento_greedy(source, capsys)

    pipe = transformers.pipeline("text-generation", model=str(folder), device="cpu")
    assert type(pipe.model).__name__ == architecture
    prompt_ids = tokenizer.encode(PROMPT)
    assert pipe.tokenizer(PROMPT, add_special_tokens=True)["input_ids"] == prompt_ids
    out = pipe(PROMPT, max_new_tokens=NEW, do_sample=False, return_tensors=True)
    assert out[0]["generated_token_ids"][len(prompt_ids) :] == expected

    hf_model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    ids = hf_tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    generated = hf_model.generate(ids, max_new_tokens=NEW, do_sample=False, pad_token_id=0)
    assert generated[0, ids.size(1) :].tolist() == expected
    assert hf_tokenizer.decode(expected) == tokenizer.decode(expected)
