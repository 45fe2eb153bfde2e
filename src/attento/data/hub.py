"""Models from the Hugging Face Hub by id, fetched once into the standard HF cache.

A Hub id (`gpt2`, `HuggingFaceTB/SmolLM2-135M`) becomes a local folder through
`huggingface_hub.snapshot_download`, the library's own code, so the cache is the one
`transformers` and the `hf` command use (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
`~/.cache/huggingface/hub`): a model downloaded by any of them is found by the others.

Only what attento reads is fetched (`FILES`: the config, the safetensors weights and their
index, the tokenizer files), never the other weight formats a repository may also carry
(`pytorch_model.bin`, ONNX, GGUF), which can be larger than the model itself. With
`HF_HUB_OFFLINE=1`, or when the Hub cannot be reached, an already cached snapshot is used as
is; a model that is not cached gets one line saying how to fetch it on another machine.
"""

from __future__ import annotations

import re
from pathlib import Path

from attento.errors import UserError
from attento.messages import message, user_error

# Files of a model repository that attento reads (fnmatch patterns, as snapshot_download takes).
FILES = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "tokenizer.model",
)
# "name" or "owner/name": letters, digits, '-', '_', '.'; never '..' or a leading '.'.
_HUB_ID = re.compile(r"(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*")
INSTALL = "pip install 'attento[hf]'"


def is_hub_id(name: str) -> bool:
    """Whether `name` has the shape of a Hub model id (it says nothing of its existence)."""
    return bool(_HUB_ID.fullmatch(name)) and ".." not in name and len(name) <= 96


def snapshot(repo_id: str, revision: str | None = None) -> Path:
    """The local folder of `repo_id` at `revision` (default: main), downloaded if needed."""
    if not is_hub_id(repo_id):
        raise UserError(f"{repo_id!r} is not a Hugging Face model id (e.g. openai-community/gpt2)")
    try:
        import huggingface_hub as hub
        from huggingface_hub import errors
    except ImportError:
        raise UserError(f"opening a Hub model needs huggingface_hub: {INSTALL}") from None
    try:
        folder = hub.snapshot_download(repo_id, revision=revision, allow_patterns=list(FILES))
    except errors.GatedRepoError:
        raise UserError(
            f"{repo_id} is gated: accept its licence on https://huggingface.co/{repo_id}, "
            "then log in with `hf auth login` (or set HF_TOKEN) and try again"
        ) from None
    except errors.RepositoryNotFoundError:
        raise user_error("hub_not_found", repo=repo_id) from None
    except errors.RevisionNotFoundError:
        raise UserError(f"{repo_id} has no revision {revision!r}") from None
    except errors.LocalEntryNotFoundError:
        raise user_error("hub_not_cached", repo=repo_id) from None
    except (errors.HfHubHTTPError, OSError) as exc:
        cached = message("error.hub_not_cached", "en", repo=repo_id)
        raise UserError(f"could not fetch {repo_id} ({exc}). {cached}") from None
    return Path(folder)
