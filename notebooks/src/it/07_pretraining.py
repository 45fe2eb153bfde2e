# %% [markdown]
# # 7. Pre-addestramento: modello linguistico causale (CLM) e mascherato (MLM)
#
# Il pre-addestramento non ha bisogno di etichette: il testo è la sua stessa soluzione.
#
# - **CLM** (GPT): prevedere ogni prossimo token da quelli che lo precedono.
# - **MLM** (BERT): nascondere circa il 15% dei token e prevederli da entrambi i lati.
#
# La perdita è l'entropia incrociata: −log p(token giusto), in nat. Un modello che tira a
# indovinare tra V token ottiene log V; l'apprendimento la abbassa. Misuriamo un modello
# addestrato, poi ne addestriamo uno minuscolo per pochi secondi e guardiamo scendere la
# perdita.

# %%
import csv

import matplotlib.pyplot as plt
import numpy as np

import attento

model, tok = attento.load_model("dante")
verse = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"
words = verse.split()
shuffled = " ".join(np.random.default_rng(0).permutation(words))
for name, text in [("il verso", verse), ("le sue parole mescolate", shuffled)]:
    score = attento.evaluate(model, tok, text)
    print(f"{name:20s} perdita {score.loss:.2f} nat/token, perplessità {score.perplexity:.1f}")
print(f"a caso: {np.log(tok.vocab_size):.2f} nat/token")

# %% [markdown]
# ## Addestrare un GPT minuscolo
# `attento.train("tiny", ...)` addestra un modello a 2 blocchi su un pezzo di testo. Pochi passi
# su un core della CPU: conta la curva che scende, non la poesia.

# %%
corpus = (verse + "\n") * 200
result = attento.train(
    "tiny", "runs/ch7", text=corpus, max_steps=30, eval_interval=15, eval_batches=2
)
print(f"{result.steps} passi, perdita di validazione {result.final_val_loss:.2f}")
with open("runs/ch7/log.csv") as f:
    rows = list(csv.DictReader(f))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot([int(r["step"]) for r in rows], [float(r["train_loss"]) for r in rows], marker=".")
ax.axhline(np.log(len(set(corpus))), color="grey", ls="--", label="a caso tra i suoi caratteri")
ax.set_xlabel("passo")
ax.set_ylabel("perdita di addestramento (nat/token)")
ax.set_title("Un GPT minuscolo impara un verso")
ax.legend()
plt.show()

# %% [markdown]
# ## Il modello mascherato, a mano
# Gli esempi di addestramento di BERT: si sceglie il 15% delle posizioni; di queste l'80%
# diventa `[MASK]`, il 10% un token a caso, il 10% resta com'è. La perdita si calcola solo sulle
# posizioni scelte.

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
print(f"{chosen.sum()} su {len(ids)} posizioni sono chieste")

# %% [markdown]
# ## Esercizi
# 1. Perché la perdita del verso mescolato è più alta, pur avendo esattamente le stesse parole?
# 2. Addestra per 60 passi invece di 30: fin dove scende la perdita di validazione?
# 3. Perché l'MLM a volte tiene il token giusto, o ne mette uno a caso, invece di `[MASK]`?
# 4. Più lungo (facoltativo, 30 minuti): `attento train --preset bert-cpu --out runs/bert`, poi
#    `attento fill-mask "Nel mezzo del [MASK] di nostra vita" --model runs/bert`.
