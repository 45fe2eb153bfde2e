"""Corpora and the data each training objective needs."""

from attento.data.corpus import CORPORA, load_corpus

__all__ = ["CORPORA", "load_corpus"]
