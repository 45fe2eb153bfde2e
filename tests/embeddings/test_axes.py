"""Words on axes defined by word pairs, the bias probe, and their bad input (one line each)."""

from __future__ import annotations

import json
import math

import pytest

from attento.cli import main
from attento.embeddings import VectorEmbedder
from attento.embeddings.axes import bias_probe, parse_axis, project_on_axes
from attento.errors import UserError

S = 1 / math.sqrt(2)
VECTORS = VectorEmbedder(
    {
        "lui": [1, 0, 0],
        "lei": [0, 1, 0],
        "giovane": [0, 0, 1],
        "vecchio": [0, 0, -1],
        "nonna": [0, S, -S],  # feminine and old
        "ragazzo": [S, 0, S],  # masculine and young
        "sedia": [0, 0, 0.0],  # neither: a zero vector
    }
)


def test_positions_by_hand():
    """On lui -> lei, a word's position is (v - lui)·(lei - lui) / |lei - lui|^2 (unit v)."""
    result = project_on_axes(
        ["nonna", "ragazzo", "lei"], [("lui", "lei"), ("giovane", "vecchio")], VECTORS
    )
    assert result["axes"] == [["lui", "lei"], ["giovane", "vecchio"]]
    coords = {p["word"]: p["coords"] for p in result["points"]}
    # nonna on lui->lei: ((0,S,-S) - (1,0,0))·(-1,1,0) / 2 = (1 + S) / 2;
    # on giovane->vecchio: ((0,S,-S) - (0,0,1))·(0,0,-2) / 4 = (2S + 2) / 4
    assert coords["nonna"] == pytest.approx([(1 + S) / 2, (1 + S) / 2], abs=1e-6)
    assert coords["ragazzo"] == pytest.approx([(1 - S) / 2, (1 - S) / 2], abs=1e-6)
    assert coords["lei"] == pytest.approx([1, 0.5], abs=1e-6)


def test_bias_probe_sorts_by_position_and_leans_from_the_neutral_word():
    result = bias_probe("it", VECTORS, ["nonna", "ragazzo"], ("lui", "lei"), neutral="sedia")
    assert result["neutral"] == {"word": "sedia", "position": pytest.approx(0.5)}
    assert [r["word"] for r in result["rows"]] == ["ragazzo", "nonna"]
    assert [r["lean"] for r in result["rows"]] == pytest.approx([-S / 2, S / 2], abs=1e-6)
    shifted = bias_probe("it", VECTORS, ["nonna"], ("lui", "lei"), neutral="ragazzo")
    assert shifted["rows"][0]["lean"] == pytest.approx(S, abs=1e-6)  # (1+S)/2 - (1-S)/2


@pytest.mark.parametrize(
    ("axis", "message"),
    [
        ("lui:lui", "same word at both ends"),
        ("Lui:lui", "same word at both ends"),
        ("lui:", "axis word is empty"),
        ("lui", "two words joined by ':'"),
        ("a:b:c", "two words joined by ':'"),
    ],
)
def test_bad_axes(axis, message):
    with pytest.raises(UserError, match=message):
        parse_axis(axis)


def test_empty_and_unknown_words():
    with pytest.raises(UserError, match="a word is empty"):
        project_on_axes(["nonna", " "], [("lui", "lei")], VECTORS)
    with pytest.raises(UserError, match="give at least one word"):
        project_on_axes([], [("lui", "lei")], VECTORS)
    with pytest.raises(UserError, match="no vector for 'zio'"):
        project_on_axes(["zio"], [("lui", "lei")], VECTORS)
    with pytest.raises(UserError, match="no bias probe"):
        bias_probe("fr", VECTORS)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["project", "re", "--axis", "lui:lui"], "same word at both ends"),
        (["project", "re", "--axis", "lui:"], "axis word is empty"),
        (["project", "", "--axis", "lui:lei"], "a word is empty"),
        (["project", "computer", "--axis", "lui:lei"], "no vector for 'computer'"),
        (["bias-probe", "--axis", "uomo:uomo"], "same word at both ends"),
    ],
)
def test_cli_bad_input_is_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_cli_project_on_the_bundled_vectors_with_a_plot(tmp_path, capsys):
    png = tmp_path / "axes.png"
    argv = ["project", "re", "donna", "--axis", "lui:lei", "--axis", "novo:antico"]
    assert main([*argv, "--out", str(png), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [p["word"] for p in out["points"]] == ["re", "donna"]
    assert all(len(p["coords"]) == 2 for p in out["points"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bias_probe_italian(capsys):
    assert main(["bias-probe", "--lang", "it", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    positions = [r["position"] for r in out["rows"]]
    assert positions == sorted(positions) and len(positions) == 16
