"""`attento explain --model` on a Hugging Face folder or a Hub id (offline, from the cache)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from attento.errors import UserError
from attento.explain.catalog import Catalog
from attento.explain.server import create_app

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


def check_served(catalog: Catalog, name: str, folder: Path) -> None:
    from tokenizers import Tokenizer

    client = TestClient(create_app(catalog), base_url="http://127.0.0.1")
    facts = {m["name"]: m for m in client.get("/api/models").json()["models"]}[name]
    assert (facts["arch"], facts["n_layer"], facts["n_head"], facts["n_kv_head"]) == (
        "llama",
        2,
        4,
        2,
    )
    reply = client.post("/api/trace", json={"model": name, "prompt": "Il gatto è"})
    assert reply.status_code == 200, reply.text
    expected = Tokenizer.from_file(str(folder / "tokenizer.json")).encode("Il gatto è").ids
    assert reply.json()["ids"] == expected


def test_a_hugging_face_folder_is_explained(hf_llama_folder):
    catalog = Catalog.discover(str(hf_llama_folder))
    check_served(catalog, catalog.default, hf_llama_folder)


def test_a_hub_id_is_explained_offline_from_the_cache(hf_llama_folder, hf_cache):
    hf_cache("tiny-org/tiny-llama", hf_llama_folder)
    catalog = Catalog.discover("tiny-org/tiny-llama")
    assert catalog.default == "tiny-org/tiny-llama"
    check_served(catalog, "tiny-org/tiny-llama", hf_llama_folder)


def test_an_encoder_or_an_unknown_id_is_one_line(tmp_path, hf_cache):
    (tmp_path / "t5").mkdir()
    (tmp_path / "t5" / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(UserError, match="the explainer draws"):
        Catalog.discover(str(tmp_path / "t5"))
    with pytest.raises(UserError, match="not in the Hugging Face cache"):
        Catalog.discover("tiny-org/absent")
