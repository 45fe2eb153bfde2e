# %% [markdown]
# # 5. Il Transformer, blocco per blocco
#
# `attento.trace` esegue un passaggio in avanti e tiene ogni tensore intermedio. Seguiamo il
# testo attraverso il modello incluso `dante` (4 blocchi, 4 teste, 128 numeri per token):
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
        continue  # gli altri blocchi ripetono i nomi del blocco 0
    print(f"{name:30s} {tuple(tensor.shape)}")

# %% [markdown]
# ## 1. Embedding
# La riga della tabella di ogni token (`embed.tok`) più un vettore per la sua posizione
# (`embed.pos`): la stessa parola in due posti va distinta, e l'attenzione da sola non vede
# l'ordine.

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, name in zip(axes, ["embed.tok", "embed.pos", "embed.sum"], strict=True):
    ax.imshow(tr.records[name][0].numpy(), aspect="auto", cmap="RdBu")
    ax.set_title(name)
    ax.set_yticks(range(len(pieces)), pieces)
    ax.set_xlabel("dimensione")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Attenzione: softmax(Q·Kᵀ/√d + maschera)·V
# Ogni token pone una domanda (query q), ogni token offre un'etichetta (chiave k) e un
# contenuto (valore v). Ricalcoliamo a mano i pesi della testa 0 dai q e k registrati e li
# confrontiamo con quelli del modello.

# %%
q = tr.records["blocks.0.attn.q"][0, 0]  # testa 0: (token, dimensione della testa)
k = tr.records["blocks.0.attn.k"][0, 0]
T, d = q.shape
scores = q @ k.T / d**0.5
causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # vietato sbirciare avanti
mine = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
theirs = tr.records["blocks.0.attn.weights"][0, 0]
print("uguali a quelli del modello:", torch.allclose(mine, theirs, atol=1e-5))
print("ogni riga somma a 1:", torch.allclose(theirs.sum(-1), torch.ones(T)))

# %%
weights = tr.records["blocks.0.attn.weights"][0]
fig, axes = plt.subplots(1, weights.shape[0], figsize=(13, 3.4))
for h, ax in enumerate(axes):
    ax.imshow(weights[h].numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_title(f"blocco 0, testa {h}")
    ax.set_xticks(range(T), pieces, rotation=90)
    ax.set_yticks(range(T), pieces if h == 0 else [])
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Il flusso residuo
# Ogni blocco *somma* al suo ingresso ciò che hanno calcolato l'attenzione e l'MLP:
# x + attn(x), poi + mlp(x). Il vettore di ogni token è un flusso che ogni blocco legge e
# scrive. La sua lunghezza cresce blocco dopo blocco:

# %%
stages = ["embed.sum"] + [
    f"blocks.{i}.{part}" for i in range(model.config.n_layer) for part in ("resid_mid", "out")
]
norms = torch.stack([tr.records[s][0].norm(dim=-1) for s in stages])  # (stages, tokens)
fig, ax = plt.subplots(figsize=(8, 3.5))
for t in range(T):
    ax.plot(norms[:, t].numpy(), marker=".", label=pieces[t])
ax.set_xticks(range(len(stages)), stages, rotation=60)
ax.set_ylabel("lunghezza del vettore")
ax.set_title("Il flusso residuo, token per token")
ax.legend(fontsize=7, ncol=2)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. L'MLP e i logit
# L'MLP allarga ogni vettore (128 → 512), applica GELU e lo restringe di nuovo: lì stanno la
# maggior parte dei pesi e buona parte della "conoscenza". Alla fine l'ultimo vettore
# normalizzato è confrontato con ogni riga della tabella degli embedding: un punteggio (logit)
# per ogni token del vocabolario.

# %%
hidden = tr.records["blocks.0.mlp.act"][0]
print(
    "dimensione nascosta dell'MLP",
    hidden.shape[-1],
    "- quota di neuroni ≈ 0:",
    float((hidden.abs() < 0.01).float().mean()),
)
logits = tr.records["logits"][0, -1]
top = torch.topk(logits, 5)
print("after", repr(text), "i preferiti del modello:", [tok.decode([int(i)]) for i in top.indices])
n_params = sum(p.numel() for p in model.parameters())
print(f"{n_params:,} pesi in tutto")

# %% [markdown]
# ## Esercizi
# 1. Quale testa del blocco 0 guarda soprattutto il token precedente? Trovane una in un blocco
#    successivo.
# 2. Ricalcola `blocks.0.attn.out` da `blocks.0.attn.heads` (suggerimento: `blocks[0].attn`
#    del modello ha la proiezione d'uscita; stampa il modello per trovarne il nome).
# 3. Verifica che `blocks.0.resid_mid` sia uguale a `embed.sum + blocks.0.attn.out`.
# 4. L'explainer mostra tutto questo nel browser: `attento explain`.
