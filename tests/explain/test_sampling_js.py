"""The page's sampling math (web/js/sampling.js) equals attento.generate.filter_logits.

Runs the ES module in Node when it is installed (fast, no browser); the browser tests check
the same on the live page.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from attento.generate import filter_logits, probabilities

NODE = shutil.which("node")
SAMPLING = Path(__file__).resolve().parents[2] / "src/attento/explain/web/js/sampling.js"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

SETTINGS = [
    (1.0, None, None),
    (0.5, None, None),
    (2.0, 5, None),
    (1.0, None, 0.9),
    (0.8, 10, 0.5),
    (1.3, 1, None),
    (0.7, None, 0.05),
    (1.0, 100, 1.0),
]


def test_browser_probabilities_equal_the_library(tmp_path):
    gen = torch.Generator().manual_seed(0)
    cases = []
    for n, (temperature, top_k, top_p) in enumerate(SETTINGS):
        logits = torch.randn(50 + 40 * n, generator=gen) * (1 + n)
        cases.append(
            {"logits": logits.tolist(), "temperature": temperature, "topK": top_k, "topP": top_p}
        )
    script = tmp_path / "run.mjs"
    script.write_text(
        f"import {{ probabilities }} from {json.dumps(SAMPLING.as_uri())};\n"
        f"const cases = {json.dumps(cases)};\n"
        "console.log(JSON.stringify(cases.map((c) => Array.from(probabilities(c.logits, c)))));\n"
    )
    out = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    browser = json.loads(out.stdout)
    for case, got in zip(cases, browser, strict=True):
        logits = torch.tensor(case["logits"], dtype=torch.float32)
        want = probabilities(filter_logits(logits, case["temperature"], case["topK"], case["topP"]))
        assert [p > 0 for p in got] == (want > 0).tolist(), case["temperature"]
        assert sum(got) == pytest.approx(1, abs=1e-12)
        torch.testing.assert_close(
            torch.tensor(got, dtype=torch.float32), want, atol=1e-6, rtol=1e-5
        )
