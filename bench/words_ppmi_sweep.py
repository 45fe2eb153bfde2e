"""Issue 19: PPMI (context smoothing alpha) + truncated SVD (weighting S^p) neighbours on Dante."""

import sys

import numpy as np

sys.path.insert(0, "src")
from attento.embeddings.word2vec import Vocabulary, verses, words

with open("/work/shared/data/divina_commedia.txt", encoding="utf-8") as f:
    text = f.read()
toks = words(verses(text))
voc = Vocabulary.build(toks, 5, 8000)
idx = {w: i for i, w in enumerate(voc.words)}
ids = np.array([idx.get(t, -1) for t in toks])
V = len(voc.words)
exp = {
    "virgilio": [
        "duca",
        "maestro",
        "poeta",
        "guida",
        "segnor",
        "dottor",
        "scorta",
        "padre",
        "savio",
        "stazio",
    ],
    "beatrice": ["donna", "bella", "occhi", "riso", "dolce", "viso"],
    "occhi": ["belli", "raggi", "splendori", "fissi", "viso"],
}
for window in (10, 5):
    C = np.zeros((V, V))
    for o in range(1, window + 1):
        a, b = ids[:-o], ids[o:]
        k = (a >= 0) & (b >= 0)
        np.add.at(C, (a[k], b[k]), 1)
        np.add.at(C, (b[k], a[k]), 1)
    for alpha in (1.0, 0.75):
        pc = C.sum(0) ** alpha
        pc /= pc.sum()
        pw = C.sum(1) / C.sum()
        with np.errstate(divide="ignore"):
            pmi = np.log(C / C.sum() / pw[:, None] / pc[None, :])
        P = np.maximum(pmi, 0)
        U, S, _ = np.linalg.svd(P, full_matrices=False)
        for p in (1.0, 0.5, 0.0):
            W = U[:, :50] * S[:50] ** p
            W /= np.linalg.norm(W, axis=1, keepdims=True)
            row = []
            for q, e in exp.items():
                s = W @ W[idx[q]]
                s[idx[q]] = -9
                top = [voc.words[i] for i in np.argsort(-s)[:10]]
                row.append(f"{q} {sum(w in top for w in e)}/{len(e)} {top[:6]}")
            print(f"win {window} alpha {alpha} p {p}: " + " | ".join(row), flush=True)
