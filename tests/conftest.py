"""Shared test setup: corpora come from ../shared/data (never copied into the project)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SEED_PAGE = REPO.parent / "shared" / "seed" / "concetti-ai-generativa.md"

if "ATTENTO_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["ATTENTO_DATA"] = str(SHARED_DATA)
# Tests never download: a missing file must fail loudly instead.
os.environ.setdefault("ATTENTO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The CLI speaks the locale's language: tests read English unless they ask for Italian.
os.environ.setdefault("ATTENTO_LANG", "en")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(os.environ.get("ATTENTO_DATA", SHARED_DATA))
    if not (path / "tinyshakespeare.txt").is_file():
        pytest.skip("corpora not available: set ATTENTO_DATA to the folder holding them")
    return path


@pytest.fixture(scope="session")
def seed_page() -> str:
    if not SEED_PAGE.is_file():
        pytest.skip("the seed page ../shared/seed is not next to this checkout")
    return SEED_PAGE.read_text(encoding="utf-8")


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty Hugging Face cache in tmp_path (HF_HUB_CACHE, offline), and a function that lays
    a model out in it as huggingface_hub does: models--org--name/{refs/main, snapshots/<rev>/}.
    `add(repo_id, folder)` copies the files of `folder` into a new snapshot and returns it."""
    import shutil

    import huggingface_hub.constants as constants

    root = tmp_path / "hf-cache"
    root.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(root))  # for subprocesses
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root))  # read at import in this process
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def add(
        repo_id: str, folder: Path, revision: str = "0123456789abcdef" * 2 + "01234567"
    ) -> Path:
        repo = root / ("models--" + repo_id.replace("/", "--"))
        snapshot = repo / "snapshots" / revision
        shutil.copytree(folder, snapshot)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
        return snapshot

    add.root = root
    return add


LLAMA_CHAT_TEMPLATE = (  # ChatML, as SmolLM2-Instruct and Qwen2 write it
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA_TEXT = (
    "Il gatto è sul tappeto. Nel mezzo del cammin di nostra vita. The cat sat on the mat. " * 20
)


def save_tokenizer(folder: Path) -> int:
    """Train a small byte-level BPE with the `tokenizers` library and save it as a model's."""
    import json

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([LLAMA_TEXT], trainer)
    tok.save(str(folder / "tokenizer.json"))
    config = {"eos_token": "<|im_end|>", "bos_token": None, "chat_template": LLAMA_CHAT_TEMPLATE}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return tok.get_vocab_size()


@pytest.fixture(scope="session")
def hf_llama_folder(tmp_path_factory) -> Path:
    """A tiny random LlamaForCausalLM (4 query / 2 key-value heads) saved by `save_pretrained`,
    with a byte-level BPE tokenizer.json and a ChatML chat template: a real model's folder."""
    transformers = pytest.importorskip("transformers")
    import torch

    folder = tmp_path_factory.mktemp("tiny-llama")
    vocab = save_tokenizer(folder)
    config = transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=False,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():  # peaked logits: greedy text depends on the prompt
        for p in model.parameters():
            p.mul_(4.0 if p.dim() > 1 else 1.0)
    model.save_pretrained(folder)
    return folder
