# %% [markdown]
# # 1. Tokenization: from text to numbers
#
# A language model never sees letters: it sees **tokens**, pieces of text numbered by a
# vocabulary. This notebook compares three tokenizers that attento ships:
#
# - `cl100k_base`, GPT-4's table (100,256 tokens, byte-level BPE);
# - `dante`, the BPE of the bundled Italian model (trained by attento on the *Commedia*);
# - `shakespeare`, one token per character (65 tokens).
#
# Everything runs offline in a few seconds.

# %%
import matplotlib.pyplot as plt

import attento

tokenizers = {name: attento.tokenizer(name) for name in ["cl100k_base", "dante", "shakespeare"]}
for name, tok in tokenizers.items():
    print(f"{name:12s} vocabulary size {tok.vocab_size:>7,}")

# %% [markdown]
# ## Text in, ids out, text back
# `encode` turns a string into a list of integers; `decode` turns them back. Decoding the
# ids one at a time shows where the tokenizer cut the text.

# %%
text = "Nel mezzo del cammin di nostra vita"
for name, tok in tokenizers.items():
    ids = tok.encode(text)
    pieces = [tok.decode([i]) for i in ids]
    assert tok.decode(ids) == text  # nothing is lost on the way
    print(f"{name:12s} {len(ids):2d} tokens: {pieces}")

# %% [markdown]
# ## Same meaning, different cost
# Models pay per token: context length, compute and API prices are all counted in tokens.
# A tokenizer trained mostly on English text cuts Italian into more pieces.

# %%
sentences = {
    "English": "The cat is sleeping on the table in the kitchen.",
    "Italian": "Il gatto sta dormendo sul tavolo della cucina.",
    "Dante": "Amor, ch'a nullo amato amar perdona.",
}
fig, ax = plt.subplots(figsize=(7, 3))
width = 0.25
for k, (name, tok) in enumerate(tokenizers.items()):
    counts = [len(tok.encode(s)) for s in sentences.values()]
    ax.bar([i + k * width for i in range(len(sentences))], counts, width, label=name)
ax.set_xticks([i + width for i in range(len(sentences))], list(sentences))
ax.set_ylabel("tokens")
ax.set_title("How many tokens for one sentence?")
ax.legend()
plt.show()

# %% [markdown]
# ## Characters per token
# A fair way to compare vocabularies is how many characters one token carries on average:
# a bigger vocabulary packs more text into each token, at the price of a bigger embedding
# table.

# %%
sample = " ".join(sentences.values())
for name, tok in tokenizers.items():
    print(f"{name:12s} {len(sample) / len(tok.encode(sample)):.2f} characters per token")

# %% [markdown]
# ## Exercises
# 1. Tokenize your name and a long Italian word ("precipitevolissimevolmente") with each
#    tokenizer. Which one splits it the least? Why?
# 2. Find a word that `dante` keeps in one token but `cl100k_base` splits (hint: try words
#    that are frequent in the *Commedia*).
# 3. Emoji and accented letters: what does `cl100k_base` do with `"è"` or `"🙂"`? Decode
#    each id alone: why can a single id decode to an odd character?
# 4. From the terminal: `attento tokenize "Il gatto è" --tokenizer dante`.
