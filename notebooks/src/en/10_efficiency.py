# %% [markdown]
# # 10. Efficiency: the KV cache, precision and size
#
# Generating a token costs a forward pass. Three ideas make it cheaper:
#
# - the **KV cache**: keys and values of past tokens do not change, so keep them instead of
#   recomputing the whole prompt at each step;
# - **lower precision**: 16-bit or 8-bit numbers instead of 32-bit floats (half or a quarter of
#   the memory);
# - **smaller models**: parameters are memory, and memory bandwidth is time.

# %%
import time

import matplotlib.pyplot as plt
import torch

import attento
from attento.models.kv_memory import PUBLIC, human_bytes

model, tok = attento.load_model("dante")
n_params = sum(p.numel() for p in model.parameters())
print(f"{n_params:,} parameters")

# %% [markdown]
# ## With and without the KV cache

# %%
timings = {}
for use_cache in (True, False):
    start = time.perf_counter()
    attento.generate(model, tok, "Nel mezzo", max_new_tokens=100, seed=0, use_cache=use_cache)
    timings["with cache" if use_cache else "without cache"] = time.perf_counter() - start
same = attento.generate(
    model, tok, "Nel mezzo", 40, greedy=True, use_cache=True
) == attento.generate(model, tok, "Nel mezzo", 40, greedy=True, use_cache=False)
print({k: f"{v:.2f} s" for k, v in timings.items()}, "same text:", same)

# %% [markdown]
# ## The cache's size
# Per token the cache holds, in each block, one key and one value vector per head:
# 2 × layers × n_embd numbers. For a big model and a long context it outgrows the weights.

# %%
cfg = model.config
per_token = 2 * cfg.n_layer * cfg.n_embd * 4  # float32 bytes
contexts = [128, 1024, 8192, 32768]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(
    contexts, [c * per_token / 2**20 for c in contexts], marker="o", label="KV cache, dante's shape"
)
ax.axhline(n_params * 4 / 2**20, color="grey", ls="--", label="dante's weights (float32)")
ax.set_xscale("log", base=2)
ax.set_xlabel("tokens in the context")
ax.set_ylabel("MiB")
ax.legend()
ax.set_title("Memory of the KV cache")
plt.show()

# %% [markdown]
# ## Shared heads and sliding windows
# Grouped-query attention lets a group of query heads share one key/value head (multi-query
# attention: one for all), so the cache shrinks by n_head / n_kv_head. A sliding window of W
# tokens (Mistral) keeps only the last W per layer, so the cache stops growing at W.
# `attento kv-cache` prints the same figures; only the published config.json is used.

# %%
for shape in PUBLIC.values():
    m = shape.memory(dtype_bytes=2)  # bfloat16
    print(
        f"{shape.name:16s} {m['attention']:8s} window {m['window'] or '-'}: "
        f"{human_bytes(m['bytes_full'])} at {m['context']:,} tokens, "
        f"with MHA {human_bytes(m['mha_bytes_full'])}"
    )

# %% [markdown]
# ## Precision: float32, bfloat16, int8
# Rounding a weight matrix to int8 with one scale per row, and measuring the error:

# %%
w = model.blocks[0].mlp.fc.weight.detach()
scale = w.abs().amax(dim=1, keepdim=True) / 127
w8 = torch.round(w / scale).clamp(-127, 127).to(torch.int8)
back = w8.float() * scale
rel = ((back - w).norm() / w.norm()).item()
bf16 = ((w.to(torch.bfloat16).float() - w).norm() / w.norm()).item()
print(f"relative error: bfloat16 {bf16:.4f}, int8 {rel:.4f}")
for dtype, size in [("float32", 4), ("bfloat16", 2), ("int8", 1)]:
    print(f"{dtype:9s} {n_params * size / 2**20:6.2f} MiB")

# %%
loaded16, _ = attento.load_model("dante", dtype="bfloat16")
verse = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"
print(f"loss float32 {attento.evaluate(model, tok, verse).loss:.3f}, ", end="")
print(f"bfloat16 {attento.evaluate(loaded16, tok, verse).loss:.3f}")

# %% [markdown]
# ## Exercises
# 1. How does the time without cache grow with `max_new_tokens`? And with it?
# 2. A 7-billion-parameter model: how many GB in float32, bfloat16 and int4?
# 3. Quantize with one scale for the whole matrix instead of one per row: is the error larger?
# 4. Terminal: `attento kv-cache --help`.
# 5. `attento.generate(model, tok, "Nel mezzo", 100, greedy=True, compile=True)` decodes with a
#    compiled step: time the first call and a second one. What did compiling cost, and is the
#    text the same as without `compile`? (Terminal: `attento generate --compile`.)
