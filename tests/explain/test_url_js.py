"""The page's address (web/js/url.js) in Node: a state written into it reads back the same, and
a hand-edited or hostile address gives no value outside the sliders' ranges.

Fast and without a browser; test_browser_teach.py opens such a link in the live page.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

NODE = shutil.which("node")
URL = Path(__file__).resolve().parents[2] / "src/attento/explain/web/js/url.js"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run(tmp_path, body: str):
    script = tmp_path / "run.mjs"
    script.write_text(
        f"const u = await import({json.dumps(URL.as_uri())});\n"
        f"console.log(JSON.stringify({body}));\n"
    )
    out = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_state_reads_back_from_its_address(tmp_path):
    state = {
        "model": "dante",
        "settings": {"temperature": 0.35, "topK": 12, "topP": 0.9, "greedy": True},
        "seed": "42",
        "open": [0, 3],
        "heads": {"3": 2, "0": 0},
        "focus": 4,
        "grid": {"block": 1, "head": 2, "row": 5},
    }
    prompt = "Nel mezzo & del cammin?=#"
    got = run(
        tmp_path,
        f"""(() => {{
      const s = {json.dumps(state)};
      s.open = new Set(s.open);
      const search = u.urlOf({{ state: s, trace: {{ prompt: {json.dumps(prompt)} }} }}, "en", 3);
      const back = {{ settings: {{}}, seed: "", open: new Set([0]), heads: {{}}, focus: null }};
      const wanted = u.readUrl(search);
      u.applyUrl(back, wanted);
      return {{ wanted, back: {{ ...back, open: [...back.open] }} }};
    }})()""",
    )
    wanted, back = got["wanted"], got["back"]
    assert wanted["model"] == "dante" and wanted["prompt"] == prompt
    assert wanted["lang"] == "en" and wanted["present"] == 3
    assert back["settings"] == state["settings"] and back["seed"] == "42"
    assert back["open"] == [0, 3] and back["heads"] == {"3": 2}  # head 0 is the default
    assert back["focus"] == 4 and back["grid"] == state["grid"]


def test_a_hostile_address_gives_no_value_out_of_range(tmp_path):
    search = (
        "?t=1e400&k=2.5&p=NaN&seed=1.5&open=1,x,-2,2.5,3&heads=1:2,a:b,4&focus=Infinity"
        "&grid=1&lang=<b>&present=-1&greedy=yes"
    )
    wanted = run(tmp_path, f"u.readUrl({json.dumps(search)})")
    assert wanted["temperature"] is None and wanted["topK"] is None and wanted["topP"] is None
    assert wanted["seed"] is None and wanted["focus"] is None and wanted["present"] is None
    assert wanted["open"] == [1, 3] and wanted["heads"] == {"1": 2}
    assert wanted["grid"] is None and wanted["lang"] is None and wanted["greedy"] is False
