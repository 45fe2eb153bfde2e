# %% [markdown]
# # 4. RNN e CNN, e i loro limiti
#
# Prima del Transformer le sequenze erano lette da reti **ricorrenti** (RNN, LSTM): un token
# alla volta, comprimendo tutto ciò che è stato letto in un solo vettore nascosto, e da reti
# **convoluzionali** (CNN), che guardano una finestra fissa di vicini. Questo notebook mostra,
# con piccoli esperimenti numerici, i due limiti che l'attenzione elimina:
#
# 1. il gradiente di una RNN nel tempo si riduce (o esplode) in modo esponenziale, così è
#    difficile imparare da parole lontane; e deve procedere passo per passo, lenta da
#    addestrare;
# 2. una CNN vede solo fin dove arrivano le sue finestre sovrapposte.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import attento

# %% [markdown]
# ## Il gradiente che svanisce
# Una RNN calcola hₜ = tanh(W hₜ₋₁ + U xₜ). Il gradiente dell'ultimo stato rispetto al primo è
# un prodotto di una jacobiana per passo: quando la loro grandezza è sotto 1 si riduce in modo
# esponenziale con la distanza.

# %%
rng = np.random.default_rng(0)
size, steps = 32, 60
fig, ax = plt.subplots(figsize=(6, 3.5))
for scale in [0.5, 0.9, 1.1, 1.5]:
    W = rng.normal(0, scale / np.sqrt(size), (size, size))
    h, grad, norms = np.zeros(size), np.eye(size), []
    for _ in range(steps):
        h = np.tanh(W @ h + rng.normal(0, 1, size))
        grad = (
            np.diag(1 - h**2) @ W
        ) @ grad  # d h_t / d h_0, un fattore della regola della catena in più
        norms.append(np.linalg.norm(grad))
    ax.semilogy(range(1, steps + 1), norms, label=f"scala dei pesi {scale}")
ax.set_xlabel("distanza in token")
ax.set_ylabel("|d h_t / d h_0|")
ax.set_title("Una RNN dimentica: il gradiente nel tempo")
ax.legend()
plt.show()

# %% [markdown]
# ## Il campo recettivo di una CNN
# Una convoluzione causale con nucleo k vede k token; L strati sovrapposti ne vedono L·(k−1)+1.
# Per collegare due parole a 100 token di distanza una CNN ha bisogno di molti strati,
# l'attenzione di uno solo.

# %%
layers = np.arange(1, 13)
fig, ax = plt.subplots(figsize=(6, 3.5))
for k in [3, 5]:
    ax.plot(layers, layers * (k - 1) + 1, marker="o", label=f"CNN, nucleo {k}")
ax.plot(
    layers, np.full_like(layers, 128), "--", label="attenzione (contesto di 128 token di dante)"
)
ax.set_xlabel("strati")
ax.set_ylabel("token visti")
ax.set_title("Quanto lontano può guardare una posizione?")
ax.legend()
plt.show()

# %% [markdown]
# ## Che cosa fa invece l'attenzione
# In un Transformer ogni token guarda direttamente tutti quelli precedenti. Ecco i pesi di
# attenzione dell'ultimo token nel primo blocco di `dante`: raggiunge il primo token con la
# stessa facilità del vicino, in un passo solo.

# %%
model, tok = attento.load_model("dante")
text = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"
tr = attento.trace(model, tok, text)
weights = tr.records["blocks.0.attn.weights"][0]  # (heads, tokens, tokens)
pieces = [tok.decode([i]) for i in tok.encode(text)]
fig, ax = plt.subplots(figsize=(8, 3))
for h in range(weights.shape[0]):
    ax.plot(weights[h, -1].numpy(), marker=".", label=f"testa {h}")
ax.set_xticks(range(len(pieces)), pieces, rotation=70)
ax.set_ylabel("peso di attenzione")
ax.set_title(f"Dove guarda l'ultimo token {pieces[-1]!r} (blocco 0)")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## In sequenza contro in parallelo
# Una RNN non può calcolare hₜ prima di hₜ₋₁: T passi uno dopo l'altro. L'attenzione calcola
# tutte le posizioni con un solo prodotto di matrici. Una misura approssimativa dei due su
# questa macchina:

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
print(f"ricorrenza su {T} token: {rnn_s * 1e3:.2f} ms, attenzione: {attn_s * 1e3:.2f} ms")

# %% [markdown]
# ## Esercizi
# 1. Nel primo esperimento, quale scala dei pesi tiene il gradiente vicino a 1 più a lungo?
#    Che cosa aggiunge una LSTM per tenerlo lì (cerca il suo "forget gate")?
# 2. Quanti strati con nucleo 3 servono a una CNN per vedere 128 token?
# 3. Cambia `text` e il blocco (`blocks.3.attn.weights`). I blocchi successivi guardano più
#    lontano?
# 4. Esecuzioni più lunghe (facoltative, minuti): `attento train --preset tiny --arch lstm --out runs/lstm` contro il
#    `gpt` predefinito, e confronta le loro perdite di validazione.
