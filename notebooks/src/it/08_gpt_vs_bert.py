# %% [markdown]
# # 8. GPT contro BERT
#
# Sono entrambi pile degli stessi blocchi Transformer. Differiscono in che cosa un token può
# guardare e in che cosa imparano a prevedere:
#
# | | GPT (decoder) | BERT (encoder) |
# |---|---|---|
# | attenzione | causale: solo i token precedenti | bidirezionale: tutti i token |
# | pre-addestramento | prossimo token (CLM) | token nascosti (MLM) |
# | bravo a | scrivere, continuare, conversare | capire: classificare, cercare, riempire buchi |

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
# ## Le maschere
# I punteggi di GPT ricevono −∞ sopra la diagonale prima della softmax: un token non può
# guardare il futuro, altrimenti prevedere il prossimo token sarebbe barare. BERT non ha questa
# maschera.

# %%
scaled = tr.records["blocks.0.attn.scaled_masked"][0, 0].numpy()
gpt_mask = np.isfinite(scaled)  # True dove un token può guardare
bert_mask = np.ones((T, T), dtype=bool)
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, mask, title in zip(
    axes, [gpt_mask, bert_mask], ["GPT: causale", "BERT: bidirezionale"], strict=True
):
    ax.imshow(mask, cmap="Greens", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xticks(range(T), pieces, rotation=90)
    ax.set_yticks(range(T), pieces)
    ax.set_xlabel("guarda")
plt.tight_layout()
plt.show()
print("il primo token di GPT vede solo sé stesso:", gpt_mask[0].sum() == 1)

# %% [markdown]
# ## Che cosa impara ciascuno da una frase
# A un GPT si chiede di prevedere ogni posizione (ogni prossimo token) in una volta; a un BERT
# solo il 15% circa che ha nascosto. Per frase, il CLM dà più segnale di addestramento, uno dei
# motivi per cui l'MLM all'inizio impara più lentamente; in cambio ogni previsione di BERT vede
# entrambi i lati.

# %%
lengths = np.array([16, 64, 128, 512])
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(lengths, lengths - 1, marker="o", label="GPT (CLM): previsioni per finestra")
ax.plot(lengths, np.round(0.15 * lengths), marker="o", label="BERT (MLM): previsioni per finestra")
ax.set_xlabel("token nella finestra")
ax.set_ylabel("token previsti")
ax.legend()
plt.show()

# %% [markdown]
# ## Il contesto da entrambi i lati
# Prendi "Nel mezzo del ___ di nostra vita". Un GPT che riempie il buco vede solo "Nel mezzo
# del"; un BERT vede anche "di nostra vita". Ecco che cosa propone GPT dal solo lato sinistro:

# %%
report = attento.next_token(model, tok, "Nel mezzo del", n=5)
print([c.text for c in report.candidates])

# %% [markdown]
# ## Esercizi
# 1. Conta le celle True di ogni maschera per T token: T(T+1)/2 contro T². Che cosa significa
#    per il costo dell'attenzione?
# 2. Perché un GPT può generare testo un token alla volta e un BERT non (facilmente)?
# 3. Quale useresti per trovare la frase più simile in un archivio? Perché?
# 4. Facoltativo (30 minuti di CPU): `attento train --preset bert-cpu --out runs/bert`, poi
#    `attento fill-mask "Nel mezzo del [MASK] di nostra vita" --model runs/bert`.
