# %% [markdown]
# # 1. Tokenizzazione: dal testo ai numeri
#
# Un modello linguistico non vede lettere: vede **token**, pezzi di testo numerati da un
# vocabolario. Questo notebook confronta tre tokenizzatori che attento include:
#
# - `cl100k_base`, la tabella di GPT-4 (100.256 token, BPE sui byte);
# - `dante`, il BPE del modello italiano incluso (addestrato da attento sulla *Commedia*);
# - `shakespeare`, un token per carattere (65 token).
#
# Tutto gira offline in pochi secondi.

# %%
import matplotlib.pyplot as plt

import attento

tokenizers = {name: attento.tokenizer(name) for name in ["cl100k_base", "dante", "shakespeare"]}
for name, tok in tokenizers.items():
    print(f"{name:12s} dimensione del vocabolario {tok.vocab_size:>7,}")

# %% [markdown]
# ## Testo in ingresso, id in uscita, e ritorno
# `encode` trasforma una stringa in una lista di interi; `decode` fa il contrario. Decodificare
# gli id uno alla volta mostra dove il tokenizzatore ha tagliato il testo.

# %%
text = "Nel mezzo del cammin di nostra vita"
for name, tok in tokenizers.items():
    ids = tok.encode(text)
    pieces = [tok.decode([i]) for i in ids]
    assert tok.decode(ids) == text  # nulla si perde per strada
    print(f"{name:12s} {len(ids):2d} token: {pieces}")

# %% [markdown]
# ## Stesso significato, costo diverso
# I modelli pagano a token: la lunghezza del contesto, il calcolo e i prezzi delle API si
# contano in token. Un tokenizzatore addestrato soprattutto su testo inglese taglia l'italiano
# in più pezzi.

# %%
sentences = {
    "Inglese": "The cat is sleeping on the table in the kitchen.",
    "Italiano": "Il gatto sta dormendo sul tavolo della cucina.",
    "Dante": "Amor, ch'a nullo amato amar perdona.",
}
fig, ax = plt.subplots(figsize=(7, 3))
width = 0.25
for k, (name, tok) in enumerate(tokenizers.items()):
    counts = [len(tok.encode(s)) for s in sentences.values()]
    ax.bar([i + k * width for i in range(len(sentences))], counts, width, label=name)
ax.set_xticks([i + width for i in range(len(sentences))], list(sentences))
ax.set_ylabel("token")
ax.set_title("Quanti token per una frase?")
ax.legend()
plt.show()

# %% [markdown]
# ## Caratteri per token
# Un modo equo di confrontare i vocabolari è quanti caratteri porta in media un token: un
# vocabolario più grande mette più testo in ogni token, al prezzo di una tabella di embedding
# più grande.

# %%
sample = " ".join(sentences.values())
for name, tok in tokenizers.items():
    print(f"{name:12s} {len(sample) / len(tok.encode(sample)):.2f} caratteri per token")

# %% [markdown]
# ## Esercizi
# 1. Tokenizza il tuo nome e una parola lunga ("precipitevolissimevolmente") con ogni
#    tokenizzatore. Quale la spezza di meno? Perché?
# 2. Trova una parola che `dante` tiene in un solo token ma `cl100k_base` spezza (suggerimento:
#    prova parole frequenti nella *Commedia*).
# 3. Emoji e lettere accentate: che cosa fa `cl100k_base` con `"è"` o `"🙂"`? Decodifica ogni
#    id da solo: perché un singolo id può dare un carattere strano?
# 4. Dal terminale: `attento tokenize "Il gatto è" --tokenizer dante`.
