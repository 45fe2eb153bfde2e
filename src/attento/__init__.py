"""attento: a generative language model you can read, run, train and watch.

The package follows the path text takes through the model:
tokenize -> models (embeddings, attention blocks, projection) -> generate,
then train, align, embeddings and explain.
"""

from attento.errors import UserError

__version__ = "0.1.0"

__all__ = ["UserError", "__version__"]
