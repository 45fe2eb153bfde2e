# %% [markdown]
# # 6. From logits to the next token
#
# The model's last step gives one score, a **logit**, per token of the vocabulary. Softmax
# turns them into probabilities; **temperature** sharpens or flattens them; **top-k** and
# **top-p** cut the unlikely tail; a seeded die picks one. `attento.next_token` reports every
# step (the terminal twin: `attento next-token`).

# %%
import matplotlib.pyplot as plt
import numpy as np

import attento

model, tok = attento.load_model("dante")
prompt = "Nel mezzo del cammin di nostra"
report = attento.next_token(model, tok, prompt, n=10, temperature=1.0, seed=0)
for c in report.candidates:  # the ten most likely, and the die's pick if it is not among them
    print(f"{c.rank:2d} {c.text!r:12s} logit {c.logit:6.2f}  p {c.prob:.3f}")

# %% [markdown]
# ## Softmax and temperature
# p_i = exp(z_i / T) / Σ_j exp(z_j / T). A low T makes the favourite almost certain, a high T
# spreads the probability over many tokens.

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
width = 0.25
for k, temperature in enumerate([0.5, 1.0, 2.0]):
    r = attento.next_token(model, tok, prompt, n=10, temperature=temperature)
    top = r.candidates[:10]  # the ten most likely (the die's pick may come after them)
    labels = [c.text for c in top]
    ax.bar(np.arange(10) + k * width, [c.prob for c in top], width, label=f"T = {temperature}")
ax.set_xticks(np.arange(10) + width, labels, rotation=45)
ax.set_ylabel("probability")
ax.set_title(f"Next token after {prompt!r}")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Top-k and top-p
# top-k keeps the k most likely tokens; top-p keeps the smallest set whose probabilities add
# up to p. What survives is renormalised (`final_prob`).

# %%
r = attento.next_token(model, tok, prompt, n=10, temperature=1.0, top_k=5, top_p=0.9, seed=1)
for c in r.candidates:
    print(
        f"{c.text!r:12s} p {c.prob:.3f} cumulative {c.cumulative:.3f} "
        f"top-k {'kept' if c.kept_top_k else 'cut':4s} top-p {'kept' if c.kept_top_p else 'cut':4s} "
        f"final {c.final_prob:.3f}{'  <- picked' if c.picked else ''}"
    )

# %% [markdown]
# ## One token at a time
# Generation repeats this step: the chosen token is appended to the prompt and the model runs
# again. Greedy decoding always takes the favourite and tends to repeat itself; sampling with
# different seeds gives different continuations.

# %%
print("greedy:", attento.generate(model, tok, "Amor", max_new_tokens=30, greedy=True))
for seed in range(3):
    text = attento.generate(model, tok, "Amor", max_new_tokens=30, temperature=0.8, seed=seed)
    print(f"seed {seed}:", text.replace("\n", " / "))

# %% [markdown]
# ## Exercises
# 1. With `greedy=True` the seed does not matter: check it.
# 2. Which temperature makes the favourite's probability above 0.9 for this prompt?
# 3. Set `top_p=0.5`: how many candidates survive? And with a prompt that the model finds
#    easy ("Nel mezzo del cammin di nostra")?
# 4. Terminal: `attento next-token --prompt "Nel mezzo del" --temperature 0.8 --top-k 5`.
