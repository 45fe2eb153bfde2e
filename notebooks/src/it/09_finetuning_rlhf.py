# %% [markdown]
# # 9. Fine-tuning, RLHF e rifiuti
#
# Un modello pre-addestrato continua il testo; un assistente risponde. Tre passi trasformano
# l'uno nell'altro:
#
# 1. **Fine-tuning supervisionato (SFT)**: si continua ad addestrare su coppie (prompt, buona
#    risposta), con la perdita solo sui token della risposta;
# 2. un **reward model** impara dalle preferenze delle persone quale di due risposte è migliore;
# 3. **RLHF** (PPO) o **DPO** spingono il modello verso le risposte preferite, compreso il
#    rifiuto delle richieste dannose.
#
# Questo notebook disegna le perdite dietro ogni passo; `attento align-demo` e
# `attento refusal-demo` li eseguono davvero (minuti).

# %%
import matplotlib.pyplot as plt
import numpy as np

import attento

tok = attento.tokenizer("dante")

# %% [markdown]
# ## SFT: la perdita guarda solo la risposta
# Il prompt è dato; il modello deve imparare a scrivere la risposta, non la domanda.

# %%
prompt, answer = "Domanda: chi guida Dante?\nRisposta:", " Virgilio."
p_ids, a_ids = tok.encode(prompt), tok.encode(answer)
ids = p_ids + a_ids
scored = [False] * len(p_ids) + [True] * len(a_ids)
for i, s in zip(ids, scored, strict=True):
    print(f"{tok.decode([i])!r:14s} {'perdita' if s else '-'}")

# %% [markdown]
# ## Il reward model: Bradley–Terry
# Data una risposta preferita (punteggio r_c) e una scartata (r_r), il modello impara
# P(preferita) = σ(r_c − r_r); la sua perdita è −log σ(r_c − r_r).

# %%
margin = np.linspace(-6, 6, 200)
sigma = 1 / (1 + np.exp(-margin))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
ax1.plot(margin, sigma)
ax1.set_xlabel("r_chosen − r_rejected")
ax1.set_ylabel("P(preferita)")
ax1.set_title("Bradley–Terry")
for beta in [0.1, 0.5, 1.0]:
    # DPO: il margine è quanto il modello addestrato preferisce la risposta scelta più del
    # modello di riferimento (rapporti di log-probabilità), scalato da beta
    ax2.plot(margin, -np.log(1 / (1 + np.exp(-beta * margin))), label=f"β = {beta}")
ax2.set_xlabel("margine dei log-rapporti (scelta − scartata)")
ax2.set_ylabel("perdita DPO")
ax2.set_title("DPO: senza reward model, la stessa idea")
ax2.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## L'obiettivo tagliato di PPO
# PPO alza la probabilità delle risposte con vantaggio A positivo, ma mai di più di un fattore
# 1 ± ε in un aggiornamento: min(ρA, clip(ρ, 1−ε, 1+ε)A), con ρ = p_nuova / p_vecchia.

# %%
ratio = np.linspace(0, 2, 200)
eps = 0.2
fig, ax = plt.subplots(figsize=(6, 3.5))
for advantage in [1.0, -1.0]:
    objective = np.minimum(ratio * advantage, np.clip(ratio, 1 - eps, 1 + eps) * advantage)
    ax.plot(ratio, objective, label=f"A = {advantage:+.0f}")
ax.axvline(1, color="grey", lw=0.5)
ax.set_xlabel("ρ = p_new / p_old")
ax.set_ylabel("obiettivo")
ax.set_title("PPO: passi piccoli e sicuri")
ax.legend()
plt.show()

# %% [markdown]
# ## I rifiuti
# Un rifiuto si impara come qualsiasi altra risposta: coppie in cui la risposta preferita a una
# richiesta dannosa è "Non posso aiutarti con questo", e quella preferita a una richiesta
# innocua è aiutare. Troppi esempi di rifiuto fanno rifiutare al modello anche le richieste
# innocue ("over-refusal"): `attento refusal-demo` misura entrambe le frequenze prima e dopo
# l'addestramento.
#
# ## Esercizi
# 1. Nell'esempio di SFT, che cosa imparerebbe il modello se la perdita coprisse anche il
#    prompt?
# 2. Con r_c − r_r = 0 la perdita di Bradley–Terry vale log 2: perché?
# 3. In DPO, che effetto ha un β grande sugli aggiornamenti vicino a un margine 0?
# 4. Facoltativo (minuti): `attento align-demo --out out/align` e
#    `attento refusal-demo --help`.
