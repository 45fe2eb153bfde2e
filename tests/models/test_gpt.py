"""GPT: config validation, loss, init, optimiser groups, FLOP estimate."""

from __future__ import annotations

import json
import math

import pytest
import torch

from attento.errors import UserError
from attento.models.gpt import GPT, GPTConfig, nbytes, parameter_count


def small(**kw) -> GPTConfig:
    base = dict(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32)
    return GPTConfig(**(base | kw))


def test_forward_shapes_and_loss_matches_cross_entropy():
    torch.manual_seed(0)
    model = GPT(small()).eval()
    idx = torch.randint(0, 50, (3, 10))
    targets = idx.clone()
    targets[0, :4] = -100
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 10, 50)
    keep = targets != -100
    expected = -torch.log_softmax(logits, -1)[keep].gather(1, targets[keep][:, None]).mean()
    assert torch.allclose(loss, expected, atol=1e-6)
    assert torch.equal(model(idx), logits)


def test_untrained_loss_is_near_uniform():
    torch.manual_seed(0)
    model = GPT(small(vocab_size=200)).eval()
    idx = torch.randint(0, 200, (4, 16))
    _, loss = model(idx, torch.randint(0, 200, (4, 16)))
    assert abs(loss.item() - math.log(200)) < 0.1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_head": 5}, "divisible by n_head"),
        ({"n_embd": 0}, "n_embd must be a positive integer"),
        ({"vocab_size": -3}, "vocab_size must be a positive integer"),
        ({"block_size": 2.5}, "block_size must be a positive integer"),
        ({"ffn_hidden": 0}, "ffn_hidden must be a positive integer"),
        ({"pos_encoding": "alibi"}, "unknown pos_encoding 'alibi'"),
        ({"norm": "batchnorm"}, "unknown norm"),
        ({"activation": "tanh"}, "unknown activation"),
        ({"dropout": 1.0}, "dropout must be in"),
        ({"norm_eps": 0}, "norm_eps must be a positive number"),
        ({"n_embd": 24, "n_head": 8, "pos_encoding": "rope"}, "rope needs an even head size"),
        ({"bias": "yes"}, "bias must be true or false"),
        ({"qkv_bias": 1}, "qkv_bias must be true or false"),
        ({"n_kv_head": 3}, r"n_head \(4\) must be a multiple of n_kv_head \(3\)"),
        ({"n_kv_head": 0}, "n_kv_head must be a positive integer"),
        ({"head_size": 7, "pos_encoding": "rope"}, "rope needs an even head size"),
        ({"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "needs pos_encoding rope"),
        (
            {"pos_encoding": "rope", "rope_scaling": {"rope_type": "yarn", "factor": 2.0}},
            "rope_scaling needs a rope_type, one of linear, llama3",
        ),
        (
            {"pos_encoding": "rope", "rope_scaling": {"rope_type": "llama3", "factor": 8.0}},
            "llama3 needs low_freq_factor",
        ),
        (
            {"pos_encoding": "rope", "rope_scaling": {"rope_type": "linear", "factor": 2, "x": 1}},
            "linear has no setting",
        ),
    ],
)
def test_config_validation(change, message):
    with pytest.raises(UserError, match=message):
        small(**change)


def test_config_json_round_trip():
    config = small(pos_encoding="rope", norm="rmsnorm", activation="swiglu", bias=False)
    assert GPTConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(UserError, match="unknown model setting"):
        GPTConfig.from_dict(config.to_dict() | {"n_layers": 3})
    with pytest.raises(UserError, match="lacks: vocab_size"):
        GPTConfig.from_dict({k: v for k, v in config.to_dict().items() if k != "vocab_size"})


# config.json's "model" as attento wrote it before n_kv_head, head_size, the per-part biases
# and rope_scaling existed (the keys of the first bundled dante, at a test's size)
OLD_MODEL_KEYS = {
    "vocab_size": 50,
    "block_size": 16,
    "n_layer": 2,
    "n_head": 4,
    "n_embd": 32,
    "ffn_hidden": None,
    "dropout": 0.1,
    "bias": True,
    "pos_encoding": "learned",
    "norm": "layernorm",
    "activation": "gelu",
    "tie_weights": True,
    "norm_eps": 1e-05,
    "rope_base": 10000.0,
}


def test_a_config_json_from_before_the_new_settings_still_loads(tmp_path):
    from attento.models.folder import load_model, save_model

    config = GPTConfig.from_dict(OLD_MODEL_KEYS)
    assert config.kv_heads == config.n_head and config.head_dim == config.n_embd // config.n_head
    assert all(config.has_bias(part) for part in ("qkv", "attn_out", "mlp"))
    folder = save_model(GPT(config), None, tmp_path / "old")
    (folder / "config.json").write_text(json.dumps({"arch": "gpt", "model": OLD_MODEL_KEYS}))
    model, _ = load_model(folder)
    assert model.blocks[0].attn.qkv.out_features == 3 * config.n_embd


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"tie_weights": False, "ffn_hidden": 40},
        {"pos_encoding": "rope", "norm": "rmsnorm", "activation": "swiglu", "bias": False},
        {"pos_encoding": "rope", "n_kv_head": 2, "head_size": 16, "qkv_bias": False},
        {"bias": False, "qkv_bias": True, "mlp_bias": True, "n_kv_head": 1},
        {"norm": "rmsnorm", "attn_out_bias": False, "pos_encoding": "sinusoidal"},
    ],
)
def test_parameter_count_from_the_config_equals_the_built_model(change):
    config = small(**change)
    model = GPT(config)
    assert parameter_count(config) == sum(p.numel() for p in model.parameters())
    assert nbytes(config, torch.float16) == 2 * parameter_count(config)


def test_ffn_width():
    assert small().ffn_dim == 128
    assert small(ffn_hidden=100).ffn_dim == 100
    swiglu = small(n_embd=96, activation="swiglu")
    assert swiglu.ffn_dim % 8 == 0 and abs(swiglu.ffn_dim - 8 * 96 / 3) < 8


def test_gpt2_initialisation_and_tying():
    torch.manual_seed(0)
    model = GPT(small(n_embd=256, n_head=4, n_layer=8))
    assert model.lm_head.weight is model.embed.tok.weight
    fc = model.blocks[0].mlp.fc.weight
    proj = model.blocks[0].mlp.proj.weight
    attn_proj = model.blocks[3].attn.proj.weight
    assert fc.std().item() == pytest.approx(0.02, rel=0.02)
    assert proj.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.02)
    assert attn_proj.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.02)
    assert torch.all(model.blocks[0].attn.qkv.bias == 0)
    assert torch.all(model.ln_f.weight == 1)
    untied = GPT(small(tie_weights=False))
    assert untied.lm_head.weight is not untied.embed.tok.weight


def test_param_count_matches_hf_gpt2():
    transformers = pytest.importorskip("transformers")
    hf = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(n_layer=3, n_head=4, n_embd=64, n_positions=32, vocab_size=90)
    )
    ours = GPT(GPTConfig(90, 32, 3, 4, 64, activation="gelu_tanh"))
    hf_total = sum(p.numel() for p in hf.parameters())
    assert ours.num_params(non_embedding=False) == hf_total
    assert ours.num_params() == hf_total - 32 * 64
    flops = ours.estimate_flops_per_token()
    assert flops == 6 * (hf_total - 32 * 64) + 12 * 3 * 64 * 32


def test_optimizer_decays_only_matrices():
    model = GPT(small(bias=True))
    opt = model.configure_optimizer(weight_decay=0.1, lr=3e-4, betas=(0.9, 0.99))
    assert isinstance(opt, torch.optim.AdamW)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"])
    assert all(p.dim() < 2 for p in no_decay["params"])
    seen = {id(p) for g in opt.param_groups for p in g["params"]}
    assert seen == {id(p) for p in model.parameters()}  # tied matrix counted once
    assert opt.param_groups[0]["betas"] == (0.9, 0.99) and opt.param_groups[0]["lr"] == 3e-4


@pytest.mark.parametrize(
    "variant",
    [{}, {"pos_encoding": "rope", "norm": "rmsnorm", "activation": "swiglu", "bias": False}],
)
def test_a_few_steps_memorise_a_sequence(variant):
    torch.manual_seed(0)
    model = GPT(small(**variant))
    opt = model.configure_optimizer(weight_decay=0.0, lr=1e-2)
    idx = torch.randint(0, 50, (1, 16))
    first = None
    for _ in range(30):
        _, loss = model(idx[:, :-1], idx[:, 1:])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    model = GPT(small(dropout=0.5))
    idx = torch.randint(0, 50, (2, 8))
    assert not torch.equal(model(idx), model(idx))
    model.eval()
    assert torch.equal(model(idx), model(idx))
