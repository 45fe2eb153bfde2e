# %% [markdown]
# # 6. Dai logit al prossimo token
#
# L'ultimo passo del modello dà un punteggio, un **logit**, per ogni token del vocabolario. La
# softmax li trasforma in probabilità; la **temperatura** le rende più nette o più piatte;
# **top-k** e **top-p** tagliano la coda improbabile; un dado con il suo seme ne sceglie uno.
# `attento.next_token` mostra ogni passo (il gemello da terminale: `attento next-token`).

# %%
import matplotlib.pyplot as plt
import numpy as np

import attento

model, tok = attento.load_model("dante")
prompt = "Nel mezzo del cammin di nostra"
report = attento.next_token(model, tok, prompt, n=10, temperature=1.0, seed=0)
for c in report.candidates:  # i dieci più probabili, e la scelta del dado se non è tra loro
    print(f"{c.rank:2d} {c.text!r:12s} logit {c.logit:6.2f}  p {c.prob:.3f}")

# %% [markdown]
# ## Softmax e temperatura
# p_i = exp(z_i / T) / Σ_j exp(z_j / T). Una T bassa rende il favorito quasi certo, una T alta
# distribuisce la probabilità su molti token.

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
width = 0.25
for k, temperature in enumerate([0.5, 1.0, 2.0]):
    r = attento.next_token(model, tok, prompt, n=10, temperature=temperature)
    top = r.candidates[:10]  # i dieci più probabili (la scelta del dado può venire dopo)
    labels = [c.text for c in top]
    ax.bar(np.arange(10) + k * width, [c.prob for c in top], width, label=f"T = {temperature}")
ax.set_xticks(np.arange(10) + width, labels, rotation=45)
ax.set_ylabel("probabilità")
ax.set_title(f"Prossimo token dopo {prompt!r}")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Top-k e top-p
# top-k tiene i k token più probabili; top-p tiene il più piccolo insieme le cui probabilità
# sommano a p. Ciò che sopravvive è rinormalizzato (`final_prob`).

# %%
r = attento.next_token(model, tok, prompt, n=10, temperature=1.0, top_k=5, top_p=0.9, seed=1)
for c in r.candidates:
    print(
        f"{c.text!r:12s} p {c.prob:.3f} cumulata {c.cumulative:.3f} "
        f"top-k {'resta' if c.kept_top_k else 'via':5s} top-p {'resta' if c.kept_top_p else 'via':5s} "
        f"finale {c.final_prob:.3f}{'  <- scelto' if c.picked else ''}"
    )

# %% [markdown]
# ## Un token alla volta
# La generazione ripete questo passo: il token scelto si aggiunge al prompt e il modello gira
# di nuovo. La decodifica greedy prende sempre il favorito e tende a ripetersi; il
# campionamento con semi diversi dà continuazioni diverse.

# %%
print("greedy:", attento.generate(model, tok, "Amor", max_new_tokens=30, greedy=True))
for seed in range(3):
    text = attento.generate(model, tok, "Amor", max_new_tokens=30, temperature=0.8, seed=seed)
    print(f"seme {seed}:", text.replace("\n", " / "))

# %% [markdown]
# ## Esercizi
# 1. Con `greedy=True` il seme non conta: verificalo.
# 2. Quale temperatura porta la probabilità del favorito sopra 0,9 per questo prompt?
# 3. Imposta `top_p=0.5`: quanti candidati sopravvivono? E con un prompt che il modello trova
#    facile ("Nel mezzo del cammin di nostra")?
# 4. Dal terminale: `attento next-token --prompt "Nel mezzo del" --temperature 0.8 --top-k 5`.
