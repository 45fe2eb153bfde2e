"""`attento kv-cache`: what a model's KV cache costs in memory (see models/kv_memory.py)."""

from __future__ import annotations

import argparse

from attento.cli.common import add_config_flags, add_json_flag, config_from_args, print_json

QUERY_FLAGS = ("context", "dtype", "batch")  # the fields of CacheQuery


def register(sub: argparse._SubParsersAction) -> None:
    from attento.models.kv_memory import DTYPE_BYTES, CacheQuery

    p = sub.add_parser(
        "kv-cache",
        help="KV-cache memory per token and at full context; what grouped-query attention saves",
        description="The KV cache keeps a key and a value per layer, key/value head and token: "
        "2 x layers x kv heads x head dim x bytes per number x batch, per token. Without "
        "--model: the bundled models and some public ones (GPT-2, SmolLM2, Qwen2.5, "
        "Llama-3.2, Mistral), with the size multi-head attention would take and the saving of "
        "grouped-query attention; a sliding window caps the cache at the window. Only "
        "config.json is read, never the weights.",
    )
    p.add_argument(
        "--model",
        help="bundled name, model folder (attento or Hugging Face), or Hub id owner/name",
    )
    add_config_flags(p, CacheQuery, QUERY_FLAGS, choices={"dtype": tuple(DTYPE_BYTES)})
    add_json_flag(p)
    p.set_defaults(func=run_kv_cache)


def run_kv_cache(args: argparse.Namespace) -> int:
    from attento.models.folder import BUNDLED
    from attento.models.kv_memory import (
        DTYPE_BYTES,
        PUBLIC,
        CacheQuery,
        human_bytes,
        is_encoder,
        shape_of,
    )

    q = config_from_args(CacheQuery, args, QUERY_FLAGS)
    if args.model:
        shapes = [shape_of(args.model)]
    else:
        bundled = sorted(p.name for p in BUNDLED.iterdir() if (p / "config.json").is_file())
        bundled = [name for name in bundled if not is_encoder(name)]
        shapes = [shape_of(name) for name in bundled] + list(PUBLIC.values())
    size = DTYPE_BYTES[q.dtype]
    rows = [{"model": s.name} | s.memory(q.context, size, q.batch) for s in shapes]
    if args.json:
        print_json({"dtype": q.dtype, "batch": q.batch, "models": rows})
        return 0
    print(
        f"KV cache in {q.dtype}, batch {q.batch}: 2 x layers x kv heads x head dim x "
        f"{size} bytes per token; a sliding window W keeps at most W tokens per layer"
    )
    print(
        "| model | attention | layers | q heads | kv heads | head dim | window | per token "
        "| tokens | cache | with MHA | saving |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['attention']} | {r['n_layer']} | {r['n_head']} "
            f"| {r['n_kv_head']} | {r['head_dim']} | {_window(r)} "
            f"| {human_bytes(r['bytes_per_token'])} | {r['tokens']:,} "
            f"| {human_bytes(r['bytes'])} | {human_bytes(r['mha_bytes'])} | {r['saving']:.0f}x |"
        )
    return 0


def _window(row: dict) -> str:
    """The window column: - (none), 4,096, or 4,096 in 3 of 24 layers."""
    if row["window"] is None:
        return "-"
    if row["window_layers"] == row["n_layer"]:
        return f"{row['window']:,}"
    return f"{row['window']:,} in {row['window_layers']} of {row['n_layer']} layers"
