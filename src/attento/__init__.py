"""attento: a generative language model you can read, run, train and watch.

The package follows the path text takes through the model:
tokenize -> models (embeddings, attention blocks, projection) -> generate,
then train, align, embeddings and explain.
"""

from attento.errors import UserError

__version__ = "0.1.0"

__all__ = ["UserError", "__version__", "load_model"]


def __getattr__(name: str):
    # load_model pulls in torch: import it on first use so `import attento` stays light.
    if name == "load_model":
        from attento.models.checkpoint_io import load_model

        return load_model
    raise AttributeError(f"module 'attento' has no attribute {name!r}")
