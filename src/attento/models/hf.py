"""Every Hugging Face conversion: GPT-2, Llama, Qwen2 and BERT folders in, and out again.

A Hugging Face model folder, as `save_pretrained` writes it, holds config.json, whose
"model_type" names the family, and the weights: model.safetensors, or shards listed in
model.safetensors.index.json, or a pickled pytorch_model.bin. A family here is
- a reader turning its config.json into an attento config (`GPTConfig` or `BertConfig`), and
  a writer for the way back;
- one name map: for each attento parameter, the Hugging Face tensor(s) it is made of.

The maps are the whole difference at the level of weights. attento keeps q, k and v in one
matrix `qkv` where Llama, Qwen2 and BERT have three (stacked along the output rows: the
query heads, then the key/value heads); GPT-2 stores its matrices transposed (its Conv1D
computes x·W, not x·Wᵀ); and the body's tensors carry a prefix ("transformer.", "model.",
"bert.") that the heads ("lm_head.", "cls.") do not.

Loading builds the model on the meta device (shapes only: no memory, no random init), checks
the shape of every tensor against config.json before reading any, then reads them one at a
time, converted to `dtype`: loading needs the model's size once (`gpt.nbytes`) plus one
tensor. RoPE frequencies stay float32 in a bfloat16 model, as in transformers.

A pickled pytorch_model.bin is read only with `torch.load(weights_only=True)`, which refuses
anything but tensors: a pickle can run code, so no other way of reading one is tried.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from torch import nn

from attento.errors import UserError
from attento.models.bert import Bert, BertConfig
from attento.models.config import check_dtype
from attento.models.folder import read_json, write_safetensors
from attento.models.gpt import GPT, GPTConfig
from attento.models.layers import ROPE_SCALINGS, RotaryEmbedding, SinusoidalPositions

CONFIG = "config.json"
SAFETENSORS, INDEX, PICKLE = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
)
HEADS = ("lm_head.", "cls.")  # tensors outside the body: no family prefix
# Hugging Face activation names -> attento's (GPT-2's activation_function, BERT's hidden_act)
ACTIVATIONS = {
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu": "gelu",
    "relu": "relu",
}

# --- name maps ---------------------------------------------------------------------------------

# (regex over our parameter names, the Hugging Face name(s) it is made of, without the family
# prefix). Several names are stacked along dim 0, in order.
NameMap = tuple[tuple[str, tuple[str, ...]], ...]

GPT2_NAMES: NameMap = (
    (r"embed\.tok\.weight", ("wte.weight",)),
    (r"embed\.pos\.weight", ("wpe.weight",)),
    (r"blocks\.(\d+)\.ln([12])\.(weight|bias)", (r"h.\1.ln_\2.\3",)),
    (r"blocks\.(\d+)\.attn\.qkv\.(weight|bias)", (r"h.\1.attn.c_attn.\2",)),
    (r"blocks\.(\d+)\.attn\.proj\.(weight|bias)", (r"h.\1.attn.c_proj.\2",)),
    (r"blocks\.(\d+)\.mlp\.fc\.(weight|bias)", (r"h.\1.mlp.c_fc.\2",)),
    (r"blocks\.(\d+)\.mlp\.proj\.(weight|bias)", (r"h.\1.mlp.c_proj.\2",)),
    (r"ln_f\.(weight|bias)", (r"ln_f.\1",)),
    (r"lm_head\.weight", ("lm_head.weight",)),
)
LLAMA_NAMES: NameMap = (  # Qwen2 too
    (r"embed\.tok\.weight", ("embed_tokens.weight",)),
    (r"blocks\.(\d+)\.ln1\.weight", (r"layers.\1.input_layernorm.weight",)),
    (
        r"blocks\.(\d+)\.attn\.qkv\.(weight|bias)",
        tuple(rf"layers.\1.self_attn.{p}_proj.\2" for p in "qkv"),
    ),
    (r"blocks\.(\d+)\.attn\.proj\.(weight|bias)", (r"layers.\1.self_attn.o_proj.\2",)),
    (r"blocks\.(\d+)\.ln2\.weight", (r"layers.\1.post_attention_layernorm.weight",)),
    (r"blocks\.(\d+)\.mlp\.gate\.(weight|bias)", (r"layers.\1.mlp.gate_proj.\2",)),
    (r"blocks\.(\d+)\.mlp\.fc\.(weight|bias)", (r"layers.\1.mlp.up_proj.\2",)),
    (r"blocks\.(\d+)\.mlp\.proj\.(weight|bias)", (r"layers.\1.mlp.down_proj.\2",)),
    (r"ln_f\.weight", ("norm.weight",)),
    (r"lm_head\.weight", ("lm_head.weight",)),
)
# Export of a feed-forward network without a gate (see `_ungated_llama`): fc is the gate.
LLAMA_UNGATED_NAMES: NameMap = tuple(
    (r"blocks\.(\d+)\.mlp\.fc\.(weight|bias)", (r"layers.\1.mlp.gate_proj.\2",))
    if ours == r"blocks\.(\d+)\.mlp\.fc\.(weight|bias)"
    else (ours, theirs)
    for ours, theirs in LLAMA_NAMES
)
BERT_NAMES: NameMap = (
    (r"embed\.tok\.(\w+)", (r"embeddings.word_embeddings.\1",)),
    (r"embed\.pos\.(\w+)", (r"embeddings.position_embeddings.\1",)),
    (r"segment\.(\w+)", (r"embeddings.token_type_embeddings.\1",)),
    (r"embed_ln\.(\w+)", (r"embeddings.LayerNorm.\1",)),
    (
        r"blocks\.(\d+)\.attn\.qkv\.(\w+)",
        tuple(rf"encoder.layer.\1.attention.self.{p}.\2" for p in ("query", "key", "value")),
    ),
    (r"blocks\.(\d+)\.attn\.proj\.(\w+)", (r"encoder.layer.\1.attention.output.dense.\2",)),
    (r"blocks\.(\d+)\.ln1\.(\w+)", (r"encoder.layer.\1.attention.output.LayerNorm.\2",)),
    (r"blocks\.(\d+)\.mlp\.fc\.(\w+)", (r"encoder.layer.\1.intermediate.dense.\2",)),
    (r"blocks\.(\d+)\.mlp\.proj\.(\w+)", (r"encoder.layer.\1.output.dense.\2",)),
    (r"blocks\.(\d+)\.ln2\.(\w+)", (r"encoder.layer.\1.output.LayerNorm.\2",)),
    (r"mlm\.dense\.(\w+)", (r"cls.predictions.transform.dense.\1",)),
    (r"mlm\.ln\.(\w+)", (r"cls.predictions.transform.LayerNorm.\1",)),
    (r"mlm\.decoder\.bias", ("cls.predictions.bias",)),
)


def hf_names(name: str, names: NameMap) -> list[str]:
    """Our parameter `name` -> the Hugging Face tensor name(s) it is made of."""
    for pattern, theirs in names:
        match = re.fullmatch(pattern, name)
        if match:
            return [match.expand(t) for t in theirs]
    raise KeyError(name)


@dataclass(frozen=True)
class Family:
    """One Hugging Face model family."""

    names: NameMap
    prefix: str  # of the body's tensor names in a checkpoint (optional when reading)
    # (config.json, its path, dropout, the checkpoint's tensor names when asked) -> config
    read_config: Callable[
        [dict[str, Any], Path, float, Callable[[], set[str]]], GPTConfig | BertConfig
    ]
    transposed: str = r"(?!)"  # our weights that Hugging Face stores as (in, out)


# --- reading config.json -----------------------------------------------------------------------


def _need(hf: dict[str, Any], key: str, path: Path) -> Any:
    if key not in hf:
        raise UserError(f"{path} lacks {key!r}")
    return hf[key]


def _activation(hf: dict[str, Any], key: str, default: str, path: Path) -> str:
    name = hf.get(key, default)
    if name not in ACTIVATIONS:
        raise UserError(f"{path}: unsupported activation {name!r} ({', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]


def _made(cls: type, path: Path, **settings: Any) -> Any:
    """cls(**settings), its complaint prefixed with the file that gave the settings."""
    try:
        return cls(**settings)
    except UserError as e:
        raise UserError(f"{path}: {e}") from None


def _gpt2_config(
    hf: dict[str, Any], path: Path, dropout: float, _: Callable[[], set[str]]
) -> GPTConfig:
    if hf.get("scale_attn_by_inverse_layer_idx") or not hf.get("scale_attn_weights", True):
        raise UserError(f"{path}: this GPT-2 variant scales attention differently")
    return _made(
        GPTConfig,
        path,
        vocab_size=_need(hf, "vocab_size", path),
        block_size=_need(hf, "n_positions", path),
        n_layer=_need(hf, "n_layer", path),
        n_head=_need(hf, "n_head", path),
        n_embd=_need(hf, "n_embd", path),
        ffn_hidden=hf.get("n_inner"),
        dropout=dropout,
        activation=_activation(hf, "activation_function", "gelu_new", path),
        norm_eps=float(hf.get("layer_norm_epsilon", 1e-5)),
        tie_weights=bool(hf.get("tie_word_embeddings", True)),
    )


def _rope(hf: dict[str, Any], path: Path) -> tuple[float, dict[str, Any] | None]:
    """(rope base θ, scaling) from either spelling: `rope_theta` + `rope_scaling` (the Hub's
    configs, transformers 4) or one `rope_parameters` dict (transformers 5)."""
    params = dict(hf.get("rope_parameters") or hf.get("rope_scaling") or {})
    theta = float(params.get("rope_theta", hf.get("rope_theta", 10000.0)))
    kind = params.get("rope_type", params.get("type", "default"))
    if params.get("partial_rotary_factor", 1.0) != 1.0:
        raise UserError(
            f"{path}: RoPE on part of each head (partial_rotary_factor) is not supported"
        )
    if kind == "default":
        return theta, None
    if kind not in ROPE_SCALINGS:
        raise UserError(
            f"{path}: rope scaling {kind!r} is not supported (default, {', '.join(ROPE_SCALINGS)})"
        )
    if kind == "llama3":  # as transformers does when the original length is not given
        params.setdefault("original_max_position_embeddings", hf.get("max_position_embeddings"))
    return theta, {"rope_type": kind, **{k: params.get(k) for k in ROPE_SCALINGS[kind]}}


def _llama_config(
    hf: dict[str, Any], path: Path, dropout: float, _: Callable[[], set[str]]
) -> GPTConfig:
    qwen2 = hf.get("model_type") == "qwen2"
    if qwen2 and (
        hf.get("use_sliding_window") or "sliding_attention" in (hf.get("layer_types") or ())
    ):
        raise UserError(f"{path}: sliding-window attention (use_sliding_window) is not supported")
    if hf.get("hidden_act", "silu") != "silu":
        raise UserError(
            f"{path}: hidden_act {hf['hidden_act']!r} is not supported: attento's gated "
            "feed-forward network is SwiGLU (silu)"
        )
    n_head, n_embd = _need(hf, "num_attention_heads", path), _need(hf, "hidden_size", path)
    n_kv_head = hf.get("num_key_value_heads") or n_head
    head_dim = hf.get("head_dim")  # None: implied by n_embd / n_head, as in attento
    if isinstance(head_dim, int) and isinstance(n_head, int) and head_dim * n_head == n_embd:
        head_dim = None
    theta, scaling = _rope(hf, path)
    attention_bias = True if qwen2 else bool(hf.get("attention_bias", False))
    return _made(
        GPTConfig,
        path,
        vocab_size=_need(hf, "vocab_size", path),
        block_size=hf.get("max_position_embeddings", 32768 if qwen2 else 2048),
        n_layer=_need(hf, "num_hidden_layers", path),
        n_head=n_head,
        n_embd=n_embd,
        ffn_hidden=_need(hf, "intermediate_size", path),
        dropout=dropout,
        bias=False,
        pos_encoding="rope",
        norm="rmsnorm",
        activation="swiglu",
        tie_weights=bool(hf.get("tie_word_embeddings", False)),
        norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        rope_base=theta,
        n_kv_head=None if n_kv_head == n_head else n_kv_head,
        head_size=head_dim,
        qkv_bias=attention_bias or None,
        attn_out_bias=(not qwen2 and attention_bias) or None,
        mlp_bias=bool(hf.get("mlp_bias", False)) or None,
        rope_scaling=scaling,
    )


def _bert_config(
    hf: dict[str, Any], path: Path, dropout: float, names: Callable[[], set[str]]
) -> BertConfig:
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise UserError(f"{path}: only absolute (learned) position embeddings are supported")
    return _made(
        BertConfig,
        path,
        vocab_size=_need(hf, "vocab_size", path),
        block_size=_need(hf, "max_position_embeddings", path),
        n_layer=_need(hf, "num_hidden_layers", path),
        n_head=_need(hf, "num_attention_heads", path),
        n_embd=_need(hf, "hidden_size", path),
        ffn_hidden=_need(hf, "intermediate_size", path),
        type_vocab_size=hf.get("type_vocab_size", 2),
        dropout=dropout,
        activation=_activation(hf, "hidden_act", "gelu", path),
        norm_eps=float(hf.get("layer_norm_eps", 1e-12)),
        mlm_head="cls.predictions.transform.dense.weight" in names(),
    )


FAMILIES: dict[str, Family] = {
    "gpt2": Family(
        GPT2_NAMES,
        "transformer.",
        _gpt2_config,
        transposed=r".*\.(attn\.qkv|attn\.proj|mlp\.fc|mlp\.proj)\.weight",
    ),
    "llama": Family(LLAMA_NAMES, "model.", _llama_config),
    "qwen2": Family(LLAMA_NAMES, "model.", _llama_config),
    "bert": Family(BERT_NAMES, "bert.", _bert_config),
}
DECODERS = ("gpt2", "llama", "qwen2")  # the families that load as a GPT


def is_hf_folder(path: str | Path) -> bool:
    """Whether `path` is a Hugging Face model folder (config.json with a model_type, not an
    attento folder, whose config.json names an "arch")."""
    config = Path(path) / CONFIG
    if not config.is_file():
        return False
    try:
        hf = json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, OSError):
        return False  # not a Hugging Face config: the attento reader says what is wrong
    return isinstance(hf, dict) and "model_type" in hf and "arch" not in hf


def model_type(directory: str | Path) -> str:
    """The "model_type" of a Hugging Face folder's config.json."""
    path = Path(directory) / CONFIG
    kind = read_json(path).get("model_type")
    if not isinstance(kind, str):
        raise UserError(f"{path} has no model_type: not a Hugging Face model config")
    return kind


def family_of(directory: str | Path) -> Family:
    kind = model_type(directory)
    if kind not in FAMILIES:
        raise UserError(
            f"{Path(directory) / CONFIG}: model_type {kind!r} is not supported "
            f"(supported: {', '.join(FAMILIES)})"
        )
    return FAMILIES[kind]


def read_config(directory: str | Path, dropout: float = 0.0) -> GPTConfig | BertConfig:
    """The attento config of a Hugging Face folder, without reading any weight: enough to
    know the model's size (`gpt.nbytes`) before loading it."""
    directory = Path(directory)
    family = family_of(directory)
    path = directory / CONFIG

    def names() -> set[str]:
        with Checkpoint(directory) as weights:
            return {_local(k, family) for k in weights.names}

    return family.read_config(read_json(path), path, dropout, names)


# --- reading the weights -----------------------------------------------------------------------


def _local(key: str, family: Family) -> str:
    """A checkpoint's tensor name without the family prefix; BERT checkpoints converted from
    TensorFlow call LayerNorm's weight and bias gamma and beta."""
    key = key.removeprefix(family.prefix)
    return key.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
        "LayerNorm.beta", "LayerNorm.bias"
    )


class Checkpoint:
    """The tensors of a Hugging Face folder by name, each read when asked for."""

    def __init__(self, directory: Path) -> None:
        single, index, pickled = directory / SAFETENSORS, directory / INDEX, directory / PICKLE
        self._handles: list[Any] = []
        self._where: dict[str, Any] = {}  # name -> safe_open handle, or the tensor itself
        if single.is_file():
            self.source = single
            self._open(single)
        elif index.is_file():
            self.source = index
            weight_map = read_json(index).get("weight_map")
            if not isinstance(weight_map, dict):
                raise UserError(f"{index} has no weight_map")
            for shard in sorted(set(weight_map.values())):
                self._open(directory / shard)
        elif pickled.is_file():
            self.source = pickled
            try:
                tensors = torch.load(pickled, map_location="cpu", weights_only=True)
            except Exception:  # weights_only refuses anything but plain tensors, whatever the cause
                raise UserError(f"{pickled} is not a plain PyTorch weight file") from None
            if not isinstance(tensors, dict) or not all(
                isinstance(t, torch.Tensor) for t in tensors.values()
            ):
                raise UserError(f"{pickled} is not a table of tensors")
            self._where = dict(tensors)
        else:
            raise UserError(f"{directory} holds no {SAFETENSORS}, {INDEX} or {PICKLE}")

    def _open(self, path: Path) -> None:
        if not path.is_file():
            raise UserError(f"{path} not found")
        try:
            handle = safe_open(str(path), framework="pt")
        except (SafetensorError, OSError):
            raise UserError(f"{path} is not a readable safetensors file") from None
        self._handles.append(handle)
        self._where.update(dict.fromkeys(handle.keys(), handle))

    @property
    def names(self) -> list[str]:
        return list(self._where)

    def shape(self, key: str) -> tuple[int, ...]:
        found = self._where[key]
        if isinstance(found, torch.Tensor):
            return tuple(found.shape)
        return tuple(found.get_slice(key).get_shape())

    def get(self, key: str) -> torch.Tensor:
        found = self._where[key]
        return found if isinstance(found, torch.Tensor) else found.get_tensor(key)

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self._where.clear()
        self._handles.clear()


def _aliases(model: nn.Module) -> dict[str, str]:
    """Second names of tied parameters -> their first name (GPT's lm_head, BERT's decoder)."""
    first: dict[int, str] = {}
    aliases = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        if id(param) in first:
            aliases[name] = first[id(param)]
        else:
            first[id(param)] = name
    return aliases


def _rows(model: nn.Module, name: str, n: int) -> list[int]:
    """How many rows of parameter `name` each of its n Hugging Face tensors holds."""
    if n == 1:
        return [model.get_parameter(name).shape[0]]
    return list(model.get_submodule(name.rsplit(".", 2)[0]).split)  # q, k, v of an attention


def from_hf(
    directory: str | Path, dropout: float = 0.0, dtype: torch.dtype = torch.float32
) -> GPT | Bert:
    """A Hugging Face GPT-2, Llama, Qwen2 or BERT folder as an attento model (in `dtype`).

    Every tensor the model needs must be there with the shape config.json implies; tensors
    it does not use (GPT-2's stored causal masks, a BERT pooler) are ignored.
    """
    directory = Path(directory)
    check_dtype(dtype)
    family = family_of(directory)
    config = read_config(directory, dropout)
    with Checkpoint(directory) as weights:
        local = {_local(k, family): k for k in weights.names}
        cls = Bert if isinstance(config, BertConfig) else GPT
        with torch.device("meta"):
            model = cls(config)
        plan = []
        for name, param in model.named_parameters():
            keys = hf_names(name, family.names)
            transpose = re.fullmatch(family.transposed, name) is not None
            for key, rows in zip(keys, _rows(model, name, len(keys)), strict=True):
                if key not in local:
                    full = key if key.startswith(HEADS) else family.prefix + key
                    raise UserError(f"{weights.source} lacks the tensor {full!r}")
                expected = (rows, *param.shape[1:])
                got = weights.shape(local[key])
                if (got[::-1] if transpose else got) != expected:
                    raise UserError(
                        f"{weights.source}: {local[key]!r} has shape {got}, expected "
                        f"{expected[::-1] if transpose else expected} from config.json"
                    )
            plan.append((name, [local[k] for k in keys], transpose))
        state = {}
        for name, keys, transpose in plan:
            parts = [weights.get(k).to(dtype) for k in keys]
            tensor = parts[0] if len(parts) == 1 else torch.cat(parts)
            state[name] = tensor.t().contiguous() if transpose else tensor
    aliases = _aliases(model)
    state.update({alias: state[name] for alias, name in aliases.items()})
    model.load_state_dict(state, assign=True)
    for alias, name in aliases.items():  # assign gave each name its own Parameter: tie again
        module, attr = alias.rsplit(".", 1)
        setattr(model.get_submodule(module), attr, model.get_parameter(name))
    for module in model.modules():
        if isinstance(module, (RotaryEmbedding, SinusoidalPositions)):
            module.reset_buffers()
    return model


# --- writing -----------------------------------------------------------------------------------


def _gpt2_hf_config(c: GPTConfig) -> dict[str, Any]:
    act = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu"}.get(c.activation)
    if act is None:
        raise UserError(f"Hugging Face GPT-2 has no {c.activation} activation")
    if c.kv_heads != c.n_head or c.head_size is not None:
        raise UserError("Hugging Face GPT-2 has neither grouped-query attention nor head_size")
    if not (c.has_bias("qkv") and c.has_bias("attn_out") and c.has_bias("mlp")):
        raise UserError("Hugging Face GPT-2 has biases in every layer")
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": c.vocab_size,
        "n_positions": c.block_size,
        "n_embd": c.n_embd,
        "n_layer": c.n_layer,
        "n_head": c.n_head,
        "n_inner": c.ffn_hidden,
        "activation_function": act,
        "layer_norm_epsilon": c.norm_eps,
        "resid_pdrop": c.dropout,
        "embd_pdrop": c.dropout,
        "attn_pdrop": c.dropout,
        "tie_word_embeddings": c.tie_weights,
        "bos_token_id": None,
        "eos_token_id": None,
    }


def _llama_hf_config(c: GPTConfig) -> dict[str, Any]:
    """LlamaForCausalLM, or Qwen2ForCausalLM for q/k/v biases alone (Qwen2's shape).

    Llama's feed-forward network is always gated: act(x·W_gate)·(x·W_up). A network without a
    gate (the `cpu` preset's gelu) is written as one whose up projection is 0·x + 1, which
    needs Llama's mlp_bias: the same function, exactly, for F·C more zeros on disk."""
    gated = c.activation == "swiglu"
    act = {"swiglu": "silu", "gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh", "relu": "relu"}
    qkv, out, mlp = c.has_bias("qkv"), c.has_bias("attn_out"), c.has_bias("mlp")
    qwen2 = qkv and not out and not mlp and gated
    if qkv != out and not qwen2:
        raise UserError(
            "Llama has biases on all of q, k, v and W_O or on none, and Qwen2 on q, k, v alone "
            "(with a SwiGLU feed-forward network without biases)"
        )
    hf: dict[str, Any] = {
        "architectures": ["Qwen2ForCausalLM" if qwen2 else "LlamaForCausalLM"],
        "model_type": "qwen2" if qwen2 else "llama",
        "vocab_size": c.vocab_size,
        "hidden_size": c.n_embd,
        "intermediate_size": c.ffn_dim,
        "num_hidden_layers": c.n_layer,
        "num_attention_heads": c.n_head,
        "num_key_value_heads": c.kv_heads,
        "head_dim": c.head_dim,
        "hidden_act": act[c.activation],
        "max_position_embeddings": c.block_size,
        "rms_norm_eps": c.norm_eps,
        "rope_theta": c.rope_base,
        "rope_scaling": c.rope_scaling,
        "tie_word_embeddings": c.tie_weights,
        "bos_token_id": None,
        "eos_token_id": None,
        "pad_token_id": None,
    }
    if qwen2:
        hf["use_sliding_window"] = False
    else:
        hf["attention_bias"] = qkv
        hf["mlp_bias"] = mlp or not gated
    return hf


def _bert_hf_config(c: BertConfig) -> dict[str, Any]:
    """BertForMaskedLM with the MLM head, else BertModel. The tokenizer is not exported, so
    pad_token_id is left None: HF uses it only to freeze that embedding row in training."""
    return {
        "architectures": ["BertForMaskedLM" if c.mlm_head else "BertModel"],
        "model_type": "bert",
        "vocab_size": c.vocab_size,
        "max_position_embeddings": c.block_size,
        "num_hidden_layers": c.n_layer,
        "num_attention_heads": c.n_head,
        "hidden_size": c.n_embd,
        "intermediate_size": c.ffn_dim,
        "type_vocab_size": c.type_vocab_size,
        "hidden_act": {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh"}.get(
            c.activation, c.activation
        ),
        "layer_norm_eps": c.norm_eps,
        "hidden_dropout_prob": c.dropout,
        "attention_probs_dropout_prob": c.dropout,
        "position_embedding_type": "absolute",
        "pad_token_id": None,
        "tie_word_embeddings": True,
    }


def _export_plan(model: nn.Module) -> tuple[dict[str, Any], NameMap, str, str]:
    """(config.json, name map, body prefix, transposed regex) of the family this model fits."""
    if isinstance(model, Bert):
        family = FAMILIES["bert"]
        prefix = family.prefix if model.config.mlm_head else ""  # BertModel has none
        return _bert_hf_config(model.config), family.names, prefix, family.transposed
    if not isinstance(model, GPT):
        raise UserError(f"a {type(model).__name__} has no Hugging Face counterpart")
    c = model.config
    if c.pos_encoding == "learned" and c.norm == "layernorm" and c.bias:
        family = FAMILIES["gpt2"]
        return _gpt2_hf_config(c), family.names, family.prefix, family.transposed
    if c.pos_encoding == "rope" and c.norm == "rmsnorm":
        family = FAMILIES["llama"]  # Qwen2's names are Llama's
        names = family.names if c.activation == "swiglu" else LLAMA_UNGATED_NAMES
        return _llama_hf_config(c), names, family.prefix, family.transposed
    raise UserError(
        "only GPT-2-shaped models (learned positions, layernorm and bias=true) or Llama-shaped "
        "ones (rope and rmsnorm) export to Hugging Face"
    )


def _ungated_llama(c: GPTConfig, tensors: dict[str, torch.Tensor], dtype: torch.dtype) -> None:
    """The tensors that make Llama's gated network compute act(x·W_fc): up = 0·x + 1, and
    zero gate/down biases where attento has none (see `_llama_hf_config`)."""
    F, C = c.ffn_dim, c.n_embd
    for i in range(c.n_layer):
        p = f"model.layers.{i}.mlp."
        tensors[p + "up_proj.weight"] = torch.zeros(F, C, dtype=dtype)
        tensors[p + "up_proj.bias"] = torch.ones(F, dtype=dtype)
        tensors.setdefault(p + "gate_proj.bias", torch.zeros(F, dtype=dtype))
        tensors.setdefault(p + "down_proj.bias", torch.zeros(C, dtype=dtype))


def _replace(path: Path, write: Callable[[Path], None]) -> None:
    """Write `path` through a temporary sibling, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_hf(model: nn.Module, directory: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write config.json + model.safetensors that `transformers` loads with the same logits:
    GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM, BertForMaskedLM or BertModel.

    `extra` keys go into config.json as they are: the tokenizer's export supplies
    bos_token_id/eos_token_id/pad_token_id there (None otherwise, so that `generate` never
    stops on a token the model was not taught to end with) and writes its files beside.
    """
    hf, names, prefix, transposed = _export_plan(model)
    hf.update(extra or {})
    tensors: dict[str, torch.Tensor] = {}
    for name, param in model.named_parameters():
        try:
            keys = hf_names(name, names)
        except KeyError:
            raise UserError(
                f"{name} has no counterpart in a Hugging Face {hf['model_type']} model "
                "(a LoRA model exports once its adapters are merged: merge_lora)"
            ) from None
        for key, part in zip(keys, param.split(_rows(model, name, len(keys))), strict=True):
            if re.fullmatch(transposed, name):
                part = part.t()
            full = key if key.startswith(HEADS) else prefix + key
            tensors[full] = part.detach().cpu().contiguous()
    if names is LLAMA_UNGATED_NAMES:
        _ungated_llama(model.config, tensors, next(model.parameters()).dtype)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _replace(directory / SAFETENSORS, lambda p: write_safetensors(tensors, p))
    text = json.dumps(hf, indent=2) + "\n"
    _replace(directory / CONFIG, lambda p: p.write_text(text))
    return directory
