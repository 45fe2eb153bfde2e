"""KV-cache memory: the formula equals the bytes a real cache holds, ours and transformers'."""

from __future__ import annotations

import json
from dataclasses import replace

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
    assert "| dante |" in table and "dante-bert" not in table  # an encoder has no KV cache
    assert main(["kv-cache", "--model", "dante-bert"]) == 2
    assert "encoder" in capsys.readouterr().err
    assert main(["kv-cache", "--context", "0"]) == 2
    assert "context must be a positive integer, got 0" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"arch": "cnn", "model": {"n_embd": 8}}))
    assert main(["kv-cache", "--model", str(tmp_path)]) == 2
    assert "no KV cache" in capsys.readouterr().err


# --- a sliding window caps the cache -------------------------------------------------------


def test_window_caps_the_cache_by_hand():
    # 3 layers x 2 kv heads x 8 numbers x 4 bytes, K and V: 384 bytes per token
    shape = CacheShape("x", 3, 4, 2, 8, 64, window=16)
    assert shape.bytes_per_token() == 2 * 3 * 2 * 8 * 4 == 384
    assert shape.bytes_at(10) == 384 * 10  # under the window: it grows as without one
    assert shape.bytes_at(40) == shape.bytes_at() == 384 * 16  # then it stays at W tokens
    assert shape.mha_bytes_at() == 2 * 384 * 16  # MHA: 4 kv heads, twice as many
    one_layer = CacheShape("x", 3, 4, 2, 8, 64, window=16, window_layers=1)
    assert one_layer.bytes_at() == 2 * 2 * 8 * 4 * (2 * 64 + 1 * 16)  # two full layers + one
    memory = shape.memory(40)
    assert (memory["bytes"], memory["bytes_full"], memory["window_layers"]) == (6144, 6144, 3)
    with pytest.raises(UserError, match="window_layers"):
        CacheShape("x", 3, 4, 2, 8, 64, window=16, window_layers=4)


def decoded_cache(model: GPT, prompt: int, new: int):
    """The real cache of the generation loop after writing `new` tokens after `prompt`."""
    from attento.generate.loop import Decoder

    decoder = Decoder(model, torch.randint(0, model.config.vocab_size, (1, prompt)), new)
    with torch.no_grad():
        for _ in range(new):
            decoder.append(decoder.next_logits().argmax(-1))
    return decoder.cache


@pytest.mark.parametrize("prompt", [3, 11])  # shorter and longer than the window
def test_window_formula_equals_the_bytes_our_cache_holds_past_the_window(prompt):
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=50, block_size=64, n_layer=2, n_head=4, n_embd=32, pos_encoding="rope"
    )
    windowed = GPT(replace(config, sliding_window=8, n_kv_head=2)).eval()
    cache = decoded_cache(windowed, prompt, 12)
    shape = CacheShape.from_config(windowed.config)
    assert cache.length == prompt + 11 > shape.window == 8
    assert all(layer.k.size(2) == 8 for layer in cache.layers)
    assert cached_bytes(cache) == shape.bytes_at(cache.length) == shape.bytes_per_token() * 8
    full = decoded_cache(GPT(config).eval(), prompt, 12)  # no window: all of them
    assert cached_bytes(full) == CacheShape.from_config(config).bytes_at(full.length)


def hf_held(model, tokens: int) -> int:
    """Bytes of transformers' cache after feeding `tokens` random tokens one at a time."""
    cache = None
    with torch.no_grad():
        for t in torch.randint(0, 50, (tokens,)).tolist():
            cache = model(torch.tensor([[t]]), cache=cache, use_cache=True).cache
    return sum(
        t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values)
    )


def test_window_formula_equals_transformers_mistral_cache():
    transformers = pytest.importorskip("transformers")
    hf = transformers.MistralConfig(
        vocab_size=50,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        max_position_embeddings=64,
        sliding_window=8,
    )
    torch.manual_seed(0)
    held = hf_held(transformers.MistralForCausalLM(hf).eval(), 20)
    shape = CacheShape.from_hf_config(hf.to_dict())
    assert (shape.window, shape.sliding_layers, shape.kind) == (8, 2, "MQA")
    # transformers keeps W - 1 between steps; the token fed next makes the W of the formula
    assert held + shape.bytes_per_token() == shape.bytes_at(20) == shape.bytes_at()


def test_window_formula_equals_transformers_qwen2_cache_sliding_in_some_layers():
    transformers = pytest.importorskip("transformers")
    hf = transformers.Qwen2Config(
        vocab_size=50,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        use_sliding_window=True,
        sliding_window=8,
        max_window_layers=1,  # layer 0 full, layers 1 and 2 slide
    )
    torch.manual_seed(0)
    held = hf_held(transformers.Qwen2ForCausalLM(hf).eval(), 20)
    shape = CacheShape.from_hf_config(hf.to_dict())
    assert (shape.window, shape.sliding_layers) == (8, 2)
    per_layer_token = shape.bytes_per_token() // 3
    assert held + 2 * per_layer_token == shape.bytes_at(20) == per_layer_token * (20 + 2 * 8)
    raw = {k: v for k, v in hf.to_dict().items() if k != "layer_types"}  # an older config.json
    assert CacheShape.from_hf_config(raw) == shape
    off = hf.to_dict() | {"use_sliding_window": False}
    assert CacheShape.from_hf_config(off).window is None


def test_mistral_of_the_table_is_transformers_mistral_at_its_published_context():
    transformers = pytest.importorskip("transformers")
    ours = PUBLIC["mistralai/Mistral-7B-v0.1"]
    hf = transformers.MistralConfig(max_position_embeddings=32768).to_dict()
    assert CacheShape.from_hf_config(hf, ours.name) == ours
    assert ours.bytes_at() == ours.bytes_per_token() * 4096  # 32k context, 4k kept


def test_kv_cache_command_shows_the_window(capsys, tmp_path):
    from attento.models.folder import save_model

    config = GPTConfig(vocab_size=50, block_size=256, n_layer=2, n_head=4, n_embd=32)
    model = GPT(replace(config, sliding_window=32))
    save_model(model, None, tmp_path / "sliding")
    assert main(["kv-cache", "--model", str(tmp_path / "sliding"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["models"][0]
    assert (row["window"], row["tokens"]) == (32, 256)
    assert row["bytes"] == row["bytes_full"] == 2 * 2 * 32 * 4 * 32  # 32 of the 256 tokens
    assert row["mha_bytes"] == row["bytes"]  # MHA already
    assert main(["kv-cache"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "Mistral-7B" in x)
    assert "| 4,096 |" in line and "| 256.0 KiB | 32,768 | 1.0 GiB |" in line  # x 4096 kept
