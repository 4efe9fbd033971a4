"""Errors raised by the shared code, each subclassing the nearest builtin."""

from __future__ import annotations

__all__ = ["InvalidTokenError", "MissingSettingError"]


class MissingSettingError(KeyError):
    """Raised when a service starts without a variable it needs (the message names it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidTokenError(ValueError):
    """Raised when a JWT is missing, expired, forged or has no usable subject."""
