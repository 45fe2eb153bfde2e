# %% [markdown]
# # 8. GPT versus BERT
#
# Both are stacks of the same Transformer blocks. They differ in what a token may look at and
# in what they are trained to predict:
#
# | | GPT (decoder) | BERT (encoder) |
# |---|---|---|
# | attention | causal: only earlier tokens | bidirectional: every token |
# | pre-training | next token (CLM) | hidden tokens (MLM) |
# | good at | writing, continuing, chatting | understanding: classifying, searching, filling gaps |

# %%
import matplotlib.pyplot as plt
import numpy as np

import attento

model, tok = attento.load_model("dante")
text = "Nel mezzo del cammin di nostra vita"
tr = attento.trace(model, tok, text)
pieces = [tok.decode([i]) for i in tok.encode(text)]
T = len(pieces)

# %% [markdown]
# ## The masks
# GPT's scores get −∞ above the diagonal before the softmax: a token cannot look at the
# future, or predicting the next token would be cheating. BERT has no such mask.

# %%
scaled = tr.records["blocks.0.attn.scaled_masked"][0, 0].numpy()
gpt_mask = np.isfinite(scaled)  # True where a token may look
bert_mask = np.ones((T, T), dtype=bool)
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, mask, title in zip(
    axes, [gpt_mask, bert_mask], ["GPT: causal", "BERT: bidirectional"], strict=True
):
    ax.imshow(mask, cmap="Greens", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xticks(range(T), pieces, rotation=90)
    ax.set_yticks(range(T), pieces)
    ax.set_xlabel("looks at")
plt.tight_layout()
plt.show()
print("GPT's first token sees only itself:", gpt_mask[0].sum() == 1)

# %% [markdown]
# ## What each one learns from a sentence
# A GPT is asked to predict every position (each next token) at once; a BERT only the ~15% it
# hid. Per sentence, CLM gives more training signal, which is one reason MLM learns more
# slowly at first; in exchange each BERT prediction sees both sides.

# %%
lengths = np.array([16, 64, 128, 512])
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(lengths, lengths - 1, marker="o", label="GPT (CLM): predictions per window")
ax.plot(lengths, np.round(0.15 * lengths), marker="o", label="BERT (MLM): predictions per window")
ax.set_xlabel("tokens in the window")
ax.set_ylabel("tokens predicted")
ax.legend()
plt.show()

# %% [markdown]
# ## Context from both sides
# Take "Nel mezzo del ___ di nostra vita". A GPT filling the gap sees only "Nel mezzo del"; a
# BERT also sees "di nostra vita". Here is what GPT proposes from the left side alone:

# %%
report = attento.next_token(model, tok, "Nel mezzo del", n=5)
print([c.text for c in report.candidates])

# %% [markdown]
# ## Exercises
# 1. Count the True cells of each mask for T tokens: T(T+1)/2 versus T². What does that mean
#    for the cost of attention?
# 2. Why can a GPT generate text one token at a time and a BERT cannot (easily)?
# 3. Which would you use to find the most similar sentence in a database? Why?
# 4. Optional (30 minutes of CPU): `attento train --preset bert-cpu --out runs/bert`, then
#    `attento fill-mask "Nel mezzo del [MASK] di nostra vita" --model runs/bert`.
