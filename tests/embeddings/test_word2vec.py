"""word2vec: the SGNS loss and gradients by hand, determinism, a planted structure learnt,
the bundled Dante vectors and `attento train-words`."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch

from attento.cli import main
from attento.embeddings import load_embedder, neighbours
from attento.embeddings.word2vec import (
    BUNDLED_WORDS,
    PRESETS,
    Word2VecSettings,
    context_pairs,
    keep_probability,
    load_vectors,
    noise_distribution,
    save_vectors,
    sgns_gradients,
    sgns_loss,
    train_word2vec,
    verses,
    words,
)
from attento.errors import UserError


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_words_split_italian_elisions_after_the_apostrophe():
    assert words("L’amor che move il sole") == ["l’", "amor", "che", "move", "il", "sole"]
    assert words("ch'i' fui") == ["ch’", "i’", "fui"]  # ASCII apostrophes read the same
    assert words("sì che ’l piè fermo") == ["sì", "che", "’l", "piè", "fermo"]
    assert words("Bëatrice, 1300: e’ disse") == ["beatrice", "e’", "disse"]


def test_verses_drop_headings_only():
    text = "INFERNO\n\nInferno • Canto I\n\nNel mezzo del cammin\nPARADISO"
    assert verses(text).split() == ["Nel", "mezzo", "del", "cammin"]


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_sgns_loss_and_gradients_by_hand():
    v, u_o, u_k = [1.0, 0.0], [0.5, 0.5], [-1.0, 2.0]  # v·u_o = 0.5, v·u_k = -1
    loss, d_v, d_o, d_k = sgns_gradients(
        torch.tensor([v]), torch.tensor([u_o]), torch.tensor([[u_k]])
    )
    assert loss.item() == pytest.approx(-math.log(sigmoid(0.5)) - math.log(sigmoid(1.0)))
    g_pos, g_neg = sigmoid(0.5) - 1, sigmoid(-1.0)
    expected_v = [g_pos * a + g_neg * b for a, b in zip(u_o, u_k, strict=True)]
    assert d_v[0].tolist() == pytest.approx(expected_v)
    assert d_o[0].tolist() == pytest.approx([g_pos * x for x in v])
    assert d_k[0, 0].tolist() == pytest.approx([g_neg * x for x in v])


def test_sgns_gradients_equal_autograd_on_a_random_batch():
    g = torch.Generator().manual_seed(0)
    c, o, k = (
        torch.randn(*s, generator=g, dtype=torch.float64) for s in ((6, 4), (6, 4), (6, 3, 4))
    )
    c, o, k = (t.requires_grad_() for t in (c, o, k))
    sgns_loss(c, o, k).sum().backward()
    _, d_c, d_o, d_k = sgns_gradients(c.detach(), o.detach(), k.detach())
    torch.testing.assert_close(d_c, c.grad)
    torch.testing.assert_close(d_o, o.grad)
    torch.testing.assert_close(d_k, k.grad)


def test_noise_is_unigram_to_the_three_quarters_and_subsampling_keeps_rare_words():
    counts = np.array([1000, 100, 10])
    p = noise_distribution(counts)
    assert p == pytest.approx(counts**0.75 / (counts**0.75).sum())
    keep = keep_probability(counts, 1e-2)
    assert keep[2] == 1 and keep[0] == pytest.approx(math.sqrt(1e-2 / (1000 / 1110)))


def test_context_pairs_stay_within_the_window():
    ids = np.arange(50)
    centres, contexts = context_pairs(ids, 3, np.random.default_rng(0))
    gaps = np.abs(centres - contexts)
    assert gaps.min() == 1 and gaps.max() == 3
    # every neighbour at distance 1 is always in the window (b >= 1)
    assert {(c, c + 1) for c in range(49)} <= set(
        zip(centres.tolist(), contexts.tolist(), strict=True)
    )


def planted_corpus(n_sentences: int = 1500, seed: int = 0) -> str:
    """ "gatto"/"cane" share one set of contexts, "treno"/"auto" another: nothing else links them."""
    rng = random.Random(seed)
    animal_ctx = ["mangia", "dorme", "corre", "miagola", "prato", "ciotola"]
    vehicle_ctx = ["binario", "motore", "benzina", "stazione", "strada", "ruote"]
    lines = []
    for _ in range(n_sentences):
        word, ctx = rng.choice(
            [
                ("gatto", animal_ctx),
                ("cane", animal_ctx),
                ("treno", vehicle_ctx),
                ("auto", vehicle_ctx),
            ]
        )
        sentence = rng.sample(ctx, 3)
        sentence.insert(rng.randrange(4), word)
        lines.append(" ".join(sentence))
    return "\n".join(lines)


SMALL = Word2VecSettings(dim=16, window=2, min_count=1, epochs=4, sample=1.0, seed=3)


def test_planted_neighbours_come_out_nearest():
    result = train_word2vec(planted_corpus(), SMALL)
    embedder = result.embedder()
    targets = ["gatto", "cane", "treno", "auto"]
    assert neighbours("gatto", 1, embedder, candidates=targets)[0][0] == "cane"
    assert neighbours("treno", 1, embedder, candidates=targets)[0][0] == "auto"
    assert result.losses[-1] < result.losses[0]


def test_training_is_deterministic_with_a_seed():
    text = planted_corpus(300)
    a, b = train_word2vec(text, SMALL), train_word2vec(text, SMALL)
    assert a.words == b.words
    np.testing.assert_array_equal(a.vectors, b.vectors)
    c = train_word2vec(text, Word2VecSettings(**{**SMALL.__dict__, "seed": 4}))
    assert not np.array_equal(a.vectors, c.vectors)


def test_save_and_load_round_trip_and_bad_words(tmp_path):
    result = train_word2vec(planted_corpus(200), SMALL)
    out = save_vectors(result, tmp_path / "vecs", corpus="planted")
    vectors = load_vectors(out)
    assert vectors.words == result.words
    np.testing.assert_allclose(
        vectors.embed(["gatto"])[0],
        result.vectors[0 if result.words[0] == "gatto" else result.words.index("gatto")],
        atol=1e-3,
    )
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    with pytest.raises(UserError, match="no vector for 'zebra'"):
        vectors.embed(["zebra"])
    with pytest.raises(UserError, match="no words"):
        vectors.embed(["  "])
    with pytest.raises(UserError, match="not an empty folder"):
        save_vectors(result, out)


def test_corpus_without_repeated_words_is_one_line():
    with pytest.raises(UserError, match="needs more text"):
        train_word2vec("una sola volta", Word2VecSettings(min_count=5))


# --- the bundled vectors --------------------------------------------------------------------


def test_bundled_dante_words_are_small_and_open_by_name():
    folder = BUNDLED_WORDS / "dante-words"
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 5 * 2**20
    embedder = load_embedder("dante-words")
    meta = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    assert meta["settings"] == PRESETS["dante-words"][1].__dict__  # the preset rebuilds them
    assert len(embedder.words) == len(meta["words"]) > 1000
    assert embedder.embed(["Virgilio"]).shape == (1, meta["settings"]["dim"])


def test_bundled_neighbours_a_reader_recognises():
    """Beatrice is "donna" and "bella"; eyes are "belli" and shine ("splendori", "raggi")."""
    embedder = load_embedder("dante-words")
    assert {"donna", "bella"} <= {w for w, _ in neighbours("beatrice", 10, embedder)}
    assert {"belli", "raggi"} <= {w for w, _ in neighbours("occhi", 10, embedder)}


def test_cli_neighbours_and_unknown_word(capsys):
    assert main(["neighbours", "duca", "--model", "dante-words", "--k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["neighbours"]) == 3
    assert main(["neighbours", "computer", "--model", "dante-words"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no vector for 'computer'" in err


def test_cli_train_words_then_neighbours(tmp_path, capsys):
    corpus = tmp_path / "planted.txt"
    corpus.write_text(planted_corpus(300), encoding="utf-8")
    out = tmp_path / "vecs"
    argv = ["train-words", "--corpus", str(corpus), "--out", str(out), "--dim", "8"]
    assert main([*argv, "--epochs", "2", "--min-count", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["words"] == 16
    assert main(["neighbours", "gatto", "--model", str(out), "--k", "2"]) == 0
    assert main(argv) == 2  # OUT is no longer empty
    assert "not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_preset_rebuilds_the_bundled_vectors_exactly(tmp_path, data_dir):
    assert main(["train-words", "--preset", "dante-words", "--out", str(tmp_path / "v")]) == 0
    from safetensors.numpy import load_file

    new = load_file(str(tmp_path / "v" / "vectors.safetensors"))["vectors"]
    old = load_file(str(BUNDLED_WORDS / "dante-words" / "vectors.safetensors"))["vectors"]
    np.testing.assert_array_equal(new, old)
