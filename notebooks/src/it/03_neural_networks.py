# %% [markdown]
# # 3. Le reti neurali e il neurone
#
# Un neurone artificiale moltiplica ogni ingresso xᵢ per un peso wᵢ, somma un bias b e applica
# una **funzione di attivazione** f:  y = f(Σ xᵢwᵢ + b). Una rete è fatta di molti neuroni a
# strati; addestrarla vuol dire spostare un poco i pesi perché l'uscita si avvicini alla
# risposta (discesa del gradiente).
#
# Questo notebook calcola un neurone a mano, disegna le attivazioni e addestra una piccola
# rete su XOR, il problema che un neurone da solo non può risolvere. I gemelli da terminale:
# `attento neuron` e `attento nn-demo`.

# %%
import matplotlib.pyplot as plt
import numpy as np

x = np.array([0.5, -1.0, 2.0])  # ingressi (i dendriti)
w = np.array([0.8, 0.2, -0.5])  # pesi (le sinapsi)
b = 0.1
z = x @ w + b
print("prodotti", x * w, "somma + bias z =", round(float(z), 3))
print("gradino (si attiva?)", int(z > 0), " sigmoid", round(float(1 / (1 + np.exp(-z))), 3))

# %% [markdown]
# ## Le attivazioni
# Il neurone del cervello è "tutto o niente", un gradino. Un gradino non ha una pendenza
# utile, quindi la discesa del gradiente non sa in che direzione spostare un peso: le reti
# usano invece funzioni lisce.

# %%
z = np.linspace(-4, 4, 400)
activations = {
    "gradino": (z > 0).astype(float),
    "sigmoid": 1 / (1 + np.exp(-z)),
    "tanh": np.tanh(z),
    "ReLU": np.maximum(0, z),
    "GELU": 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
}
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, y in activations.items():
    ax.plot(z, y, label=name)
ax.axhline(0, color="grey", lw=0.5)
ax.set_xlabel("z = Σ xw + b")
ax.set_ylabel("f(z)")
ax.set_ylim(-1.2, 2.5)
ax.legend()
ax.set_title("Funzioni di attivazione")
plt.show()

# %% [markdown]
# ## XOR: un neurone non basta
# XOR vale 1 quando esattamente un ingresso vale 1. Nessuna retta separa le sue due classi,
# ma due strati sì. Qui sotto una rete 2 → 8 → 1 lo impara con i gradienti scritti a mano
# (la retropropagazione è la regola della catena, applicata strato per strato).

# %%
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)
rng = np.random.default_rng(0)
W1, b1 = rng.normal(0, 1, (2, 8)), np.zeros(8)
W2, b2 = rng.normal(0, 1, (8, 1)), np.zeros(1)
lr, losses = 0.5, []
for _ in range(2000):
    h = np.tanh(X @ W1 + b1)  # strato nascosto
    p = 1 / (1 + np.exp(-(h @ W2 + b2)))  # neurone d'uscita, una probabilità
    losses.append(float(np.mean(-(Y * np.log(p) + (1 - Y) * np.log(1 - p)))))
    dlogit = (p - Y) / len(X)  # gradiente dell'entropia incrociata attraverso la sigmoide
    dW2, db2 = h.T @ dlogit, dlogit.sum(0)
    dh = dlogit @ W2.T * (1 - h**2)  # indietro attraverso tanh
    dW1, db1 = X.T @ dh, dh.sum(0)
    W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
print("previsioni", p.ravel().round(3), "obiettivi", Y.ravel())

# %%
grid = np.linspace(-0.5, 1.5, 200)
gx, gy = np.meshgrid(grid, grid)
points = np.c_[gx.ravel(), gy.ravel()]
out = 1 / (1 + np.exp(-(np.tanh(points @ W1 + b1) @ W2 + b2)))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
ax1.plot(losses)
ax1.set_xlabel("passo")
ax1.set_ylabel("perdita (entropia incrociata)")
ax1.set_title("Imparare XOR")
ax2.contourf(gx, gy, out.reshape(gx.shape), levels=20, cmap="coolwarm")
ax2.scatter(X[:, 0], X[:, 1], c=Y.ravel(), cmap="coolwarm", edgecolors="k", s=80)
ax2.set_title("Che cosa ha imparato la rete")
plt.show()

# %% [markdown]
# ## Esercizi
# 1. Cambia i pesi del neurone perché si attivi con x = [0.5, −1, 2]. Quale peso conta di
#    più, e perché?
# 2. Sostituisci `np.tanh` nello strato nascosto con ReLU (ricorda di cambiarne la derivata).
#    XOR si addestra ancora?
# 3. Usa 1 neurone nascosto invece di 8. Che cosa succede, e perché?
# 4. Prova i tassi di apprendimento 0.05 e 5. Disegna le curve di perdita affiancate.
# 5. Dal terminale: `attento neuron --inputs 1,0 --weights 0.6,0.6 --bias -0.5` e
#    `attento nn-demo`.
