"""Which folders the explainer may open: only configured ones, only models it can draw."""

import json

import pytest

from attento.errors import UserError
from attento.explain.catalog import Catalog, find_checkpoints


def test_bundled_models_and_models_dir_are_listed_and_named_by_folder(
    tmp_path, models_dir, make_ckpt
):
    bundled = tmp_path / "bundled"
    make_ckpt(bundled / "dante")
    catalog = Catalog.discover(None, models_dir, bundled_dir=bundled)
    assert catalog.default == "dante"
    assert {n: e.source for n, e in catalog.entries.items()} == {
        "dante": "bundled",
        "tiny": "models-dir",
        "tiny-rope": "models-dir",
    }
    assert catalog.entry("dante").facts()["language"] == "it"
    assert catalog.entry("tiny").facts()["language"] is None


def test_model_dir_given_on_the_command_line_becomes_the_default(tmp_path, make_ckpt):
    path = make_ckpt(tmp_path / "run" / "ckpt")
    catalog = Catalog.discover(str(path), None, bundled_dir=tmp_path / "none")
    assert catalog.default == "ckpt" and catalog.entry("ckpt").source == "command line"
    model, tokenizer = catalog.load("ckpt")
    assert model.config.n_layer == 2 and tokenizer.vocab_size == model.config.vocab_size
    assert catalog.load("ckpt")[0] is model  # loaded once


def test_same_folder_names_get_distinct_catalog_names(tmp_path, make_ckpt):
    make_ckpt(tmp_path / "a" / "best")
    make_ckpt(tmp_path / "b" / "best")
    catalog = Catalog.discover(None, tmp_path, bundled_dir=tmp_path / "none")
    assert sorted(catalog.entries) == ["b/best", "best"]


def test_undrawable_checkpoints_and_junk_are_skipped(tmp_path, make_ckpt):
    make_ckpt(tmp_path / "good")
    bert = make_ckpt(tmp_path / "bert")
    config = json.loads((bert / "config.json").read_text())
    (bert / "config.json").write_text(json.dumps({**config, "arch": "lstm"}))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "config.json").write_text("{not json")
    (tmp_path / "junk" / "model.safetensors").write_bytes(b"")
    assert [p.name for p in find_checkpoints(tmp_path)] == ["good"]
    with pytest.raises(UserError, match="the explainer draws gpt, bert, seq2seq models"):
        Catalog.discover(str(bert), None, bundled_dir=tmp_path / "none")


@pytest.mark.parametrize(
    ("model", "models_dir", "words"),
    [
        ("nope", None, "neither a known name"),
        (None, "missing-dir", "is not a folder"),
        (None, None, "no models to explain"),
    ],
)
def test_discovery_mistakes_are_user_errors(tmp_path, model, models_dir, words):
    with pytest.raises(UserError, match=words):
        Catalog.discover(
            model,
            None if models_dir is None else tmp_path / models_dir,
            bundled_dir=tmp_path / "none",
        )


def test_unknown_names_never_become_paths(catalog, models_dir):
    with pytest.raises(UserError, match="unknown model"):
        catalog.load(str(models_dir / "tiny"))
