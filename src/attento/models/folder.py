"""A model on disk: one self-describing folder.

    my-model/
      config.json         {"arch": "gpt", "model": {...GPTConfig...}, ...anything else}
      model.safetensors   the weights (a plain tensor table: no code runs when it is read)
      tokenizer.json      + the tokenizer's data files (tokenizer.save)

"arch" names the class that rebuilds the model from the "model" settings (attento/registry.py
finds it in the stage that declares it). Other keys of config.json (e.g. training state
written by attento.train) are kept by whoever writes them and ignored here.
Weights shared by two layers (GPT's tied embedding/output matrix) are stored once.
`save_model` writes a folder whole or not at all (attento.files.atomic_folder) and refuses to
replace a non-empty one unless asked.

Every failure to read a folder (missing file, bad JSON, unknown arch, a weight of the wrong
name or shape) is a `UserError` naming the file, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from attento.errors import UserError
from attento.files import atomic_folder
from attento.messages import user_error
from attento.models.config import check_model_fits
from attento.registry import arch_class
from attento.tokenize import Tokenizer, load_tokenizer
from attento.tokenize.base import CONFIG_FILE as TOKENIZER_FILE

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
BUNDLED = Path(__file__).resolve().parents[1] / "assets" / "models"


# --- files -----------------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"{path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise UserError(f"{path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} should hold a JSON object")
    return data


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise UserError(f"{path} not found")
    try:
        return load_file(path)
    except (SafetensorError, OSError):
        raise UserError(f"{path} is not a readable safetensors file") from None


def write_safetensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    save_file(tensors, path, metadata={"format": "pt"})
    path.chmod(0o644)  # safetensors creates the file owner-only; weights are meant to be shared


def unique_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """state_dict without the second name of a shared (tied) tensor."""
    seen: set[int] = set()
    out = {}
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        out[name] = tensor.detach().cpu().contiguous()
    return out


def load_weights(model: nn.Module, path: Path) -> None:
    """Copy the tensors of `path` into `model`, refusing any missing, extra or misshapen one.
    An architecture whose parameter names changed renames an older folder's tensors first
    (its `upgrade_weights`)."""
    tensors = read_safetensors(path)
    if hasattr(model, "upgrade_weights"):
        tensors = model.upgrade_weights(tensors)
    expected = unique_state_dict(model)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise UserError(
            f"{path} does not match config.json: "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing[:5])}" if missing else "",
                    f"unexpected {', '.join(extra[:5])}" if extra else "",
                )
                if part
            )
        )
    params = model.state_dict(keep_vars=True)
    with torch.no_grad():
        for name, tensor in tensors.items():
            if tensor.shape != params[name].shape:
                raise UserError(
                    f"{path}: {name} has shape {tuple(tensor.shape)}, "
                    f"config.json implies {tuple(params[name].shape)}"
                )
            params[name].copy_(tensor)


# --- model folders ---------------------------------------------------------------------------


def save_model(
    model: nn.Module,
    tokenizer: Tokenizer | None,
    directory: str | Path,
    extra: dict[str, Any] | None = None,
    *,
    replace: bool = False,
) -> Path:
    """Write the model folder `directory` whole or not at all (attento.files.atomic_folder).

    A non-empty `directory` (another model, someone's files) is refused unless `replace`,
    which swaps the new folder in for it."""
    directory = Path(directory)
    with atomic_folder(directory, replace=replace) as tmp:
        write_model_files(model, tokenizer, tmp, extra)
    return directory


def write_model_files(
    model: nn.Module,
    tokenizer: Tokenizer | None,
    directory: Path,
    extra: dict[str, Any] | None = None,
) -> None:
    """config.json (+ `extra` keys), model.safetensors and the tokenizer, into the folder
    `directory`: the parts of a folder that its writer builds and swaps in itself."""
    config = {"arch": model.arch, "model": model.config.to_dict(), **(extra or {})}
    write_safetensors(unique_state_dict(model), directory / WEIGHTS)
    if tokenizer is not None:
        tokenizer.save(directory)
    (directory / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def load_model(
    path_or_name: str | Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str | None = None,
) -> tuple[nn.Module, Tokenizer | None]:
    """Open a model -> (model in eval mode, tokenizer or None if the folder has none).

    `path_or_name` is an attento folder, a Hugging Face folder (as `save_pretrained` writes
    it), a bundled model's name, or a Hugging Face Hub id, fetched once into the standard HF
    cache (data/hub.py). `dtype` (float32 by default; bfloat16, float16) is the weights' type.
    """
    from attento.models import hf
    from attento.models.config import dtype_named

    directory = resolve(path_or_name)
    if isinstance(dtype, str):
        dtype = dtype_named(dtype)
    if hf.is_hf_folder(directory):
        return _load_hf(directory, str(path_or_name), device, dtype or torch.float32)
    config_path = directory / CONFIG
    if not config_path.is_file():
        raise user_error("not_a_model_folder", path=str(directory), config=CONFIG)
    config = read_json(config_path)
    if "arch" not in config or "model" not in config:
        raise UserError(f"{config_path} is not an attento model config (needs arch and model)")
    cls = arch_class(config["arch"], config_path)
    try:
        settings = cls.config_class.from_dict(config["model"])
    except UserError as e:
        raise UserError(f"{config_path}: {e}") from None
    check_model_fits(cls, settings, copies=2, action="loading", where=f" from {directory}")
    model = cls(settings)
    load_weights(model, directory / WEIGHTS)
    if dtype is not None:
        model = model.to(dtype)
    tokenizer = None
    if (directory / TOKENIZER_FILE).is_file():
        tokenizer = load_tokenizer(directory)
        vocab = getattr(settings, "vocab_size", None)
        if vocab is not None and tokenizer.vocab_size > vocab:
            raise UserError(
                f"{directory / TOKENIZER_FILE}: the tokenizer has {tokenizer.vocab_size} tokens "
                f"but the model only {vocab}"
            )
    return model.to(device).eval(), tokenizer


def _load_hf(
    directory: Path, name: str, device: str | torch.device, dtype: torch.dtype
) -> tuple[nn.Module, Tokenizer | None]:
    """A Hugging Face folder: say its size, check it fits, then load it (models/hf.py)."""
    import sys

    from attento.memory import check_fits, gib
    from attento.models import gpt, hf

    config = hf.read_config(directory)
    if isinstance(config, gpt.GPTConfig):
        n = gpt.parameter_count(config)
        size = gpt.nbytes(config, dtype)
        what = f"{name}: {n:,} parameters, {gib(size)} as {str(dtype).removeprefix('torch.')}"
        print(f"attento: loading {what}", file=sys.stderr)
        check_fits(size, f"loading {what},")
    model = hf.from_hf(directory, dtype=dtype)
    tokenizer = load_tokenizer(directory) if _has_tokenizer_files(directory) else None
    return model.to(device).eval(), tokenizer


def _has_tokenizer_files(directory: Path) -> bool:
    names = ("tokenizer.json", "vocab.json", "vocab.txt", "tokenizer.model")
    return any((directory / n).is_file() for n in names)


def resolve(path_or_name: str | Path) -> Path:
    """A folder path as is; a bare name -> the bundled src/attento/assets/models/<name>/;
    otherwise a Hugging Face Hub id ("gpt2", "org/name") -> its snapshot in the HF cache."""
    from attento.data import hub
    from attento.files import recover

    path = Path(path_or_name)
    recover(path)  # a folder whose swap a crash interrupted is put back first
    if path.is_dir():
        return path
    name = str(path_or_name)
    if path.exists():
        raise user_error("model_is_file", path=str(path))
    bundled = sorted(p.name for p in BUNDLED.iterdir() if p.is_dir()) if BUNDLED.is_dir() else []
    if name in bundled:
        return BUNDLED / name
    if not hub.is_hub_id(name):
        raise user_error("model_folder_not_found", path=str(path))
    try:
        return hub.snapshot(name)
    except UserError as e:
        if not bundled:
            raise user_error("model_not_found_none_bundled", name=name, hub=e) from None
        raise user_error("model_not_found", name=name, bundled=bundled, hub=e) from None
