"""Llama and Qwen2 against `transformers`: tiny random models built here, same logits both ways
(grouped-query and multi-query attention, RoPE scaling, tied and untied heads, biases)."""

from __future__ import annotations

import json

import pytest
import torch

from attento.errors import UserError
from attento.models import hf
from attento.models.gpt import GPT, GPTConfig, nbytes, parameter_count
from attento.models.layers import rope_frequencies
from attento.models.trace import Trace

transformers = pytest.importorskip("transformers")

VOCAB = 97
LLAMA3 = {  # copy it before handing it to transformers, which adds rope_theta to it
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    # with head_dim 16 and θ = 10000 the wavelengths are 6.3 ... 19,869 positions: at 64 some
    # clocks are kept, some slowed by `factor` and two blended, so every branch is used
    "original_max_position_embeddings": 64,
}


def perturbed(model):
    """HF starts biases at 0 and norm gains at 1: randomise them, and scale the matrices up
    so that the logits are far from uniform and a misplaced weight shows."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.3 * torch.randn_like(p) if "norm" in name else torch.randn_like(p))
            else:
                p.mul_(8.0)
    return model.eval()


def llama(**kw):
    settings = dict(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        bos_token_id=None,
        eos_token_id=None,
    )
    torch.manual_seed(0)
    return perturbed(transformers.LlamaForCausalLM(transformers.LlamaConfig(**settings | kw)))


def qwen2(**kw):
    settings = dict(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rope_theta=1e6,
    )
    torch.manual_seed(0)
    return perturbed(transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**settings | kw)))


def same_logits(ours, theirs, T=40):
    idx = torch.randint(0, VOCAB, (2, T), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(idx).logits
        got = ours(idx)
    assert expected.abs().max() > 1  # far from uniform: a wrong weight would show
    return (got - expected).abs().max().item()


CASES = {
    "gqa": dict(),
    "mqa": dict(num_key_value_heads=1),
    "mha tied": dict(num_key_value_heads=4, tie_word_embeddings=True),
    "llama3 scaling": dict(rope_scaling=dict(LLAMA3)),
    "linear scaling": dict(rope_scaling={"rope_type": "linear", "factor": 4.0}),
    "head_dim 32, biases": dict(head_dim=32, attention_bias=True, mlp_bias=True),
    "theta 5e5": dict(rope_theta=5e5, num_key_value_heads=1, tie_word_embeddings=True),
}


@pytest.mark.parametrize("case", CASES)
def test_llama_logits_equal_transformers(tmp_path, case):
    theirs = llama(**CASES[case])
    theirs.save_pretrained(tmp_path)
    ours = GPT.from_hf(tmp_path).eval()
    c = theirs.config
    assert ours.config.kv_heads == c.num_key_value_heads
    assert ours.config.head_dim == c.head_dim
    assert ours.config.tie_weights == c.tie_word_embeddings
    assert same_logits(ours, theirs) < 1e-4
    with Trace() as tr:  # the explicit attention path the explainer sees, with its shapes
        assert same_logits(ours, theirs) < 1e-4
    T, H, Hkv, Dh = 40, c.num_attention_heads, c.num_key_value_heads, c.head_dim
    assert tr.records["blocks.0.attn.k"].shape == (2, Hkv, T, Dh)
    assert tr.records["blocks.0.attn.weights"].shape == (2, H, T, T)
    assert tr.records["blocks.0.attn.heads"].shape == (2, T, H * Dh)


@pytest.mark.parametrize("case", ["gqa untied", "mqa tied"])
def test_qwen2_logits_equal_transformers(tmp_path, case):
    kv, tie = (2, False) if case == "gqa untied" else (1, True)
    theirs = qwen2(num_key_value_heads=kv, tie_word_embeddings=tie)
    assert theirs.model.layers[0].self_attn.q_proj.bias.abs().min() > 0  # random biases
    theirs.save_pretrained(tmp_path)
    ours = GPT.from_hf(tmp_path).eval()
    assert ours.config.has_bias("qkv") and not ours.config.has_bias("attn_out")
    assert same_logits(ours, theirs) < 1e-4


def test_hidden_states_match_layer_by_layer(tmp_path):
    theirs = llama()
    theirs.save_pretrained(tmp_path)
    ours = GPT.from_hf(tmp_path).eval()
    idx = torch.randint(0, VOCAB, (1, 12))
    with torch.no_grad(), Trace() as tr:
        ref = theirs(idx, output_hidden_states=True).hidden_states
        ours(idx)
    assert (tr.records["embed.sum"] - ref[0]).abs().max() < 1e-5
    assert (tr.records["blocks.0.out"] - ref[1]).abs().max() < 1e-4


@pytest.mark.parametrize("scaling", [None, LLAMA3, {"rope_type": "linear", "factor": 2.5}])
def test_rope_frequencies_equal_transformers_bit_for_bit(scaling):
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = transformers.LlamaConfig(
        hidden_size=64,
        num_attention_heads=4,
        rope_theta=5e5,
        rope_scaling=scaling and dict(scaling),
    )
    ours = rope_frequencies(16, 5e5, scaling)
    if scaling is None:
        theirs = transformers.models.llama.modeling_llama.LlamaRotaryEmbedding(config).inv_freq
    else:
        theirs, _ = ROPE_INIT_FUNCTIONS[scaling["rope_type"]](config)
    assert torch.equal(ours, theirs)


def test_sharded_safetensors_load(tmp_path):
    theirs = llama()
    theirs.save_pretrained(tmp_path, max_shard_size="40KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 2
    assert same_logits(GPT.from_hf(tmp_path).eval(), theirs) < 1e-4


def test_pytorch_model_bin_loads_with_weights_only(tmp_path):
    theirs = llama()
    theirs.config.save_pretrained(tmp_path)
    torch.save(theirs.state_dict(), tmp_path / "pytorch_model.bin")
    assert same_logits(GPT.from_hf(tmp_path).eval(), theirs) < 1e-4


class _Touch:
    """Unpickled by plain pickle, this would create a file: code running from weights."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (type(self.path).touch, (self.path,))


def test_a_pickle_that_is_not_plain_tensors_is_refused_without_running(tmp_path):
    llama().config.save_pretrained(tmp_path)
    sentinel = tmp_path / "ran"
    torch.save({"model.embed_tokens.weight": _Touch(sentinel)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(UserError, match=r"pytorch_model\.bin is not a plain PyTorch weight file"):
        GPT.from_hf(tmp_path)
    assert not sentinel.exists()


def test_loading_in_bfloat16(tmp_path):
    theirs = llama()
    theirs.save_pretrained(tmp_path)
    ours = GPT.from_hf(tmp_path, dtype=torch.bfloat16).eval()
    assert {p.dtype for p in ours.parameters()} == {torch.bfloat16}
    assert ours.rope.inv_freq.dtype == torch.float32  # the angles keep their precision
    size = sum(p.numel() * p.element_size() for p in ours.parameters())
    assert size == nbytes(ours.config, torch.bfloat16) == nbytes(ours.config) // 2
    idx = torch.randint(0, VOCAB, (1, 16))
    with torch.no_grad():
        got, expected = ours(idx).float(), theirs(idx).logits
    # bfloat16 keeps 8 bits of mantissa: close, not equal, and the same top tokens
    assert (got - expected).abs().max() < 0.05 * expected.abs().max()
    assert (got.argmax(-1) == expected.argmax(-1)).float().mean() > 0.9


@pytest.mark.parametrize(
    "theirs",
    [
        lambda: llama(),
        lambda: llama(num_key_value_heads=1, head_dim=32, tie_word_embeddings=True),
        lambda: llama(attention_bias=True, mlp_bias=True),
        lambda: qwen2(),
        lambda: transformers.GPT2LMHeadModel(
            transformers.GPT2Config(n_layer=2, n_head=4, n_embd=64, vocab_size=VOCAB)
        ),
    ],
)
def test_parameter_count_before_loading_equals_transformers(tmp_path, theirs):
    model = theirs()
    model.save_pretrained(tmp_path)
    config = hf.read_config(tmp_path)
    assert parameter_count(config) == model.num_parameters()
    assert nbytes(config) == 4 * model.num_parameters()
    assert parameter_count(config) == sum(p.numel() for p in GPT(config).parameters())


# --- export ------------------------------------------------------------------------------------


def randomised(config: GPTConfig) -> GPT:
    torch.manual_seed(2)
    model = GPT(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            else:
                p.mul_(8.0)
    return model


def test_cpu_preset_exports_as_llama_with_equal_logits(tmp_path):
    from attento.train.config import preset

    config = GPTConfig(vocab_size=VOCAB, **preset("cpu").model)
    assert config.activation == "gelu" and config.pos_encoding == "rope" and not config.bias
    ours = randomised(config)
    ours.export_hf(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == [
        "LlamaForCausalLM"
    ]
    theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert isinstance(theirs, transformers.LlamaForCausalLM)
    assert same_logits(ours, theirs, T=80) < 1e-4


@pytest.mark.parametrize(
    ("settings", "architecture"),
    [
        (dict(n_kv_head=2, tie_weights=False), transformers.LlamaForCausalLM),
        (dict(n_kv_head=1, head_size=16, rope_scaling=LLAMA3), transformers.LlamaForCausalLM),
        (dict(qkv_bias=True, rope_base=1e6), transformers.Qwen2ForCausalLM),
        (dict(bias=True, activation="gelu_tanh"), transformers.LlamaForCausalLM),
    ],
)
def test_export_loads_in_transformers_and_back(tmp_path, settings, architecture):
    base = dict(pos_encoding="rope", norm="rmsnorm", activation="swiglu", bias=False)
    config = GPTConfig(VOCAB, 128, 2, 4, 32, **base | settings)
    ours = randomised(config)
    ours.export_hf(tmp_path)
    theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(theirs) is architecture
    assert same_logits(ours, theirs) < 1e-4
    if config.activation == "swiglu":  # and back again
        back = GPT.from_hf(tmp_path).eval()
        assert parameter_count(back.config) == parameter_count(config)
        assert same_logits(back, theirs) < 1e-4


def test_export_refuses_shapes_without_a_counterpart(tmp_path):
    rope = dict(pos_encoding="rope", norm="rmsnorm", bias=False)
    with pytest.raises(UserError, match="Llama-shaped"):
        GPT(GPTConfig(50, 16, 1, 2, 16, pos_encoding="sinusoidal")).export_hf(tmp_path)
    with pytest.raises(UserError, match="Qwen2 on q, k, v alone"):
        GPT(GPTConfig(50, 16, 1, 2, 16, **rope, attn_out_bias=True)).export_hf(tmp_path)
    with pytest.raises(UserError, match="grouped-query"):
        GPT(GPTConfig(50, 16, 1, 2, 16, n_kv_head=1)).export_hf(tmp_path)
    from attento.align.lora import LoRAGPT

    lora = LoRAGPT.from_gpt(GPT(GPTConfig(50, 16, 1, 2, 16, **rope, activation="swiglu")))
    with pytest.raises(UserError, match=r"lora_A has no counterpart .* merge_lora"):
        hf.export_hf(lora, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written


# --- bad input ---------------------------------------------------------------------------------


def saved_llama(tmp_path, **kw):
    llama(**kw).save_pretrained(tmp_path)
    return json.loads((tmp_path / "config.json").read_text())


def rewrite(tmp_path, config):
    (tmp_path / "config.json").write_text(json.dumps(config))


def test_unsupported_model_type_lists_the_supported_ones(tmp_path):
    rewrite(tmp_path, saved_llama(tmp_path) | {"model_type": "mistral"})
    with pytest.raises(UserError, match=r"'mistral' is not supported \(supported: gpt2, llama"):
        hf.from_hf(tmp_path)
    with pytest.raises(UserError, match="'mistral' is not supported"):
        GPT.from_hf(tmp_path)


def test_config_that_disagrees_with_the_weights_names_the_tensor(tmp_path):
    config = saved_llama(tmp_path)
    rewrite(tmp_path, config | {"num_key_value_heads": 4})
    with pytest.raises(UserError, match=r"'model\.layers\.0\.self_attn\.k_proj\.weight' has shape"):
        GPT.from_hf(tmp_path)
    rewrite(tmp_path, config | {"intermediate_size": 95})
    with pytest.raises(
        UserError, match=r"up_proj\.weight' has shape \(96, 64\), expected \(95, 64\)"
    ):
        GPT.from_hf(tmp_path)


def test_a_missing_tensor_is_named(tmp_path):
    config = saved_llama(tmp_path, tie_word_embeddings=True)
    rewrite(tmp_path, config | {"tie_word_embeddings": False})
    with pytest.raises(UserError, match=r"lacks the tensor 'lm_head\.weight'"):
        GPT.from_hf(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rope_parameters": {"rope_type": "yarn", "factor": 2.0}}, "rope scaling 'yarn'"),
        ({"hidden_act": "gelu"}, "hidden_act 'gelu' is not supported"),
        ({"num_attention_heads": 3}, "n_head"),
        ({"hidden_size": None}, "n_embd must be a positive integer"),
    ],
)
def test_config_errors_are_one_line_naming_the_file(tmp_path, change, message):
    rewrite(tmp_path, saved_llama(tmp_path) | change)
    with pytest.raises(UserError, match=message) as e:
        GPT.from_hf(tmp_path)
    assert "config.json" in str(e.value) and "\n" not in str(e.value)


def test_missing_setting_and_sliding_window_are_refused(tmp_path):
    config = saved_llama(tmp_path)
    rewrite(tmp_path, {k: v for k, v in config.items() if k != "hidden_size"})
    with pytest.raises(UserError, match=r"config\.json lacks 'hidden_size'"):
        GPT.from_hf(tmp_path)
    qwen2(use_sliding_window=True, sliding_window=8, max_window_layers=1).save_pretrained(tmp_path)
    with pytest.raises(UserError, match="sliding-window"):
        GPT.from_hf(tmp_path)


def test_no_weights_and_bad_dtype(tmp_path):
    rewrite(tmp_path, saved_llama(tmp_path))
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(UserError, match=r"holds no model\.safetensors"):
        GPT.from_hf(tmp_path)
    with pytest.raises(UserError, match=r"not torch\.int8"):
        GPT.from_hf(tmp_path, dtype=torch.int8)


def test_is_hf_folder_tells_hugging_face_from_attento_folders(tmp_path):
    from attento.models.folder import save_model

    assert not hf.is_hf_folder(tmp_path)
    saved_llama(tmp_path / "hf")
    assert hf.is_hf_folder(tmp_path / "hf")
    save_model(GPT(GPTConfig(20, 8, 1, 2, 8)), None, tmp_path / "ours")
    assert not hf.is_hf_folder(tmp_path / "ours")
