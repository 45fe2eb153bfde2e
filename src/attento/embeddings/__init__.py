"""Embeddings: the vectors a model gives texts, and what their geometry says about meaning.

- `embedder.py`: `Embedder` (text -> vector): token embeddings of any model, mean-pooled
  sentence embeddings of a BERT (MiniLM by default), or a fixed table;
- `similarity.py`: cosine similarity, similarity matrix, neighbours, analogies, projections;
- `plot.py`: a 2-D PCA map of words, saved as a PNG;
- `word2vec.py`: word vectors trained with attento (skip-gram, negative sampling); the
  bundled "dante-words" come from the Divina Commedia;
- `axes.py`: words placed on axes defined by word pairs, and the gender-bias probe.
"""

from attento.embeddings.embedder import (
    Embedder,
    SentenceEmbedder,
    TokenEmbedder,
    VectorEmbedder,
    load_embedder,
)
from attento.embeddings.plot import embedding_map
from attento.embeddings.similarity import (
    analogy,
    cosine,
    cosine_matrix,
    neighbours,
    project,
    similarity,
    similarity_matrix,
)

__all__ = [
    "Embedder",
    "SentenceEmbedder",
    "TokenEmbedder",
    "VectorEmbedder",
    "analogy",
    "cosine",
    "cosine_matrix",
    "embedding_map",
    "load_embedder",
    "neighbours",
    "project",
    "similarity",
    "similarity_matrix",
]
