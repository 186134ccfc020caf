"""One family of exceptions for everything a user can get wrong.

The CLI turns any :class:`HoodwinkError` into one line on stderr and exit code 1.
"""

from __future__ import annotations


class HoodwinkError(Exception):
    """Base class: bad input, a missing package, an impossible request."""


class ImageError(HoodwinkError):
    """An image could not be read, decoded or written."""


class ClassNotFoundError(HoodwinkError, KeyError):
    """A class name or index that the model does not know."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0]) if self.args else ""


class ModelError(HoodwinkError):
    """A model that cannot be found, built or safely loaded."""


class ParameterError(HoodwinkError, ValueError):
    """A parameter out of range (an impossible eps, zero steps, ...)."""
