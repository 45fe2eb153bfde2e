"""LoRA: fine-tune a few low-rank matrices instead of every weight (Hu et al., 2021).

A fine-tuning update ΔW of a d_out×d_in weight tends to have low rank, so LoRA writes it as
ΔW = (alpha / r) · B·A with A (r×d_in) and B (d_out×r), r much smaller than d_in and d_out.
The pretrained W stays frozen; only A and B learn, e.g. 2·r·768 numbers instead of 768²
for a GPT-2 attention matrix. The layer computes

    y = x·Wᵀ + b + (alpha / r) · (x·Aᵀ)·Bᵀ

A starts random and B starts at zero, so at step 0 ΔW = 0 and the model is exactly the base
model; alpha / r keeps the update's scale independent of the rank chosen. After training,
W + (alpha / r)·B·A is a plain weight again (`merge_lora`): no extra cost at inference.

`LoRAGPT` is a GPT whose attention and feed-forward matrices are `LoRALinear`s; its config
(`LoRAConfig`) is a GPTConfig plus lora_r, lora_alpha and whether the token embeddings train
too (needed when fine-tuning added new tokens such as the chat markers, whose vectors must be
learned). It saves and loads as `{"arch": "gpt-lora"}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from attento.errors import UserError
from attento.memory import check_fits
from attento.models.config import model_bytes
from attento.models.gpt import GPT, GPTConfig

TARGETS = ("attn.qkv", "attn.proj", "mlp.fc", "mlp.gate", "mlp.proj")


class LoRALinear(nn.Linear):
    """A frozen nn.Linear plus a trainable low-rank update (alpha / r)·B·A."""

    def __init__(self, in_features: int, out_features: int, r: int, alpha: float, bias: bool):
        super().__init__(in_features, out_features, bias=bias)
        self.r, self.scaling = r, alpha / r
        self.lora_A = nn.Parameter(torch.empty(r, in_features))
        self.lora_B = nn.Parameter(torch.zeros(out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as nn.Linear (and PEFT) do

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias) + self.scaling * F.linear(
            F.linear(x, self.lora_A), self.lora_B
        )

    def merged_weight(self) -> torch.Tensor:
        return self.weight + self.scaling * self.lora_B @ self.lora_A


@dataclass
class LoRAConfig(GPTConfig):
    """A GPTConfig plus the adapter settings."""

    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_train_embeddings: bool = False

    def check(self) -> None:
        super().check()
        if not isinstance(self.lora_r, int) or isinstance(self.lora_r, bool) or self.lora_r < 1:
            raise UserError(f"the LoRA rank must be a positive integer, got {self.lora_r!r}")
        if not isinstance(self.lora_alpha, (int, float)) or self.lora_alpha <= 0:
            raise UserError(f"lora_alpha must be a positive number, got {self.lora_alpha!r}")

    def base(self) -> GPTConfig:
        d = self.to_dict()
        for key in ("lora_r", "lora_alpha", "lora_train_embeddings"):
            d.pop(key)
        return GPTConfig.from_dict(d)


class LoRAGPT(GPT):
    """A GPT with LoRA adapters on its attention and feed-forward matrices; only the
    adapters (and, if asked, the token embeddings) have requires_grad."""

    arch = "gpt-lora"
    config_class = LoRAConfig

    def __init__(self, config: LoRAConfig) -> None:
        super().__init__(config)
        for name, module in list(self.named_modules()):
            if isinstance(module, nn.Linear) and name.endswith(TARGETS):
                parent, _, attr = name.rpartition(".")
                lora = LoRALinear(
                    module.in_features,
                    module.out_features,
                    config.lora_r,
                    config.lora_alpha,
                    module.bias is not None,
                )
                setattr(self.get_submodule(parent), attr, lora)
        for name, p in self.named_parameters():
            trainable = ".lora_" in name
            if config.lora_train_embeddings and name in ("embed.tok.weight", "lm_head.weight"):
                trainable = True
            p.requires_grad_(trainable)

    @classmethod
    def from_gpt(
        cls, model: GPT, r: int = 8, alpha: float = 16.0, train_embeddings: bool = False
    ) -> LoRAGPT:
        """Wrap a trained GPT: same weights, adapters at zero (so the same outputs)."""
        config = LoRAConfig(
            **model.config.to_dict(),
            lora_r=r,
            lora_alpha=alpha,
            lora_train_embeddings=train_embeddings,
        )
        # the adapters train: each also needs a gradient and two AdamW moments
        params, nbytes = model_bytes(cls, config)
        base = sum(p.numel() for p in model.parameters())
        adapter_bytes = nbytes * (params - base) // params
        check_fits(
            nbytes + 3 * adapter_bytes,
            f"LoRA rank {r} ({params - base:,} adapter parameters, to be trained)",
        )
        lora = cls(config)
        missing, unexpected = lora.load_state_dict(model.state_dict(), strict=False)
        if unexpected or any(".lora_" not in k for k in missing):
            raise UserError("the model's weights do not fit a GPT of the same config")
        return lora.train(model.training)

    def adapters(self) -> dict[str, LoRALinear]:
        return {n: m for n, m in self.named_modules() if isinstance(m, LoRALinear)}


def merge_lora(model: LoRAGPT) -> GPT:
    """A plain GPT whose weights are W + (alpha / r)·B·A: the same function, no adapters."""
    merged = GPT(model.config.base())
    state = {k: v for k, v in model.state_dict().items() if ".lora_" not in k}
    with torch.no_grad():
        for name, layer in model.adapters().items():
            state[f"{name}.weight"] = layer.merged_weight()
    merged.load_state_dict(state)
    return merged.train(model.training)
