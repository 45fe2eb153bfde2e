"""Tensors for the page: little-endian float32, base64-encoded inside the JSON.

A 64-token trace of a small model holds close to a million numbers. Written as JSON text
(even rounded to 4 significant digits) they take ~4 bytes more each and ~200 ms to encode in
Python; packed as float32 they take 5.3 characters each, a few milliseconds, and the browser
reads them straight into a `Float32Array`. The values are the model's own float32 numbers,
unrounded (the page prints them with 4 significant digits); -inf (a masked attention score)
survives the trip.

Very long vectors (wider than `MAX_WIDTH`) are averaged over groups of neighbouring dimensions
so that a heat strip stays drawable; the packed entry then says by how much (`pooled`) and the
page labels the picture as averaged.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from typing import Any

import numpy as np
import torch

MAX_WIDTH = 1024


def pack(t: torch.Tensor | np.ndarray, max_width: int = MAX_WIDTH) -> dict[str, Any]:
    """{"shape": [...], "b64": ...}; plus "pooled": k and "full_shape" if the last axis was
    averaged over groups of k dimensions to fit `max_width`."""
    a = t.detach().float().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, np.float32)
    packed: dict[str, Any] = {}
    if a.ndim and a.shape[-1] > max_width:
        width = a.shape[-1]
        k = -(-width // max_width)
        padded = np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, (-width) % k)], constant_values=np.nan)
        packed.update(pooled=k, full_shape=list(a.shape))
        a = np.nanmean(padded.reshape(*a.shape[:-1], -1, k), axis=-1)
    data = np.ascontiguousarray(a, dtype="<f4")
    packed.update(shape=list(data.shape), b64=base64.b64encode(data.tobytes()).decode("ascii"))
    return packed


def unpack(packed: dict[str, Any]) -> np.ndarray:
    """The array behind `pack` (for tests and notebooks)."""
    data = np.frombuffer(base64.b64decode(packed["b64"]), dtype="<f4")
    return data.reshape(packed["shape"])


def dumps(obj: Any) -> bytes:
    """JSON bytes of `obj`, splicing the packed tensors' base64 text in without re-scanning it.

    `json.dumps` escapes every character of every string, which for a few megabytes of base64
    (which never needs escaping) costs tens of milliseconds. The tensors are swapped for
    placeholders carrying a random nonce, the small rest is encoded, and the base64 text is
    joined back in.
    """
    nonce = secrets.token_hex(8)
    blobs: list[bytes] = []

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            if isinstance(x.get("b64"), str):
                blobs.append(x["b64"].encode("ascii"))
                return {**x, "b64": f"{nonce}{len(blobs) - 1}"}
            return {k: strip(v) for k, v in x.items()}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    skeleton = json.dumps(strip(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    parts = re.split(f'"{nonce}(\\d+)"', skeleton)
    out: list[bytes] = []
    for k, part in enumerate(parts):
        out.append(b'"' + blobs[int(part)] + b'"' if k % 2 else part.encode("utf-8"))
    return b"".join(out)
