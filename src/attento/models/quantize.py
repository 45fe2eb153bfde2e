"""Weight-only quantization of a model's Linear layers, for inference.

A trained matrix is stored in fewer bits and turned back into numbers when it is used:

- **int8, per output channel, symmetric.** Row i of W gets one scale s_i = max_j |W_ij| / 127,
  and W_ij is kept as the integer q_ij = round(W_ij / s_i) in [-127, 127]. The layer computes
  with q_ij · s_i, which is W_ij give or take s_i / 2. A quarter of the bytes of float32.
- **int4, grouped, symmetric.** Every `group_size` consecutive numbers of a row share a scale
  s = max |W| / 7 and become integers in [-7, 7], packed two per byte (the even column in the
  low nibble). A scale per group rather than per row keeps one large weight from coarsening the
  whole row. An eighth of the bytes, plus one float32 scale per group.

Each output y_i = Σ_j x_j W_ij then moves by at most Σ_j |x_j| · s_ij / 2 (the rounding of
each weight is at most half a step): that is the bound tests/models/test_quantize.py checks.

How the product is computed (`kernel`) is a separate choice from how the weights are stored:

- "dequant": rebuild the float32 matrix q · s at every call, then an ordinary matmul. Exact
  weight-only numerics, any CPU or GPU; more work than float32, not less.
- "int8pack": `torch.ops.aten._weight_int8pack_mm`, torch's weight-only int8 kernel.
- "int4pack": `torch.ops.aten._weight_int4pack_mm_for_cpu`, torch's weight-only int4 kernel.
- "fbgemm" (int8 only): fbgemm's dynamic int8 linear, the kernel behind
  `torch.ao.quantization.quantize_dynamic`, fed the same per-channel int8 weights. It also
  rounds the *input* of each layer too, to 7 bits (one scale per call; `reduce_range` as
  torch.ao does, so that the int16 sums of AVX2's u8 x s8 multiply cannot saturate), so it is
  not weight-only: each output moves by a further Σ_j |q_ij s_i| · (step of x) / 2 at most.

Which one is fast depends on the machine; bench/quantize.py measures them, and its table in
bench/RESULTS.md says which wins here.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from safetensors.torch import save
from torch import nn

from attento.errors import UserError

KERNELS = {8: ("dequant", "int8pack", "fbgemm"), 4: ("dequant", "int4pack")}
DEFAULT_KERNEL = {8: "fbgemm", 4: "dequant"}  # the fastest of each here (bench/quantize.py)
DEFAULT_GROUP = 32


def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, in) float weight -> (int8 q (out, in), float32 scale (out,)), W ≈ q · scale[:, None].

    A row of zeros gets scale 1 (any scale stores zeros exactly)."""
    w = weight.detach().float()
    scale = w.abs().amax(dim=1) / 127
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(w / scale[:, None]).clamp_(-127, 127).to(torch.int8)
    return q, scale


def quantize_int4(
    weight: torch.Tensor, group_size: int = DEFAULT_GROUP
) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, in) float weight -> (uint8 packed (out, in / 2), float32 scale (out, in / group)).

    Each group of `group_size` numbers of a row has scale max |w| / 7 and integers in [-7, 7],
    stored as q + 8 in 4 bits: column 2k in the low nibble of byte k, column 2k + 1 in the high."""
    out_f, in_f = weight.shape
    if group_size < 2 or group_size % 2 or in_f % group_size:
        raise UserError(
            f"int4 needs an even group size that divides the input width {in_f}, got {group_size}"
        )
    w = weight.detach().float().view(out_f, in_f // group_size, group_size)
    scale = w.abs().amax(dim=2) / 7
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.round(w / scale[..., None]).clamp_(-7, 7).to(torch.int16).view(out_f, in_f)
    u = (q + 8).to(torch.uint8)
    return u[:, 0::2] | (u[:, 1::2] << 4), scale


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """uint8 (out, in / 2) -> the int8 integers (out, in) in [-8, 7] that `quantize_int4` packed."""
    low, high = packed & 0x0F, packed >> 4
    return torch.stack((low, high), dim=-1).flatten(1).to(torch.int8) - 8


class QuantizedLinear(nn.Module):
    """An `nn.Linear` whose weight is stored in int8 or int4 (see the module docstring)."""

    def __init__(
        self,
        linear: nn.Linear,
        bits: int = 8,
        group_size: int = DEFAULT_GROUP,
        kernel: str | None = None,
    ) -> None:
        super().__init__()
        if bits not in KERNELS:
            raise UserError(f"quantization bits must be 8 or 4, got {bits}")
        kernel = kernel or DEFAULT_KERNEL[bits]
        if kernel not in KERNELS[bits]:
            raise UserError(
                f"no {kernel!r} kernel for int{bits} (choose from {', '.join(KERNELS[bits])})"
            )
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bits, self.group_size, self.kernel = bits, group_size, kernel
        if bits == 8:
            q, scale = quantize_int8(linear.weight)
        else:
            q, scale = quantize_int4(linear.weight, group_size)
        self.register_buffer("qweight", q)
        self.register_buffer("scale", scale)
        bias = None if linear.bias is None else linear.bias.detach().float().clone()
        self.register_buffer("bias", bias)
        self._packed: object = None  # the int4pack / fbgemm kernel's own layout, built on first use

    def dequantize(self) -> torch.Tensor:
        """The float32 weight (out, in) that the stored integers and scales stand for."""
        if self.bits == 8:
            return self.qweight.float() * self.scale[:, None]
        q = unpack_int4(self.qweight).float().view(self.out_features, -1, self.group_size)
        return (q * self.scale[..., None]).view(self.out_features, self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, self.in_features).float()
        if self.kernel == "dequant":
            y = F.linear(x, self.dequantize(), self.bias)
        elif self.kernel == "int8pack":
            y = self._add_bias(torch.ops.aten._weight_int8pack_mm(x, self.qweight, self.scale))
        elif self.kernel == "int4pack":
            packed, scales_zeros = self._pack_int4() if self._packed is None else self._packed
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(x, packed, self.group_size, scales_zeros)
            y = self._add_bias(y)
        else:
            packed = self._pack_fbgemm() if self._packed is None else self._packed
            y = torch.ops.quantized.linear_dynamic(x, packed, True)
        return y.view(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        group = f", group_size={self.group_size}" if self.bits == 4 else ""
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bits={self.bits}{group}, kernel={self.kernel}"
        )

    def __getstate__(self) -> dict:
        """A copy (copy.deepcopy, pickle) rebuilds the kernel's layout when first used."""
        return {**self.__dict__, "_packed": None}

    def _add_bias(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.bias is None else y + self.bias

    def _pack_int4(self) -> tuple[torch.Tensor, torch.Tensor]:
        # The kernel computes w = (u - 8) · scale + zero from unsigned nibbles u: with zero = 0
        # that is exactly our symmetric q · scale. It takes the integers as int32 (out, in).
        u = (unpack_int4(self.qweight).to(torch.int32) + 8).contiguous()
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(u, 1)
        scales_zeros = torch.stack((self.scale, torch.zeros_like(self.scale)), dim=-1)
        self._packed = packed, scales_zeros.transpose(0, 1).contiguous()  # (groups, out, 2)
        return self._packed

    def _pack_fbgemm(self) -> object:
        with warnings.catch_warnings():  # torch deprecates the quantized tensor types, not the op
            warnings.simplefilter("ignore")
            zero = torch.zeros(self.out_features, dtype=torch.long)
            qw = torch._make_per_channel_quantized_tensor(
                self.qweight, self.scale.double(), zero, 0
            )
            self._packed = torch.ops.quantized.linear_prepack(qw, self.bias)
        return self._packed


def quantize(
    model: nn.Module,
    bits: int = 8,
    *,
    group_size: int = DEFAULT_GROUP,
    kernel: str | None = None,
    include: Callable[[str, nn.Linear], bool] | None = None,
) -> nn.Module:
    """A copy of `model` (in eval mode) with every nn.Linear replaced by a `QuantizedLinear`.

    A Linear whose weight is shared with another module (GPT's output layer, tied to the
    token embedding table) is left in float32: the table is still needed for the lookups, so a
    quantized copy would add bytes, not save them. `include(name, linear)` narrows the choice.
    """
    model = copy.deepcopy(model).eval()
    counts: dict[int, int] = {}
    for module in model.modules():
        for p in module.parameters(recurse=False):
            counts[id(p)] = counts.get(id(p), 0) + 1
    targets = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear)
        and counts[id(m.weight)] == 1
        and (include is None or include(name, m))
    ]
    for name, linear in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, QuantizedLinear(linear, bits, group_size, kernel))
    return model


def model_bytes(model: nn.Module) -> int:
    """Bytes of the model's tensors in memory (parameters and buffers, shared ones once)."""
    seen: dict[int, int] = {}
    for t in [*model.parameters(), *model.buffers()]:
        seen[t.data_ptr()] = t.numel() * t.element_size()
    return sum(seen.values())


def file_bytes(model: nn.Module) -> int:
    """Size of the model's safetensors file: its state dict, shared tensors stored once."""
    tensors, seen = {}, set()
    for name, t in model.state_dict().items():
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            tensors[name] = t.detach().contiguous()
    return len(save(tensors))
