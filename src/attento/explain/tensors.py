"""Tensors for the page: packed little-endian numbers, base64-encoded inside the JSON.

A 64-token trace of a small model holds close to a million numbers. Written as JSON text
(even rounded to 4 significant digits) they take ~4 bytes more each and ~200 ms to encode in
Python; packed as float32 they take 5.3 characters each, a few milliseconds, and the browser
reads them straight into a `Float32Array`. The values are the model's own float32 numbers,
unrounded (the page prints them with 4 significant digits); -inf (a masked attention score)
survives the trip.

Three encodings (`dtype`), chosen per tensor by what the page does with it:

- "f32": the model's float32 numbers, exact (the final logits, which the sliders turn into
  probabilities that must equal `attento.generate`'s);
- "f16": half precision, ~3 significant digits (attention weights, printed as percentages);
- "u8": a heat map to draw, 1 byte per number: code q in 0..254 stands for lo + q·step with
  step = (hi - lo) / 254 (so at most step/2 from the true value), and 255 for -inf (a masked
  score). A real model's blocks are ~1 MB of numbers each; drawn as colours they need no more
  than 255 levels, and the page asks for the exact float32 of the one cell under the mouse
  (server.py: /api/cell).

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


DTYPES = ("f32", "f16", "u8")
U8_LEVELS = 254  # codes 0..254 for finite values; 255 is -inf


def pack(
    t: torch.Tensor | np.ndarray,
    max_width: int = MAX_WIDTH,
    dtype: str = "f32",
    name: str | None = None,
) -> dict[str, Any]:
    """{"shape": [...], "dtype": ..., "b64": ...} (+ "lo", "hi" for u8); plus "pooled": k and
    "full_shape" if the last axis was averaged over groups of k dimensions to fit `max_width`;
    plus "name": the trace record it shows, which the page quotes to ask for an exact value."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}")
    a = t.detach().float().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, np.float32)
    packed: dict[str, Any] = {} if name is None else {"name": name}
    if a.ndim and a.shape[-1] > max_width:
        width = a.shape[-1]
        k = -(-width // max_width)
        padded = np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, (-width) % k)], constant_values=np.nan)
        packed.update(pooled=k, full_shape=list(a.shape))
        a = np.nanmean(padded.reshape(*a.shape[:-1], -1, k), axis=-1)
    packed.update(shape=list(a.shape), dtype=dtype)
    if dtype == "u8":
        data = quantise(a, packed)
    else:
        data = np.ascontiguousarray(a, dtype="<f4" if dtype == "f32" else "<f2")
    packed["b64"] = base64.b64encode(data.tobytes()).decode("ascii")
    return packed


def quantise(a: np.ndarray, packed: dict[str, Any]) -> np.ndarray:
    """`a` as u8 codes; sets packed["lo"], packed["hi"] (the range of its finite values)."""
    finite = np.isfinite(a)
    values = a[finite]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    packed.update(lo=lo, hi=hi)
    step = (hi - lo) / U8_LEVELS or 1.0
    codes = np.rint((np.where(finite, a, lo) - lo) / step)
    codes = np.clip(codes, 0, U8_LEVELS).astype(np.uint8)
    codes[~finite] = 255
    return codes


def unpack(packed: dict[str, Any]) -> np.ndarray:
    """The array behind `pack` (for tests and notebooks), as float32."""
    raw = base64.b64decode(packed["b64"])
    dtype = packed.get("dtype", "f32")
    if dtype == "u8":
        codes = np.frombuffer(raw, dtype=np.uint8)
        step = (packed["hi"] - packed["lo"]) / U8_LEVELS
        data = (packed["lo"] + codes.astype(np.float64) * step).astype(np.float32)
        data[codes == 255] = -np.inf
    else:
        data = np.frombuffer(raw, dtype="<f4" if dtype == "f32" else "<f2").astype(np.float32)
    return data.reshape(packed["shape"])


def tolerance(packed: dict[str, Any]) -> float:
    """How far an unpacked finite value may be from the true one (0 for f32, relative for f16:
    use it times the value's magnitude)."""
    dtype = packed.get("dtype", "f32")
    if dtype == "u8":
        return (packed["hi"] - packed["lo"]) / U8_LEVELS / 2
    return 0.0 if dtype == "f32" else 2.0**-11


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
