# %% [markdown]
# # 7. Pre-training: causal (CLM) and masked (MLM) language modelling
#
# Pre-training needs no labels: the text is its own answer key.
#
# - **CLM** (GPT): predict each next token from the ones before it.
# - **MLM** (BERT): hide ~15% of the tokens and predict them from both sides.
#
# The loss is the cross-entropy: −log p(right token), in nats. A model that guesses at random
# among V tokens scores log V; learning brings it down. We measure a trained model, then train
# a tiny one for a few seconds and watch its loss fall.

# %%
import csv

import matplotlib.pyplot as plt
import numpy as np

import attento

model, tok = attento.load_model("dante")
verse = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"
words = verse.split()
shuffled = " ".join(np.random.default_rng(0).permutation(words))
for name, text in [("the verse", verse), ("its words shuffled", shuffled)]:
    score = attento.evaluate(model, tok, text)
    print(f"{name:20s} loss {score.loss:.2f} nats/token, perplexity {score.perplexity:.1f}")
print(f"random guessing: {np.log(tok.vocab_size):.2f} nats/token")

# %% [markdown]
# ## Training a tiny GPT
# `attento.train("tiny", ...)` trains a 2-block model on a piece of text. Few steps on one
# CPU core: the point is the falling curve, not the poetry.

# %%
corpus = (verse + "\n") * 200
result = attento.train(
    "tiny", "runs/ch7", text=corpus, max_steps=30, eval_interval=15, eval_batches=2
)
print(f"{result.steps} steps, validation loss {result.final_val_loss:.2f}")
with open("runs/ch7/log.csv") as f:
    rows = list(csv.DictReader(f))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot([int(r["step"]) for r in rows], [float(r["train_loss"]) for r in rows], marker=".")
ax.axhline(
    np.log(len(set(corpus))), color="grey", ls="--", label="random guess among its characters"
)
ax.set_xlabel("step")
ax.set_ylabel("training loss (nats/token)")
ax.set_title("A tiny GPT learns one verse")
ax.legend()
plt.show()

# %% [markdown]
# ## Masked language modelling, by hand
# BERT's training examples: 15% of the positions are chosen; of those 80% become `[MASK]`,
# 10% a random token, 10% stay. The loss is computed only on the chosen positions.

# %%
rng = np.random.default_rng(0)
ids = tok.encode(verse)
chosen = rng.random(len(ids)) < 0.15
pieces = []
for i, chose in zip(ids, chosen, strict=True):
    if not chose:
        pieces.append(tok.decode([i]))
        continue
    roll = rng.random()
    if roll < 0.8:
        pieces.append("[MASK]")
    elif roll < 0.9:
        pieces.append(tok.decode([int(rng.integers(tok.vocab_size))]))
    else:
        pieces.append(tok.decode([i]))
print("".join(pieces))
print(f"{chosen.sum()} of {len(ids)} positions are asked")

# %% [markdown]
# ## Exercises
# 1. Why is the shuffled verse's loss higher although it has exactly the same words?
# 2. Train for 60 steps instead of 30: how far does the validation loss fall?
# 3. Why does MLM sometimes keep the right token, or put a random one, instead of `[MASK]`?
# 4. Longer (optional, 30 minutes): `attento train --preset bert-cpu --out runs/bert`, then
#    `attento fill-mask "Nel mezzo del [MASK] di nostra vita" --model runs/bert`.
