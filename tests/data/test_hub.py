"""Hub ids resolve through huggingface_hub's own code, offline, from a cache laid out by hand."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub import errors

from attento.data import hub
from attento.errors import UserError


def test_a_cached_model_is_found_offline(hf_cache, tmp_path: Path):
    files = tmp_path / "files"
    files.mkdir()
    (files / "config.json").write_text('{"model_type": "gpt2"}')
    (files / "model.safetensors").write_bytes(b"weights")
    snapshot = hf_cache("org/tiny-model", files)
    assert hub.snapshot("org/tiny-model") == snapshot
    assert (hub.snapshot("org/tiny-model") / "config.json").read_text() == '{"model_type": "gpt2"}'


def test_a_model_not_in_the_cache_says_how_to_fetch_it(hf_cache):
    with pytest.raises(UserError, match=r"not in the Hugging Face cache.*hf download org/absent"):
        hub.snapshot("org/absent")


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (errors.GatedRepoError, r"meta-llama/Llama-3.2-1B is gated: accept its licence"),
        (errors.RepositoryNotFoundError, r"no model 'meta-llama/Llama-3.2-1B' on the Hugging Face"),
    ],
)
def test_hub_refusals_are_one_line(monkeypatch, error, words):
    response = httpx.Response(401, request=httpx.Request("GET", "https://huggingface.co/api"))

    def refuse(*args, **kwargs):
        raise error("refused", response=response)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    with pytest.raises(UserError, match=words):
        hub.snapshot("meta-llama/Llama-3.2-1B")


def test_only_the_files_attento_reads_are_asked_for(monkeypatch, tmp_path: Path):
    import huggingface_hub

    asked = {}
    monkeypatch.setattr(
        huggingface_hub, "snapshot_download", lambda repo, **kw: asked.update(kw) or tmp_path
    )
    hub.snapshot("gpt2")
    patterns = asked["allow_patterns"]
    assert "*.safetensors" in patterns and "tokenizer.json" in patterns
    assert not any(p.endswith((".bin", ".onnx", ".gguf", ".h5", ".msgpack")) for p in patterns)


@pytest.mark.parametrize("name", ["../etc", "/etc/passwd", "a/b/c", "", ".hidden", "a b"])
def test_what_is_not_a_hub_id(name):
    assert not hub.is_hub_id(name)
    with pytest.raises(UserError, match="not a Hugging Face model id"):
        hub.snapshot(name)


@pytest.mark.parametrize("name", ["gpt2", "openai-community/gpt2", "Qwen/Qwen2.5-0.5B"])
def test_real_ids_are_hub_ids(name):
    assert hub.is_hub_id(name)
