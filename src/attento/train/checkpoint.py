"""Training checkpoints: a model folder plus everything needed to continue exactly.

The run folder OUT is itself a model folder (`attento.load_model(OUT)` works), holding:

    config.json, model.safetensors, tokenizer.json (+ data)  the model, via models/folder.py
    train_config.json    the TrainConfig of the run
    train_state.json     step, best validation loss, elapsed time, Python RNG (JSON scalars)
    train_state.pt       optimiser moments, torch/numpy RNG (each process's torch RNG in a
                         distributed run), data sampler (tensors only; read back with
                         torch.load(weights_only=True), which never unpickles code)
    log.csv, loss.png    the log and the loss curve
    snapshots/           weights along the run, with --keep-checkpoints (train/snapshots.py)
    best/                the model with the lowest validation loss so far (model files only)

A checkpoint is written as every attento folder is (attento.files): built whole in a hidden
sibling, fsynced, and swapped in for OUT, so a kill or a power cut at any moment leaves the
previous checkpoint whole, and `recover` (called by whoever opens OUT) puts it back. Files of
the previous `best/` that do not change are hard-linked rather than copied. A run holds the
lock of OUT (attento.files.lock_folder) from start to end, so a second run on the same folder
stops at once with the first one's pid instead of both writing there.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attento.config import short_json
from attento.errors import UserError
from attento.files import LOCK_FILE, atomic_folder, recover
from attento.train import distributed
from attento.train.config import TrainConfig
from attento.train.log import LOG_FILE, PLOT_FILE, TrainLog
from attento.train.snapshots import SNAPSHOT_DIR

CONFIG_FILE = "train_config.json"
STATE_JSON = "train_state.json"
STATE_TENSORS = "train_state.pt"
BEST_DIR = "best"
FORMAT = "attento-train-state"
VERSION = 1
# files a run folder may hold besides those models/folder.py writes; anything else is not ours
RUN_FILES = {
    *(CONFIG_FILE, STATE_JSON, STATE_TENSORS, LOG_FILE, PLOT_FILE, BEST_DIR, LOCK_FILE),
    SNAPSHOT_DIR,
}


@dataclass
class TrainState:
    """Where a run stands after `step` optimiser steps."""

    step: int = 0
    best_val_loss: float = float("inf")
    elapsed_s: float = 0.0


def has_checkpoint(out: Path) -> bool:
    """Whether OUT holds a checkpoint, counting one that a crash left half swapped."""
    recover(out)
    return (out / STATE_JSON).is_file()


def check_fresh_out(out: Path) -> None:
    """Refuse to start a new run over a checkpoint or over a folder of someone else's files."""
    if has_checkpoint(out):
        raise UserError(
            f"{out} already holds a training checkpoint: pass --resume to continue it, "
            "or choose another --out folder"
        )
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in RUN_FILES)
        if foreign:
            raise UserError(
                f"--out {out} already holds other files ({', '.join(foreign[:3])}); "
                "give a new or empty folder, as checkpoints replace the folder's contents"
            )


def rng_states() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The state of every random generator: JSON-able parts and tensor parts."""
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    scalars = {
        "python": _to_json(random.getstate()),
        "numpy": [np_kind, int(np_pos), int(np_has_gauss), float(np_gauss)],
    }
    tensors = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_keys.astype(np.int64)),
    }
    if torch.cuda.is_available():
        tensors["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return scalars, tensors


def set_rng_states(scalars: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    random.setstate(_to_tuple(scalars["python"]))
    kind, pos, has_gauss, gauss = scalars["numpy"]
    np.random.set_state(
        (kind, tensors["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, gauss)
    )
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(tensors["cuda"]))


def rank_rng_states(world: distributed.World) -> dict[str, torch.Tensor]:
    """Every process's torch generators, for process 0 to save (all processes must call it).

    In a distributed run each process draws its own dropout masks, so resuming bit for bit
    needs every process's stream, not only process 0's."""
    if not world.distributed:
        return {}
    states = {"torch_ranks": distributed.gather(world, torch.get_rng_state())}
    if world.device.type == "cuda":
        own = torch.cuda.get_rng_state(world.device)
        states["cuda_ranks"] = distributed.gather(world, own)
    return states


def set_rank_rng_states(
    tensors: dict[str, torch.Tensor], world: distributed.World, reseed: int
) -> None:
    """Continue this process's own torch streams. A checkpoint from a world of another size
    has none for it: then the process starts a fresh stream from `reseed` + its rank."""
    ranks = tensors.get("torch_ranks")
    if ranks is None or len(ranks) != world.size:
        if world.rank:
            torch.manual_seed(reseed + world.rank)
        return
    # clone: torch 2.13's set_rng_state crashes (SIGSEGV) on a row view of the stacked states
    torch.set_rng_state(ranks[world.rank].clone())
    if "cuda_ranks" in tensors and world.device.type == "cuda":
        torch.cuda.set_rng_state(tensors["cuda_ranks"][world.rank].clone(), world.device)


def _to_json(x: Any) -> Any:
    return [_to_json(v) for v in x] if isinstance(x, (tuple, list)) else x


def _to_tuple(x: Any) -> Any:
    return tuple(_to_tuple(v) for v in x) if isinstance(x, list) else x


def save_checkpoint(
    out: Path,
    model: torch.nn.Module,
    tokenizer: Any,
    cfg: TrainConfig,
    state: TrainState,
    optimizer: torch.optim.Optimizer,
    sampler_state: dict[str, torch.Tensor],
    log: TrainLog,
    is_best: bool,
    rank_rng: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write the whole checkpoint to a temporary sibling, then swap it in for OUT.

    `rank_rng` holds every process's generators in a distributed run (`rank_rng_states`)."""
    from attento.models.folder import write_model_files

    with atomic_folder(out, replace=True) as tmp:
        write_model_files(model, tokenizer, tmp)
        rng_scalars, rng_tensors = rng_states()
        rng_tensors.update(rank_rng or {})
        torch.save(
            {"optimizer": optimizer.state_dict(), "sampler": sampler_state, "rng": rng_tensors},
            tmp / STATE_TENSORS,
        )
        (tmp / CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        log.write(tmp)
        if is_best:
            (tmp / BEST_DIR).mkdir()
            write_model_files(model, tokenizer, tmp / BEST_DIR)
        elif (out / BEST_DIR).is_dir():
            _link_tree(out / BEST_DIR, tmp / BEST_DIR)
        if (out / SNAPSHOT_DIR).is_dir():  # the snapshots so far (train/snapshots.py)
            _link_tree(out / SNAPSHOT_DIR, tmp / SNAPSHOT_DIR)
        # the state file goes last: a folder with it is a complete checkpoint
        state_json = {"format": FORMAT, "version": VERSION, **vars(state), "rng": rng_scalars}
        (tmp / STATE_JSON).write_text(json.dumps(state_json, indent=2) + "\n")


def _link_tree(src: Path, dst: Path) -> None:
    """Recreate `src` at `dst` with hard links (copies where links are not supported)."""
    dst.mkdir()
    for p in src.iterdir():
        if p.is_dir():
            _link_tree(p, dst / p.name)
            continue
        try:
            os.link(p, dst / p.name)
        except OSError:
            shutil.copy2(p, dst / p.name)


def read_train_config(out: Path) -> TrainConfig:
    """The TrainConfig saved with the checkpoint in OUT, each setting of the type it needs."""
    recover(out)
    path = out / CONFIG_FILE
    data = _read_json(path)
    return TrainConfig.from_json_object(data, path)


@dataclass
class Checkpoint:
    model: torch.nn.Module
    tokenizer: Any
    config: TrainConfig
    state: TrainState
    tensors: dict[str, Any]  # "optimizer", "sampler", "rng"
    rng_scalars: dict[str, Any]


def load_checkpoint(out: Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`, checking each part."""
    from attento.models.folder import load_model

    recover(out)
    if not has_checkpoint(out):
        raise UserError(
            f"nothing to resume in {out}: it holds no training checkpoint "
            "(start without --resume, or point --out at an earlier run)"
        )
    raw = _read_json(out / STATE_JSON)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise UserError(f"{out / STATE_JSON} is not an attento training state file")
    state = _read_state(raw, out / STATE_JSON)
    rng_scalars = raw.get("rng")
    config = read_train_config(out)
    model, tokenizer = load_model(out)
    if tokenizer is None:
        raise UserError(f"the checkpoint in {out} has no tokenizer.json: it is incomplete")
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    if vocab is not None and vocab != tokenizer.vocab_size:
        raise UserError(
            f"the checkpoint in {out} is inconsistent: its tokenizer has {tokenizer.vocab_size} "
            f"tokens but its model expects {vocab}"
        )
    try:
        tensors = torch.load(out / STATE_TENSORS, map_location="cpu", weights_only=True)
        if not {"optimizer", "sampler", "rng"} <= set(tensors):
            raise KeyError("missing entries")
    except Exception as exc:  # any unreadable file is the same user-level problem
        raise UserError(
            f"{out / STATE_TENSORS} is damaged or not an attento file ({exc.__class__.__name__})"
        ) from None
    check_rng_states(rng_scalars, tensors["rng"], out)
    return Checkpoint(model, tokenizer, config, state, tensors, rng_scalars)


def _read_state(raw: dict[str, Any], path: Path) -> TrainState:
    step, best, elapsed = (raw.get(k) for k in ("step", "best_val_loss", "elapsed_s"))
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise UserError(f"{path}: step should be a whole number >= 0, got {short_json(step)}")
    for key, value in (("best_val_loss", best), ("elapsed_s", elapsed)):
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise UserError(f"{path}: {key} should be a number, got {short_json(value)}")
    return TrainState(step, float(best), float(elapsed))


def check_rng_states(scalars: Any, tensors: Any, out: Path) -> None:
    """Load each saved generator state into a scratch generator first, so that a state of the
    wrong type or shape is named with its file and key here, not a TypeError on resuming."""
    state_json, state_pt = out / STATE_JSON, out / STATE_TENSORS
    if not isinstance(scalars, dict):
        raise UserError(f"{state_json}: rng should be a JSON object, got {short_json(scalars)}")
    if not isinstance(tensors, dict):
        raise UserError(f"{state_pt}: rng should be a table of tensors")
    keys = tensors.get("numpy_keys")
    numpy_part = scalars.get("numpy")
    checks = [
        (state_json, "rng.python", lambda: random.Random().setstate(_to_tuple(scalars["python"]))),
        (state_pt, "rng.torch", lambda: torch.Generator().set_state(tensors["torch"])),
        (state_pt, "rng.numpy_keys", lambda: _numpy_keys(keys)),
        (state_json, "rng.numpy", lambda: _numpy_state(numpy_part, _numpy_keys(keys))),
    ]
    # the CUDA and per-process states are stacks of states of the same type
    others = [k for k in tensors if k != "numpy_keys"]
    checks += [(state_pt, f"rng.{k}", lambda k=k: _generator_state(tensors[k])) for k in others]
    for path, key, check in checks:
        try:
            check()
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError, OverflowError):
            raise UserError(f"{path}: {key} is missing or damaged") from None


def _generator_state(t: Any) -> torch.Tensor:
    if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8:
        raise TypeError("a torch generator state is a uint8 tensor")
    return t


def _numpy_keys(keys: Any) -> np.ndarray:
    if not isinstance(keys, torch.Tensor) or keys.dtype != torch.int64 or keys.shape != (624,):
        raise TypeError("numpy_keys")
    if keys.min() < 0 or keys.max() >= 2**32:
        raise ValueError("numpy_keys")
    return keys.numpy().astype(np.uint32)


def _numpy_state(part: Any, keys: np.ndarray) -> None:
    kind, pos, has_gauss, gauss = part
    if not (isinstance(kind, str) and type(pos) is int and type(has_gauss) is int):
        raise TypeError("numpy")
    if isinstance(gauss, bool) or not isinstance(gauss, int | float):
        raise TypeError("numpy")
    np.random.RandomState().set_state((kind, keys, pos, has_gauss, gauss))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} is missing: the checkpoint is incomplete") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{path} is not valid JSON: the checkpoint is damaged") from None
