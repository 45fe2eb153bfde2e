# %% [markdown]
# # 9. Fine-tuning, RLHF and refusals
#
# A pre-trained model continues text; an assistant answers. Three steps turn one into the
# other:
#
# 1. **Supervised fine-tuning (SFT)**: keep training on (prompt, good answer) pairs, with the
#    loss only on the answer's tokens;
# 2. a **reward model** learns from people's preferences which of two answers is better;
# 3. **RLHF** (PPO) or **DPO** push the model towards answers people prefer, including
#    refusing harmful requests.
#
# This notebook draws the losses behind each step; `attento align-demo` and
# `attento refusal-demo` run them for real (minutes).

# %%
import matplotlib.pyplot as plt
import numpy as np

import attento

tok = attento.tokenizer("dante")

# %% [markdown]
# ## SFT: the loss looks at the answer only
# The prompt is given; the model should learn to write the answer, not the question.

# %%
prompt, answer = "Domanda: chi guida Dante?\nRisposta:", " Virgilio."
p_ids, a_ids = tok.encode(prompt), tok.encode(answer)
ids = p_ids + a_ids
scored = [False] * len(p_ids) + [True] * len(a_ids)
for i, s in zip(ids, scored, strict=True):
    print(f"{tok.decode([i])!r:14s} {'loss' if s else '-'}")

# %% [markdown]
# ## The reward model: Bradley–Terry
# Given a preferred answer (score r_c) and a rejected one (r_r), the model learns
# P(chosen preferred) = σ(r_c − r_r); its loss is −log σ(r_c − r_r).

# %%
margin = np.linspace(-6, 6, 200)
sigma = 1 / (1 + np.exp(-margin))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
ax1.plot(margin, sigma)
ax1.set_xlabel("r_chosen − r_rejected")
ax1.set_ylabel("P(chosen preferred)")
ax1.set_title("Bradley–Terry")
for beta in [0.1, 0.5, 1.0]:
    # DPO: the margin is how much more the tuned model prefers the chosen answer than the
    # reference model does (log-probability ratios), scaled by beta
    ax2.plot(margin, -np.log(1 / (1 + np.exp(-beta * margin))), label=f"β = {beta}")
ax2.set_xlabel("log-ratio margin (chosen − rejected)")
ax2.set_ylabel("DPO loss")
ax2.set_title("DPO: no reward model, the same idea")
ax2.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## PPO's clipped objective
# PPO raises the probability of answers with a positive advantage A, but never by more than a
# factor 1 ± ε in one update: min(ρA, clip(ρ, 1−ε, 1+ε)A), with ρ = p_new / p_old.

# %%
ratio = np.linspace(0, 2, 200)
eps = 0.2
fig, ax = plt.subplots(figsize=(6, 3.5))
for advantage in [1.0, -1.0]:
    objective = np.minimum(ratio * advantage, np.clip(ratio, 1 - eps, 1 + eps) * advantage)
    ax.plot(ratio, objective, label=f"A = {advantage:+.0f}")
ax.axvline(1, color="grey", lw=0.5)
ax.set_xlabel("ρ = p_new / p_old")
ax.set_ylabel("objective")
ax.set_title("PPO: small, safe steps")
ax.legend()
plt.show()

# %% [markdown]
# ## Refusals
# A refusal is learned like any other answer: pairs where the preferred answer to a harmful
# request is "I can't help with that", and the preferred answer to a harmless one is help.
# Too many refusal examples make the model refuse harmless requests too ("over-refusal"):
# `attento refusal-demo` measures both rates before and after tuning.
#
# ## Exercises
# 1. In the SFT example, what would the model learn if the loss also covered the prompt?
# 2. With r_c − r_r = 0 the Bradley–Terry loss is log 2: why?
# 3. In DPO, what does a large β do to the updates near a margin of 0?
# 4. Optional (minutes): `attento align-demo --out out/align` and
#    `attento refusal-demo --help`.
