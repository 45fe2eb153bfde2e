# %% [markdown]
# # 5. The Transformer, block by block
#
# `attento.trace` runs one forward pass and keeps every intermediate tensor. We follow the
# text through the bundled `dante` model (4 blocks, 4 heads, 128 numbers per token):
#
# embeddings → [LayerNorm → attention → residual → LayerNorm → MLP → residual] × 4 → logits.

# %%
import matplotlib.pyplot as plt
import torch

import attento

model, tok = attento.load_model("dante")
text = "Nel mezzo del cammin di nostra vita"
tr = attento.trace(model, tok, text)
pieces = [tok.decode([i]) for i in tok.encode(text)]
for name, tensor in tr.records.items():
    if name.startswith("blocks.") and not name.startswith("blocks.0."):
        continue  # the other blocks repeat block 0's names
    print(f"{name:30s} {tuple(tensor.shape)}")

# %% [markdown]
# ## 1. Embeddings
# Each token's row of the table (`embed.tok`) plus a vector for its position (`embed.pos`):
# the same word at two places must be told apart, and attention alone does not see order.

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, name in zip(axes, ["embed.tok", "embed.pos", "embed.sum"], strict=True):
    ax.imshow(tr.records[name][0].numpy(), aspect="auto", cmap="RdBu")
    ax.set_title(name)
    ax.set_yticks(range(len(pieces)), pieces)
    ax.set_xlabel("dimension")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Attention: softmax(Q·Kᵀ/√d + mask)·V
# Every token asks a question (query q), every token offers a label (key k) and content
# (value v). We recompute head 0's weights by hand from the recorded q and k and check them
# against the model's.

# %%
q = tr.records["blocks.0.attn.q"][0, 0]  # head 0: (tokens, head size)
k = tr.records["blocks.0.attn.k"][0, 0]
T, d = q.shape
scores = q @ k.T / d**0.5
causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # no peeking ahead
mine = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
theirs = tr.records["blocks.0.attn.weights"][0, 0]
print("same as the model:", torch.allclose(mine, theirs, atol=1e-5))
print("each row sums to 1:", torch.allclose(theirs.sum(-1), torch.ones(T)))

# %%
weights = tr.records["blocks.0.attn.weights"][0]
fig, axes = plt.subplots(1, weights.shape[0], figsize=(13, 3.4))
for h, ax in enumerate(axes):
    ax.imshow(weights[h].numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_title(f"block 0, head {h}")
    ax.set_xticks(range(T), pieces, rotation=90)
    ax.set_yticks(range(T), pieces if h == 0 else [])
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. The residual stream
# Each block *adds* what attention and the MLP computed to its input: x + attn(x), then
# + mlp(x). The vector of each token is a stream that every block reads and writes.
# Its size grows block by block:

# %%
stages = ["embed.sum"] + [
    f"blocks.{i}.{part}" for i in range(model.config.n_layer) for part in ("resid_mid", "out")
]
norms = torch.stack([tr.records[s][0].norm(dim=-1) for s in stages])  # (stages, tokens)
fig, ax = plt.subplots(figsize=(8, 3.5))
for t in range(T):
    ax.plot(norms[:, t].numpy(), marker=".", label=pieces[t])
ax.set_xticks(range(len(stages)), stages, rotation=60)
ax.set_ylabel("vector length")
ax.set_title("The residual stream, token by token")
ax.legend(fontsize=7, ncol=2)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. The MLP and the logits
# The MLP widens each vector (128 → 512), applies GELU, and narrows it back: where most of the
# weights, and much of the "knowledge", are. At the end the last normalised vector is
# compared with every row of the embedding table: one score (logit) per token of the
# vocabulary.

# %%
hidden = tr.records["blocks.0.mlp.act"][0]
print(
    "MLP hidden size",
    hidden.shape[-1],
    "- share of neurons ≈ 0:",
    float((hidden.abs() < 0.01).float().mean()),
)
logits = tr.records["logits"][0, -1]
top = torch.topk(logits, 5)
print("after", repr(text), "the model's favourites:", [tok.decode([int(i)]) for i in top.indices])
n_params = sum(p.numel() for p in model.parameters())
print(f"{n_params:,} weights in all")

# %% [markdown]
# ## Exercises
# 1. Which head of block 0 looks mostly at the previous token? Find one in a later block.
# 2. Recompute `blocks.0.attn.out` from `blocks.0.attn.heads` (hint: the model's
#    `blocks[0].attn` has the output projection; print the model to find its name).
# 3. Check that `blocks.0.resid_mid` equals `embed.sum + blocks.0.attn.out`.
# 4. The explainer shows all of this in the browser: `attento explain`.
