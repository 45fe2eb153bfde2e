"""A tiny GPT checkpoint (random weights, character tokenizer) for the explainer's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from attento.explain.catalog import Catalog
from attento.models import GPT, GPTConfig
from attento.models.checkpoint_io import load_model, save_model
from attento.tokenize import CharTokenizer

TEXT = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura, ché la diritta via era smarrita."


def make_checkpoint(directory: Path, **overrides) -> Path:
    torch.manual_seed(0)
    tok = CharTokenizer.from_text(TEXT)
    settings = dict(vocab_size=tok.vocab_size, block_size=48, n_layer=2, n_head=2, n_embd=32)
    model = GPT(GPTConfig(**{**settings, **overrides})).eval()
    # larger weights than the GPT-2 init, so the distribution is far from uniform
    with torch.no_grad():
        model.embed.tok.weight.mul_(25)
    return save_model(model, tok, directory)


@pytest.fixture(scope="session")
def make_ckpt():
    """make_ckpt(directory, **GPTConfig overrides) -> a saved tiny checkpoint folder."""
    return make_checkpoint


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    make_checkpoint(root / "tiny")
    make_checkpoint(root / "tiny-rope", pos_encoding="rope", norm="rmsnorm", activation="swiglu")
    return root


@pytest.fixture(scope="session")
def catalog(models_dir) -> Catalog:
    return Catalog.discover("tiny", models_dir, bundled_dir=models_dir / "no-bundled")


@pytest.fixture(scope="session")
def tiny(models_dir):
    """(model, tokenizer) of the tiny checkpoint, loaded independently of the server."""
    return load_model(models_dir / "tiny")
