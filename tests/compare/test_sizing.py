"""Every contender is sized to the common parameter budget, counted on the built model."""

from __future__ import annotations

import pytest

from attento.compare.sizing import ARCHS, SHAPES, build, count_params, settings_for
from attento.errors import UserError


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("target", [60_000, 150_000])
def test_settings_hit_the_parameter_target(arch, target):
    settings = settings_for(arch, target, vocab_size=65, block_size=64)
    n = count_params(arch, settings)
    assert abs(n - target) / target < 0.12, (arch, n)
    _, width = SHAPES[arch]
    # no width 8 apart is closer to the target
    for other in (settings[width] - 8, settings[width] + 8):
        if other > 0:
            assert abs(count_params(arch, {**settings, width: other}) - target) >= abs(n - target)
    model = build(arch, settings)
    assert model.arch == arch and model.config.block_size == 64


def test_unknown_arch_and_impossible_size():
    with pytest.raises(UserError, match="cannot compare"):
        settings_for("bert", 1000, 65, 64)
    with pytest.raises(UserError, match="too many"):
        settings_for("mlp", 10**12, 65, 64)
