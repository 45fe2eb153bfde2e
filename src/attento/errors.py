"""The one exception type for user mistakes.

Anything a person can get wrong (a missing file, a bad parameter, a checkpoint from
another model) raises `UserError` with a sentence that says what to do. The CLI prints
it as a single line without a traceback; library callers can catch it as `ValueError`.
"""


class UserError(ValueError):
    """A mistake in the input, reported as one clear line."""
