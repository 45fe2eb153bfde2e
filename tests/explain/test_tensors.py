import math

import numpy as np
import pytest
import torch

from attento.explain.tensors import pack, unpack


def test_pack_round_trips_float32_exactly_with_minus_infinity():
    t = torch.randn(2, 3, 5)
    t[0, 1, 2] = float("-inf")
    back = unpack(pack(t))
    assert back.shape == (2, 3, 5)
    assert back[0, 1, 2] == -math.inf
    np.testing.assert_array_equal(back, t.numpy())


def test_wide_vectors_are_averaged_in_groups_and_marked():
    t = torch.arange(10, dtype=torch.float32).repeat(3, 1)  # (3, 10)
    packed = pack(t, max_width=4)
    assert packed["pooled"] == 3 and packed["full_shape"] == [3, 10]
    # groups [0,1,2], [3,4,5], [6,7,8], [9] (the padding does not count)
    np.testing.assert_allclose(unpack(packed)[1], [1, 4, 7, 9])


@pytest.mark.parametrize("shape", [(1,), (4, 7)])
def test_narrow_tensors_are_not_pooled(shape):
    packed = pack(torch.ones(shape))
    assert "pooled" not in packed and packed["shape"] == list(shape)


def test_dumps_splices_tensors_into_valid_json_identical_to_json_dumps():
    import json

    from attento.explain.tensors import dumps

    obj = {
        "text": 'a "quoted" token «è» and a fake "b64" placeholder',
        "t": pack(torch.randn(3, 4)),
        "nested": [{"u": pack(torch.zeros(2))}, 1.5, None],
    }
    body = dumps(obj)
    assert json.loads(body) == obj
    assert body == json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_u8_heat_maps_are_within_half_a_step_and_keep_minus_infinity():
    from attento.explain.tensors import tolerance

    t = torch.randn(3, 7, 11) * 5
    t[1, 2, 3] = float("-inf")
    packed = pack(t, dtype="u8", name="blocks.0.attn.scaled_masked")
    assert packed["name"] == "blocks.0.attn.scaled_masked"
    back = unpack(packed)
    finite = torch.isfinite(t).numpy()
    assert back[1, 2, 3] == -math.inf and np.isfinite(back[finite]).all()
    lo, hi = float(t[torch.isfinite(t)].min()), float(t[torch.isfinite(t)].max())
    assert tolerance(packed) == pytest.approx((hi - lo) / 254 / 2)
    err = np.abs(back[finite] - t.numpy()[finite])
    assert err.max() <= tolerance(packed) * (1 + 1e-5)
    assert back[finite].min() == pytest.approx(lo) and back[finite].max() == pytest.approx(hi)
    assert len(packed["b64"]) * 3 // 4 <= t.numel() + 2  # one byte per number


def test_f16_and_a_constant_u8_tensor():
    t = torch.rand(4, 5)
    np.testing.assert_allclose(unpack(pack(t, dtype="f16")), t.numpy(), rtol=2**-11)
    np.testing.assert_array_equal(unpack(pack(torch.full((2, 3), 0.25), dtype="u8")), 0.25)
