"""Exceptions of the package. The native module raises these classes (it imports this module)."""

from __future__ import annotations

from typing import Any, TypedDict


class ErrorDetails(TypedDict):
    """One error, shaped like Pydantic's ``ValidationError.errors()`` items."""

    type: str
    """The core's machine code: ``missing``, ``not_a_number``, ``out_of_range``, ..."""
    loc: tuple[int | str, ...]
    """``(field,)`` for one applicant, ``(row, field)`` inside a batch."""
    msg: str
    input: Any


class ValidationError(ValueError):
    """Input that the scorecard refuses. ``.errors()`` lists every problem at once."""

    def __init__(self, message: str, errors: list[ErrorDetails]) -> None:
        super().__init__(message)
        self._errors: list[ErrorDetails] = list(errors)

    def errors(self) -> list[ErrorDetails]:
        """Every error: ``{"type", "loc", "msg", "input"}``."""
        return [ErrorDetails(**e) for e in self._errors]

    def error_count(self) -> int:
        return len(self._errors)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self._errors))


class ModelError(ValueError):
    """A model artifact that cannot be used (bad JSON, wrong format, checksum mismatch, ...)."""


class InternalError(Exception):
    """A bug on the Rust side (a panic), reported as an ordinary ``Exception`` so that
    ``except Exception`` handlers see it. Not a ``ValueError``: the input was not the problem."""
