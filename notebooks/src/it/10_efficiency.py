# %% [markdown]
# # 10. Efficienza: la cache KV, la precisione e la dimensione
#
# Generare un token costa un passaggio in avanti. Tre idee lo rendono più economico:
#
# - la **cache KV**: chiavi e valori dei token passati non cambiano, quindi si tengono invece
#   di ricalcolare tutto il prompt a ogni passo;
# - **meno precisione**: numeri a 16 o 8 bit invece di float a 32 bit (metà o un quarto della
#   memoria);
# - **modelli più piccoli**: i parametri sono memoria, e la banda della memoria è tempo.

# %%
import time

import matplotlib.pyplot as plt
import torch

import attento
from attento.models.kv_memory import PUBLIC, human_bytes

model, tok = attento.load_model("dante")
n_params = sum(p.numel() for p in model.parameters())
print(f"{n_params:,} parametri")

# %% [markdown]
# ## Con e senza la cache KV

# %%
timings = {}
for use_cache in (True, False):
    start = time.perf_counter()
    attento.generate(model, tok, "Nel mezzo", max_new_tokens=100, seed=0, use_cache=use_cache)
    timings["con cache" if use_cache else "senza cache"] = time.perf_counter() - start
same = attento.generate(
    model, tok, "Nel mezzo", 40, greedy=True, use_cache=True
) == attento.generate(model, tok, "Nel mezzo", 40, greedy=True, use_cache=False)
print({k: f"{v:.2f} s" for k, v in timings.items()}, "stesso testo:", same)

# %% [markdown]
# ## La dimensione della cache
# Per ogni token la cache tiene, in ogni blocco, un vettore chiave e uno valore per testa:
# 2 × strati × n_embd numeri. Per un modello grande e un contesto lungo supera i pesi.

# %%
cfg = model.config
per_token = 2 * cfg.n_layer * cfg.n_embd * 4  # float32 bytes
contexts = [128, 1024, 8192, 32768]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(
    contexts,
    [c * per_token / 2**20 for c in contexts],
    marker="o",
    label="cache KV, forma di dante",
)
ax.axhline(n_params * 4 / 2**20, color="grey", ls="--", label="pesi di dante (float32)")
ax.set_xscale("log", base=2)
ax.set_xlabel("token nel contesto")
ax.set_ylabel("MiB")
ax.legend()
ax.set_title("Memoria della cache KV")
plt.show()

# %% [markdown]
# ## Teste condivise e finestre scorrevoli
# Con la grouped-query attention un gruppo di teste di query condivide una testa key/value
# (multi-query attention: una sola per tutte), quindi la cache si riduce di n_head / n_kv_head
# volte. Una finestra scorrevole di W token (Mistral) tiene solo gli ultimi W per strato:
# la cache smette di crescere a W. `attento kv-cache` stampa gli stessi numeri; si usa solo
# il config.json pubblicato.

# %%
for shape in PUBLIC.values():
    m = shape.memory(dtype_bytes=2)  # bfloat16
    print(
        f"{shape.name:16s} {m['attention']:8s} finestra {m['window'] or '-'}: "
        f"{human_bytes(m['bytes_full'])} a {m['context']:,} token, "
        f"con MHA {human_bytes(m['mha_bytes_full'])}"
    )

# %% [markdown]
# ## Precisione: float32, bfloat16, int8
# Arrotondare una matrice di pesi a int8 con una scala per riga, e misurare l'errore:

# %%
w = model.blocks[0].mlp.fc.weight.detach()
scale = w.abs().amax(dim=1, keepdim=True) / 127
w8 = torch.round(w / scale).clamp(-127, 127).to(torch.int8)
back = w8.float() * scale
rel = ((back - w).norm() / w.norm()).item()
bf16 = ((w.to(torch.bfloat16).float() - w).norm() / w.norm()).item()
print(f"errore relativo: bfloat16 {bf16:.4f}, int8 {rel:.4f}")
for dtype, size in [("float32", 4), ("bfloat16", 2), ("int8", 1)]:
    print(f"{dtype:9s} {n_params * size / 2**20:6.2f} MiB")

# %%
loaded16, _ = attento.load_model("dante", dtype="bfloat16")
verse = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"
print(f"perdita float32 {attento.evaluate(model, tok, verse).loss:.3f}, ", end="")
print(f"bfloat16 {attento.evaluate(loaded16, tok, verse).loss:.3f}")

# %% [markdown]
# ## Esercizi
# 1. Come cresce il tempo senza cache con `max_new_tokens`? E con la cache?
# 2. Un modello da 7 miliardi di parametri: quanti GB in float32, bfloat16 e int4?
# 3. Quantizza con una sola scala per tutta la matrice invece che una per riga: l'errore è
#    maggiore?
# 4. Dal terminale: `attento kv-cache --help`.
# 5. `attento.generate(model, tok, "Nel mezzo", 100, greedy=True, compile=True)` decodifica con
#    un passo compilato: misura la prima chiamata e una seconda. Quanto è costata la
#    compilazione, e il testo è lo stesso che senza `compile`? (Dal terminale:
#    `attento generate --compile`.)
