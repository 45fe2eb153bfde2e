"""KV-cache memory: the formula equals the bytes a real cache holds, ours and transformers'."""

from __future__ import annotations

import json

import pytest
import torch

from attento.cli import main
from attento.errors import UserError
from attento.models.folder import load_model
from attento.models.gpt import GPT, GPTConfig
from attento.models.kv_memory import PUBLIC, CacheShape, cached_bytes, shape_of

HAS_GQA = "n_kv_head" in GPTConfig.__dataclass_fields__


def prefill(model: GPT, batch: int, tokens: int):
    cache = model.new_cache(batch)
    with torch.no_grad():
        model(torch.randint(0, model.config.vocab_size, (batch, tokens)), cache=cache)
    return cache


@pytest.mark.parametrize(
    ("dtype", "size", "batch"), [(torch.float32, 4, 1), (torch.bfloat16, 2, 3)]
)
def test_formula_equals_the_bytes_our_cache_holds(dtype, size, batch):
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=50, block_size=64, n_layer=3, n_head=4, n_embd=64)
    model = GPT(config).eval().to(dtype)
    cache = prefill(model, batch, 23)
    shape = CacheShape.from_config(config)
    assert cache.layers[0].k.shape == (batch, shape.n_kv_head, 23, shape.head_dim)
    assert cached_bytes(cache) == shape.bytes_at(23, size, batch)
    assert shape.bytes_at(None, size, batch) == shape.bytes_per_token(size, batch) * 64


@pytest.mark.skipif(not HAS_GQA, reason="GPTConfig has no n_kv_head yet")
def test_grouped_query_cache_is_smaller_by_the_group_size():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=50, block_size=64, n_layer=2, n_head=6, n_embd=48, n_kv_head=2)
    model = GPT(config).eval()
    cache = prefill(model, 1, 11)
    shape = CacheShape.from_config(config)
    assert shape.n_kv_head == 2 and shape.saving == 3
    assert cached_bytes(cache) == shape.bytes_at(11)
    assert cached_bytes(cache) * 3 == shape.mha_bytes_per_token() * 11


def test_formula_equals_transformers_cache_for_grouped_query_llama():
    transformers = pytest.importorskip("transformers")
    hf = transformers.LlamaConfig(
        vocab_size=50,
        hidden_size=96,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(hf).eval()
    with torch.no_grad():
        out = model(torch.randint(0, 50, (2, 9)), use_cache=True)
    held = sum(
        t.numel() * t.element_size()
        for layer in out.past_key_values.layers
        for t in (layer.keys, layer.values)
    )
    shape = CacheShape.from_hf_config(hf.to_dict())
    assert (shape.n_kv_head, shape.head_dim, shape.kind) == (2, 16, "GQA 3:1")
    assert held == shape.bytes_at(9, 4, 2)


def test_gpt2_small_of_the_table_is_transformers_default_gpt2():
    transformers = pytest.importorskip("transformers")
    ours = PUBLIC["openai-community/gpt2"]
    theirs = CacheShape.from_hf_config(transformers.GPT2Config().to_dict(), ours.name)
    assert theirs == ours
    assert ours.bytes_per_token() == 2 * 12 * 768 * 4  # K and V of every layer's full width


def test_bundled_model_shape_matches_its_loaded_config():
    model, _ = load_model("dante")
    assert shape_of("dante") == CacheShape.from_config(model.config, "dante")


def test_hugging_face_folder_is_read_from_its_config(tmp_path):
    hf = {"model_type": "qwen2", "num_hidden_layers": 24, "num_attention_heads": 14}
    hf |= {"num_key_value_heads": 2, "hidden_size": 896, "max_position_embeddings": 32768}
    (tmp_path / "config.json").write_text(json.dumps(hf))
    shape = shape_of(str(tmp_path))
    assert shape == CacheShape(str(tmp_path), 24, 14, 2, 896 // 14, 32768)
    assert shape.bytes_per_token(2) == 2 * 24 * 2 * 64 * 2  # K, V x layers x kv heads x dim


def test_shape_errors_are_one_line():
    with pytest.raises(UserError, match="bundled"):
        shape_of("no-such-model")
    with pytest.raises(UserError, match="multiple of n_kv_head"):
        CacheShape("x", 2, 6, 4, 8, 16)


def test_kv_cache_command(capsys, tmp_path):
    assert main(["kv-cache", "--model", "dante", "--context", "100", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["models"][0]
    config = load_model("dante")[0].config
    assert row["bytes"] == 2 * config.n_layer * config.n_embd * 4 * 100
    assert main(["kv-cache", "--dtype", "bfloat16"]) == 0
    table = capsys.readouterr().out
    assert "Llama-3.2-1B" in table and "GQA 4:1" in table
    assert main(["kv-cache", "--context", "0"]) == 2
    assert "context must be a positive integer, got 0" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"arch": "cnn", "model": {"n_embd": 8}}))
    assert main(["kv-cache", "--model", str(tmp_path)]) == 2
    assert "no KV cache" in capsys.readouterr().err
