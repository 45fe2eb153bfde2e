# %% [markdown]
# # 2. Embedding: le parole come punti nello spazio
#
# Ogni id di token seleziona una riga di una tabella: un vettore di numeri, il suo
# **embedding**. L'addestramento sposta i vettori in modo che i token usati in contesti simili
# finiscano vicini. Qui leggiamo gli embedding del modello incluso `dante` (128 numeri per
# token) e misuriamo quanto sono vicine le parole con la **similarità del coseno**.

# %%
import matplotlib.pyplot as plt
import numpy as np

import attento

words = ["amore", "cuore", "occhi", "luce", "sole", "stelle", "inferno", "pena", "Virgilio"]
vectors = attento.embed(words, model="dante")  # una riga per parola: la media dei suoi token
print(vectors.shape)

# %% [markdown]
# ## Similarità del coseno
# cos(a, b) = a·b / (|a| |b|): 1 quando i vettori puntano nella stessa direzione, 0 quando
# non hanno relazione (perpendicolari), −1 quando sono opposti.

# %%
unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
similarity = unit @ unit.T

fig, ax = plt.subplots(figsize=(5.5, 4.5))
im = ax.imshow(similarity, cmap="viridis", vmin=-1, vmax=1)
ax.set_xticks(range(len(words)), words, rotation=60)
ax.set_yticks(range(len(words)), words)
fig.colorbar(im, label="similarità del coseno")
ax.set_title("Gli embedding di dante")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Una mappa in due dimensioni
# 128 dimensioni non si possono disegnare. L'analisi delle componenti principali (PCA) trova
# le due direzioni lungo cui i vettori variano di più e vi proietta ogni parola.

# %%
centered = vectors - vectors.mean(axis=0)
_, _, directions = np.linalg.svd(centered, full_matrices=False)
xy = centered @ directions[:2].T

fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(xy[:, 0], xy[:, 1])
for (x, y), word in zip(xy, words, strict=True):
    ax.annotate(word, (x, y), textcoords="offset points", xytext=(4, 4))
ax.set_xlabel("prima componente principale")
ax.set_ylabel("seconda componente principale")
ax.set_title("Le parole proiettate su un piano")
plt.show()

# %% [markdown]
# ## Le parole più vicine
# Quale delle nostre parole è la più vicina a ciascuna?

# %%
for i, word in enumerate(words):
    order = np.argsort(-similarity[i])
    nearest = [words[j] for j in order[1:3]]
    print(f"{word:9s} -> {nearest}")

# %% [markdown]
# Un piccolo modello addestrato per pochi minuti su un solo poema ha embedding grezzi; un
# codificatore di frasi come all-MiniLM-L6-v2 (`attento.embed(testi)` dopo
# `pip install 'attento[embeddings]'`) colloca intere frasi secondo il significato.
#
# ## Esercizi
# 1. Aggiungi parole a tua scelta alla lista. Compaiono i gruppi che ti aspetti?
# 2. Calcola la similarità di "re" e "regina" e di "re" e "selva". Quale è maggiore?
# 3. Ripeti con `model="shakespeare"` e parole inglesi. Un modello a caratteri fa la media dei
#    vettori delle lettere: che effetto ha sulle similarità?
# 4. Dal terminale: `attento similarity "il gatto" "il cane"` (serve l'extra embeddings).
