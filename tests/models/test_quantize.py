"""Weight-only int8 / int4: stored integers, the rounding bound on outputs, every kernel."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from attento.errors import UserError
from attento.generate import generate
from attento.models import GPT, GPTConfig
from attento.models.quantize import (
    QuantizedLinear,
    file_bytes,
    model_bytes,
    quantize,
    quantize_int4,
    unpack_int4,
)

CASES = [(8, "dequant"), (8, "int8pack"), (8, "fbgemm"), (4, "dequant"), (4, "int4pack")]


def step_of(q: QuantizedLinear) -> torch.Tensor:
    """The quantization step of every weight (out, in): its row's or its group's scale."""
    if q.bits == 8:
        return q.scale[:, None].expand(q.out_features, q.in_features)
    return q.scale.repeat_interleave(q.group_size, dim=1)


def rounding_bound(x: torch.Tensor, q: QuantizedLinear) -> torch.Tensor:
    """|y - y_fp32| <= Σ_j |x_j| · step_ij / 2: each weight is off by at most half a step."""
    return x.abs() @ (step_of(q) / 2).T


def test_int8_dequantized_weight_is_round_w_over_scale_times_scale():
    torch.manual_seed(0)
    lin = nn.Linear(96, 40)
    w = lin.weight.detach()
    scale = w.abs().amax(dim=1) / 127  # symmetric, per output channel
    q = QuantizedLinear(lin, 8)
    assert q.qweight.dtype == torch.int8
    assert torch.equal(q.scale, scale)
    assert torch.equal(q.dequantize(), torch.round(w / scale[:, None]) * scale[:, None])
    assert q.qweight.abs().max() == 127  # each row's largest weight uses the whole range


def test_int4_packs_two_per_byte_and_dequantizes_per_group():
    torch.manual_seed(0)
    w = torch.randn(6, 64)
    packed, scale = quantize_int4(w, 16)
    assert packed.dtype == torch.uint8 and packed.shape == (6, 32) and scale.shape == (6, 4)
    groups = w.view(6, 4, 16)
    expected_scale = groups.abs().amax(dim=2) / 7
    assert torch.equal(scale, expected_scale)
    ints = torch.round(groups / expected_scale[..., None]).view(6, 64)
    assert torch.equal(unpack_int4(packed).float(), ints)
    assert torch.equal(packed[:, 0] & 0x0F, (ints[:, 0] + 8).to(torch.uint8))  # low nibble
    assert torch.equal(packed[:, 0] >> 4, (ints[:, 1] + 8).to(torch.uint8))  # high nibble
    lin = nn.Linear(64, 6, bias=False)
    lin.weight.data = w
    q = QuantizedLinear(lin, 4, group_size=16)
    assert torch.equal(q.dequantize(), (ints.view(6, 4, 16) * scale[..., None]).view(6, 64))


@pytest.mark.parametrize(("bits", "kernel"), CASES)
def test_each_kernel_stays_within_the_rounding_bound(bits, kernel):
    torch.manual_seed(0)
    lin = nn.Linear(128, 96)
    x = torch.randn(7, 128)
    q = QuantizedLinear(lin, bits, kernel=kernel)
    with torch.no_grad():
        exact, got = lin(x), q(x)
        error = (got - exact).abs()
        bound = rounding_bound(x, q)
        if kernel == "fbgemm":  # also rounds x to 7 bits: one step (range / 127) per call
            x_step = (x.max().clamp(min=0) - x.min().clamp(max=0)) / 127
            bound = bound + q.dequantize().abs().sum(dim=1) * x_step / 2
        assert (error <= bound + 1e-5).all()
        assert error.max() > 0  # it is quantized: the bound is not met by doing nothing
        # the same integers through the reference path (dequantize, then matmul)
        if kernel in ("int8pack", "int4pack"):
            assert torch.allclose(got, x @ q.dequantize().T + lin.bias, atol=1e-5)
        copy_out = copy.deepcopy(q)(x)  # a copy rebuilds the kernel's packed layout
        assert torch.equal(copy_out, got)


def test_quantized_output_layer_logits_within_the_bound():
    """Logits are linear in the output layer: quantizing only it bounds them exactly."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(70, 32, 2, 2, 64, tie_weights=False)).eval()
    qmodel = quantize(model, 8, kernel="dequant", include=lambda name, _: name == "lm_head")
    assert isinstance(qmodel.lm_head, QuantizedLinear)
    assert isinstance(qmodel.blocks[0].attn.qkv, nn.Linear)
    idx = torch.randint(0, 70, (2, 12))
    captured = {}
    hook = qmodel.lm_head.register_forward_pre_hook(lambda m, args: captured.update(x=args[0]))
    with torch.no_grad():
        exact, got = model(idx), qmodel(idx)
    hook.remove()
    bound = rounding_bound(captured["x"], qmodel.lm_head)
    assert ((got - exact).abs() <= bound + 1e-5).all()


def test_quantized_gpt_int8_much_closer_than_int4_and_generates():
    torch.manual_seed(0)
    model = GPT(GPTConfig(65, 64, 2, 4, 128)).eval()
    q8, q4 = quantize(model, 8), quantize(model, 4)
    assert model.blocks[0].attn.qkv.__class__ is nn.Linear  # the original is untouched
    assert q8.lm_head.weight is q8.embed.tok.weight  # the tied output layer stays float32
    idx = torch.randint(0, 65, (2, 40))
    with torch.no_grad():
        exact = model(idx)
        e8, e4 = ((q(idx) - exact).abs().max() for q in (q8, q4))
    # int8's step is 127/7 = 18 times finer than int4's (per group at best 7/127 the error)
    assert 0 < e8 < e4 / 4
    out = generate(q8, idx[:1, :3], 10, top_k=5, seed=0)
    assert out.shape == (1, 13)


def test_sizes_shrink_by_the_bits_of_the_linear_weights():
    torch.manual_seed(0)
    model = GPT(GPTConfig(65, 64, 2, 4, 128)).eval()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)][:-1]  # not the tied head
    weights = sum(m.weight.numel() for m in linears)
    rows = sum(m.out_features for m in linears)
    q8, q4 = quantize(model, 8), quantize(model, 4, group_size=32)
    fp32 = model_bytes(model)
    assert model_bytes(q8) == fp32 - weights * 4 + weights + rows * 4
    assert model_bytes(q4) == fp32 - weights * 4 + weights // 2 + (weights // 32) * 4
    assert file_bytes(q8) < file_bytes(model) / 2


def test_bad_settings_are_user_errors():
    lin = nn.Linear(48, 8)
    with pytest.raises(UserError, match="bits must be 8 or 4"):
        QuantizedLinear(lin, 3)
    with pytest.raises(UserError, match="no 'fbgemm' kernel for int4"):
        QuantizedLinear(lin, 4, kernel="fbgemm")
    with pytest.raises(UserError, match="divides the input width 48"):
        QuantizedLinear(lin, 4, group_size=32)
