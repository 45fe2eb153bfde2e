"""The one exception type for user mistakes.

Anything a person can get wrong (a missing file, a bad parameter, a checkpoint from
another model) raises `UserError` with a sentence that says what to do. The CLI prints
it as a single line without a traceback; library callers can catch it as `ValueError`.
A caller that shows the mistake in another language (the explainer's page) reads `code`
(snake_case) and `params` instead of parsing the English sentence.
"""

from __future__ import annotations

from typing import Any


class UserError(ValueError):
    """A mistake in the input, reported as one clear line."""

    def __init__(
        self, message: str = "", *, code: str | None = None, params: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.params = params or {}
