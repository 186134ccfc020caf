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


class OutputError(ImageError, ParameterError):
    """An output that cannot be written: wrong suffix, missing or read-only folder, full disk,
    or an input it would overwrite.

    Raised by :mod:`hoodwink.io` only. It is also an :class:`ImageError` and a
    :class:`ParameterError` (the types the output checks raised before there was one
    check), so handlers written for those keep working.
    """


class DownloadError(HoodwinkError):
    """A URL that could not be downloaded in time, whole and within the size cap."""
