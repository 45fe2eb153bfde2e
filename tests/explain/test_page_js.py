"""The page's text helpers (web/js/draw.js html``, web/js/i18n.js t/tHtml) in Node: token text
is escaped wherever it becomes markup, and a value is substituted once, as written.

Fast and without a browser; test_browser_classroom.py checks the same on the live page.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

NODE = shutil.which("node")
JS = Path(__file__).resolve().parents[2] / "src/attento/explain/web/js"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

TAG = '<img src=x onerror="window.__xss=1">'


def run(tmp_path, body: str, touch: bool = False):
    script = tmp_path / "run.mjs"
    script.write_text(
        f"globalThis.window = {{ matchMedia: () => ({{ matches: {json.dumps(touch)} }}) }};\n"
        f"const {{ html, escapeHtml }} = await import({json.dumps((JS / 'draw.js').as_uri())});\n"
        f"const {{ STRINGS, t, tHtml }} = await import({json.dumps((JS / 'i18n.js').as_uri())});\n"
        # the texts of the views in their own modules, as the page loads them
        f"await import({json.dumps((JS / 'strings-teach.js').as_uri())});\n"
        f"console.log(JSON.stringify({body}));\n"
    )
    out = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_values_in_markup_are_escaped(tmp_path):
    got = run(
        tmp_path,
        f'[html`<b>${{{json.dumps(TAG)}}}</b> ${{3}}`, escapeHtml("\'&"),'
        f" tHtml('final.explain', {{ v: {json.dumps(TAG)} }})]",
    )
    assert got[0] == "<b>&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;</b> 3"
    assert got[1] == "&#39;&amp;"
    assert "<b>stato nascosto</b>" in got[2]  # the string's own markup stays
    assert "&lt;img src=x" in got[2] and TAG not in got[2]


def test_a_value_is_substituted_once_as_written(tmp_path):
    # a token spelled "{p}" or "$&" must read as itself, not as the probability or the match
    got = run(tmp_path, "t('gen.picked', { t: '{p} $& $1', p: '5%' })")
    assert got == "Estratto «{p} $& $1» (probabilità 5%)"


def test_touch_screens_get_the_tap_wording(tmp_path):
    mouse = run(tmp_path, "[t('prompt.hint'), t('block.hover')]")
    touch = run(tmp_path, "[t('prompt.hint'), t('block.hover')]", touch=True)
    assert all("mouse" in s.lower() for s in mouse)
    assert all("tocca" in s.lower() and "mouse" not in s.lower() for s in touch)


def test_both_languages_say_every_error_code_the_server_sends(tmp_path):
    from attento.explain import server

    codes = re.findall(r"^    ([a-z0-9_]+) +\d{3}", server.__doc__, re.M)  # its table of codes
    assert "unencodable" in codes and "bad_host" in codes
    keys = run(tmp_path, "{ it: Object.keys(STRINGS.it), en: Object.keys(STRINGS.en) }")
    assert sorted(keys["it"]) == sorted(keys["en"])
    assert [c for c in codes if f"error.{c}" not in keys["it"]] == []
