"""Tiny models for the alignment tests (built in seconds, never trained far)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from attento.models.folder import save_model
from attento.models.gpt import GPT, GPTConfig
from attento.tokenize import CharTokenizer

TEXT = "0123456789+= abcdefghijklmnopqrstuvwxyz\n"


def tiny_gpt(vocab_size: int, seed: int = 0, **kw) -> GPT:
    torch.manual_seed(seed)
    settings = dict(block_size=48, n_layer=1, n_head=2, n_embd=16)
    return GPT(GPTConfig(vocab_size=vocab_size, **{**settings, **kw})).eval()


@pytest.fixture
def char_tokenizer() -> CharTokenizer:
    return CharTokenizer.from_text(TEXT)


@pytest.fixture
def base_dir(tmp_path: Path, char_tokenizer: CharTokenizer) -> Path:
    """A model folder with a character tokenizer and no chat tokens."""
    return save_model(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer, tmp_path / "base")


@pytest.fixture(scope="session")
def bpe_tokenizer():
    """A byte-level BPE with a few merges: encodes any text, as real data needs."""
    from attento.tokenize.bpe import train_bpe

    return train_bpe("the cat sat on the mat. Human: hello Assistant: hi there " * 20, 280)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and lose a lot on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
