"""The page decodes every encoding (web/js/tensor.js) to the numbers tensors.unpack gives: f32
bit for bit, f16 and u8 heat maps (with -inf) to the same float32, in Node without a browser."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from attento.explain.tensors import pack, unpack

NODE = shutil.which("node")
TENSOR_JS = Path(__file__).resolve().parents[2] / "src/attento/explain/web/js/tensor.js"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def test_the_page_decodes_f32_f16_and_u8_as_python_does(tmp_path):
    torch.manual_seed(0)
    t = torch.randn(2, 5, 9) * 3
    t[0, 1, 2] = float("-inf")
    t[1, 4, 0] = 1e-6  # a float16 subnormal
    packs = [pack(t, dtype=d, name="x") for d in ("f32", "f16", "u8")]
    script = tmp_path / "run.mjs"
    script.write_text(
        f"import {{ decodeAll }} from {json.dumps(TENSOR_JS.as_uri())};\n"
        f"const packs = {json.dumps(packs)};\n"
        "const out = decodeAll(packs).map((x) => ({ shape: x.shape, exact: x.exact,"
        " name: x.name, data: Array.from(x.data, (v) => (v === -Infinity ? '-inf' : v)) }));\n"
        "console.log(JSON.stringify(out));\n"
    )
    run = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    for packed, got in zip(packs, json.loads(run.stdout), strict=True):
        want = unpack(packed)
        assert got["shape"] == list(want.shape) and got["name"] == "x"
        assert got["exact"] == (packed["dtype"] == "f32")
        data = np.array([-np.inf if v == "-inf" else v for v in got["data"]], dtype=np.float64)
        # the page computes in float64 what Python rounds to float32: equal once rounded
        np.testing.assert_array_equal(data.astype(np.float32), want.reshape(-1), packed["dtype"])
