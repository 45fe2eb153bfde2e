"""Quantized weights: size, generation speed and held-out loss against float32, in one run.

Models: the bundled `dante` (BPE) and `shakespeare` (characters), 4 layers x 128, and a
random 6 layers x 6 heads x 384 (vocab 65, block 256, as in bench/generate.py), whose
matrices (42 MB in float32) no longer fit in the CPU caches. Variants, each of every Linear
layer but the output layer tied to the embeddings (see attento/models/quantize.py):

- fp32; bf16 (the whole model in bfloat16);
- int8 per-channel with three kernels: dequant (rebuild float32, then matmul), int8pack
  (torch's `_weight_int8pack_mm`), fbgemm (the dynamic int8 kernel, also rounds activations);
- torch.ao `quantize_dynamic` (per-tensor int8 weights, fbgemm), the library's own path;
- int4, groups of 32, with two kernels: dequant and int4pack (`_weight_int4pack_mm_for_cpu`).

Speed follows bench/generate.py: batch 1, a 1-token prompt, 200 new tokens with the KV cache
(or fewer, to fit a model's context: no window slides), top-k 50 sampling, one
torch thread, process CPU time, interleaved best of N. `speed / HF` divides by Hugging Face
`generate` on the same float32 weights (exported with `GPT.export_hf`), timed in the same
interleaved run.

Loss: every token of the held-out split (train/evaluate.py `clm_score`), once per way of
storing the weights (kernels that compute with the same integers give the same loss to float
rounding). The random model is scored on the first 8,192 tokens of tinyshakespeare's split
with a character tokenizer (the whole split takes too long on a shared 2-core machine); its
loss level means nothing. `KL from fp32`: the mean KL divergence of each variant's next-token
distribution from float32's on the first 8 windows of the split; it is more sensitive than the
loss, which a small perturbation can move either way.

    .venv/bin/python bench/quantize.py [--repeats 3] [--no-write]
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from attento.data.corpus import load_corpus
from attento.generate import generate
from attento.models import GPT, GPTConfig
from attento.models.folder import load_model
from attento.models.quantize import file_bytes, model_bytes, quantize
from attento.tokenize.char import CharTokenizer
from attento.train.config import preset
from attento.train.evaluate import clm_score, validation_split
from results import write_section
from timing import best_times

NEW_TOKENS, TOP_K = 200, 50
RANDOM_EVAL_TOKENS = 8192
KL_WINDOWS = 8  # windows of the held-out split on which each variant's KL from fp32 is taken
VARIANTS = {  # name -> (how the weights are stored, whose loss it shares)
    "fp32": "fp32",
    "bf16": "bf16",
    "int8 dequant": "int8",
    "int8 int8pack": "int8",
    "int8 fbgemm": "int8 + int8 activations",
    "torch.ao dynamic": "torch.ao int8 (per tensor) + activations",
    "int4 dequant": "int4",
    "int4 int4pack": "int4",
}


def ao_dynamic(model: nn.Module) -> nn.Module:
    """torch.ao's dynamic int8 quantization of the same Linear layers as ours."""
    names = {
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and m.weight is not model.embed.tok.weight
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(copy.deepcopy(model), dict.fromkeys(names, default_dynamic_qconfig))


def variant(model: GPT, name: str) -> nn.Module:
    if name == "fp32":
        return model
    if name == "bf16":
        return copy.deepcopy(model).to(torch.bfloat16)
    if name == "torch.ao dynamic":
        return ao_dynamic(model)
    storage, kernel = name.split()
    return quantize(model, 8 if storage == "int8" else 4, kernel=kernel)


def subjects() -> dict[str, tuple[GPT, object, list[int]]]:
    """name -> (model, tokenizer, held-out tokens)."""
    out = {}
    for name in ("dante", "shakespeare"):
        model, tokenizer = load_model(name)
        tokens = tokenizer.encode(load_corpus(preset(name).corpus))
        out[name] = (model, tokenizer, validation_split(tokens).tolist())
    text = load_corpus("tinyshakespeare")
    tokenizer = CharTokenizer.from_text(text)
    torch.manual_seed(0)
    model = GPT(GPTConfig(tokenizer.vocab_size, 256, 6, 6, 384)).eval()
    tokens = validation_split(tokenizer.encode(text))[:RANDOM_EVAL_TOKENS].tolist()
    out["random 6x6x384"] = (model, tokenizer, tokens)
    return out


def hf_generate(model: GPT, idx: torch.Tensor, new: int) -> Callable[[], object]:
    """Hugging Face `generate` on the same float32 weights, as bench/generate.py runs it."""
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        hf = GPT2LMHeadModel.from_pretrained(model.export_hf(tmp)).eval()

    def run() -> None:
        with torch.inference_mode():
            hf.generate(
                idx,
                attention_mask=torch.ones_like(idx),
                do_sample=True,
                top_k=TOP_K,
                max_new_tokens=new,
                min_new_tokens=new,
                pad_token_id=0,
            )

    return run


@torch.inference_mode()
def mean_kl(model: nn.Module, rows: torch.Tensor, reference: torch.Tensor) -> float:
    """KL(fp32 || this variant) of the next-token distributions, in nats, mean over positions."""
    logq = F.log_softmax(model(rows).float(), dim=-1)
    return float((reference.exp() * (reference - logq)).sum(-1).mean())


def bench_model(model: GPT, tokenizer: object, tokens: list[int], repeats: int) -> list[dict]:
    models = {name: variant(model, name) for name in VARIANTS}
    idx = torch.tensor([[0]])
    new = min(NEW_TOKENS, model.config.block_size - 1)

    def run(m: nn.Module):
        return lambda: generate(m, idx, new, top_k=TOP_K, seed=0)

    runs = {n: run(m) for n, m in models.items()} | {"hf": hf_generate(model, idx, new)}
    best = best_times(runs, repeats, clock=time.process_time)
    block = model.config.block_size
    rows_kl = torch.tensor(tokens[: KL_WINDOWS * block]).view(KL_WINDOWS, block)
    with torch.inference_mode():
        reference = F.log_softmax(model(rows_kl), dim=-1)
    losses: dict[str, float] = {}
    rows = []
    for name, m in models.items():
        storage = VARIANTS[name]
        if storage not in losses:
            losses[storage] = clm_score(m, tokens, tokenizer, batch_size=16).loss
        kl = mean_kl(m, rows_kl, reference)
        print(f"  {name}: {new / best[name]:.0f} tok/s, loss {losses[storage]:.4f}", flush=True)
        rows.append(
            {
                "variant": name,
                "memory": model_bytes(m) if name != "torch.ao dynamic" else None,
                "file": file_bytes(m) if name != "torch.ao dynamic" else None,
                "tok_s": new / best[name],
                "hf_tok_s": new / best["hf"],
                "loss": losses[storage],
                "kl": kl,
            }
        )
    return rows


def table(results: dict[str, list[dict]]) -> str:
    lines = [
        "| model | variant | memory | file | size / fp32 | tok/CPU-s | speed / fp32 | speed / HF "
        "| held-out loss | Δ loss vs fp32 | KL from fp32 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, rows in results.items():
        fp32 = rows[0]
        for r in rows:
            size = "n/a" if r["memory"] is None else f"{r['memory'] / 1e6:.2f} MB"
            disk = "n/a" if r["file"] is None else f"{r['file'] / 1e6:.2f} MB"
            ratio = "n/a" if r["memory"] is None else f"{r['memory'] / fp32['memory']:.2f}"
            lines.append(
                f"| {model} | {r['variant']} | {size} | {disk} | {ratio} | {r['tok_s']:.0f} "
                f"| {r['tok_s'] / fp32['tok_s']:.2f}x | {r['tok_s'] / r['hf_tok_s']:.2f}x "
                f"| {r['loss']:.4f} | {r['loss'] - fp32['loss']:+.4f} | {r['kl']:.1e} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {}
    for name, (model, tokenizer, tokens) in subjects().items():
        print(f"{name}: {len(tokens):,} held-out tokens", flush=True)
        results[name] = bench_model(model, tokenizer, tokens, args.repeats)
    md = table(results)
    print(md)
    if not args.no_write:
        command = "python bench/quantize.py " + " ".join(sys.argv[1:])
        write_section(
            "quantize.py",
            f"`{command.strip()}` (torch {torch.__version__}, 1 thread, CPU time, best of "
            f"{args.repeats}; generation: batch 1, 1-token prompt, "
            f"top-k {TOP_K}, {NEW_TOKENS} new tokens or the context; loss: every token of the held-out split, nats/token)\n\n{md}\n",
        )


if __name__ == "__main__":
    main()
