"""`attento explain --model` on a Hugging Face folder or a Hub id (offline, from the cache)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from attento.errors import UserError
from attento.explain.catalog import Catalog
from attento.explain.server import create_app

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    folder = tmp_path_factory.mktemp("hf-llama")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(["Il gatto è sul tappeto. To be, or not to be. " * 30], trainer)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|endoftext|>"}))
    config = transformers.LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def check_served(catalog: Catalog, name: str, folder: Path) -> None:
    from tokenizers import Tokenizer

    client = TestClient(create_app(catalog), base_url="http://127.0.0.1")
    facts = {m["name"]: m for m in client.get("/api/models").json()["models"]}[name]
    assert (facts["arch"], facts["n_layer"], facts["n_head"], facts["n_kv_head"]) == (
        "llama",
        2,
        4,
        2,
    )
    reply = client.post("/api/trace", json={"model": name, "prompt": "Il gatto è"})
    assert reply.status_code == 200, reply.text
    expected = Tokenizer.from_file(str(folder / "tokenizer.json")).encode("Il gatto è").ids
    assert reply.json()["ids"] == expected


def test_a_hugging_face_folder_is_explained(llama_folder):
    catalog = Catalog.discover(str(llama_folder))
    check_served(catalog, catalog.default, llama_folder)


def test_a_hub_id_is_explained_offline_from_the_cache(llama_folder, hf_cache):
    hf_cache("tiny-org/tiny-llama", llama_folder)
    catalog = Catalog.discover("tiny-org/tiny-llama")
    assert catalog.default == "tiny-org/tiny-llama"
    check_served(catalog, "tiny-org/tiny-llama", llama_folder)


def test_an_encoder_or_an_unknown_id_is_one_line(tmp_path, hf_cache):
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(UserError, match="decoder-only"):
        Catalog.discover(str(tmp_path / "bert"))
    with pytest.raises(UserError, match="not in the Hugging Face cache"):
        Catalog.discover("tiny-org/absent")
