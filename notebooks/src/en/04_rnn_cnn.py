# %% [markdown]
# # 4. RNNs and CNNs, and their limits
#
# Before the Transformer, sequences were read by **recurrent** networks (RNN, LSTM): one token
# at a time, squeezing everything read so far into one hidden vector, and by **convolutional**
# networks (CNN), which look at a fixed window of neighbours. This notebook shows, with small
# numerical experiments, the two limits that attention removes:
#
# 1. an RNN's gradient through time shrinks (or explodes) exponentially, so distant words are
#    hard to learn from; and it must run step by step, which is slow to train;
# 2. a CNN sees only as far as its stacked windows reach.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import attento

# %% [markdown]
# ## The vanishing gradient
# An RNN computes hₜ = tanh(W hₜ₋₁ + U xₜ). The gradient of the last state with respect to
# the first one is a product of one Jacobian per step: when their size is below 1 it shrinks
# exponentially with the distance.

# %%
rng = np.random.default_rng(0)
size, steps = 32, 60
fig, ax = plt.subplots(figsize=(6, 3.5))
for scale in [0.5, 0.9, 1.1, 1.5]:
    W = rng.normal(0, scale / np.sqrt(size), (size, size))
    h, grad, norms = np.zeros(size), np.eye(size), []
    for _ in range(steps):
        h = np.tanh(W @ h + rng.normal(0, 1, size))
        grad = (np.diag(1 - h**2) @ W) @ grad  # d h_t / d h_0, one chain-rule factor more
        norms.append(np.linalg.norm(grad))
    ax.semilogy(range(1, steps + 1), norms, label=f"weights scale {scale}")
ax.set_xlabel("distance in tokens")
ax.set_ylabel("|d h_t / d h_0|")
ax.set_title("An RNN forgets: the gradient through time")
ax.legend()
plt.show()

# %% [markdown]
# ## A CNN's receptive field
# A causal convolution with kernel k sees k tokens; L stacked layers see L·(k−1)+1. To link
# two words 100 tokens apart a CNN needs many layers, attention needs one.

# %%
layers = np.arange(1, 13)
fig, ax = plt.subplots(figsize=(6, 3.5))
for k in [3, 5]:
    ax.plot(layers, layers * (k - 1) + 1, marker="o", label=f"CNN, kernel {k}")
ax.plot(layers, np.full_like(layers, 128), "--", label="attention (dante's 128-token context)")
ax.set_xlabel("layers")
ax.set_ylabel("tokens seen")
ax.set_title("How far can one position look?")
ax.legend()
plt.show()

# %% [markdown]
# ## What attention does instead
# In a Transformer every token looks directly at every earlier one. Here are the attention
# weights of the last token in the first block of `dante`: it can reach the first token as
# easily as its neighbour, in one step.

# %%
model, tok = attento.load_model("dante")
text = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"
tr = attento.trace(model, tok, text)
weights = tr.records["blocks.0.attn.weights"][0]  # (heads, tokens, tokens)
pieces = [tok.decode([i]) for i in tok.encode(text)]
fig, ax = plt.subplots(figsize=(8, 3))
for h in range(weights.shape[0]):
    ax.plot(weights[h, -1].numpy(), marker=".", label=f"head {h}")
ax.set_xticks(range(len(pieces)), pieces, rotation=70)
ax.set_ylabel("attention weight")
ax.set_title(f"Where the last token {pieces[-1]!r} looks (block 0)")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Sequential versus parallel
# An RNN cannot compute hₜ before hₜ₋₁: T steps one after the other. Attention computes all
# positions with one matrix product. A rough timing of the two on this machine:

# %%
T, C = 256, 128
x = torch.randn(T, C)
W = torch.randn(C, C) / C**0.5
start = time.perf_counter()
h = torch.zeros(C)
for t in range(T):
    h = torch.tanh(W @ h + x[t])
rnn_s = time.perf_counter() - start
start = time.perf_counter()
scores = torch.softmax((x @ x.T) / C**0.5, dim=-1) @ x
attn_s = time.perf_counter() - start
print(f"recurrence over {T} tokens: {rnn_s * 1e3:.2f} ms, attention: {attn_s * 1e3:.2f} ms")

# %% [markdown]
# ## Exercises
# 1. In the first experiment, which weight scale keeps the gradient near 1 for longest? What
#    does an LSTM add to keep it there (look up its "forget gate")?
# 2. How many layers of kernel 3 does a CNN need to see 128 tokens?
# 3. Change `text` and the block (`blocks.3.attn.weights`). Do later blocks look farther?
# 4. Longer runs (optional, minutes): `attento train --preset tiny --arch lstm --out runs/lstm` against
#    the default `gpt`, and compare their validation losses.
