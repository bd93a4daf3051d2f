"""Errors a user can cause, and how they are worded.

Every user mistake (bad config key, missing branch, NaN in features, empty class, corrupt file)
raises a :class:`HepsiftError` subclass. Its message names the parameter, what was given, what
is allowed and, where one exists, the nearest valid name. The CLI prints the message as one line
on stderr and exits with code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "MAX_MESSAGE",
    "ConfigError",
    "DataError",
    "GenerationError",
    "HepsiftError",
    "ModelError",
    "SchemaError",
    "nearest",
    "one_line",
    "suggest",
]


class HepsiftError(Exception):
    """Base class of every error a user can fix; the CLI exits with code 2 on it."""

    exit_code = 2


class ConfigError(HepsiftError, ValueError):
    """A configuration value, option or name is not allowed."""


class DataError(HepsiftError, ValueError):
    """Input data cannot be used: missing, empty, corrupt, NaN/inf, one class only..."""


class SchemaError(DataError):
    """A file lacks a tree, branch or column the reader needs."""


class ModelError(HepsiftError, ValueError):
    """A model cannot be fitted, used, saved or loaded as asked."""


class GenerationError(HepsiftError, RuntimeError):
    """Event generation cannot run as asked."""


#: the longest message :func:`one_line` makes by default
MAX_MESSAGE = 280


def one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    """``text`` for an error message: on one line (runs of whitespace, newlines included, to
    one space) and at most ``limit`` characters (a longer text ends with ``...``)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def nearest(name: str, choices: Iterable[str], *, n: int = 1, cutoff: float = 0.5) -> list[str]:
    """The valid names closest to ``name`` (case-insensitive), best first."""
    pool = list(dict.fromkeys(str(c) for c in choices))
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=cutoff)
    return [lowered[h] for h in hits]


def suggest(name: str, choices: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix for an error message, or ``""`` when nothing is close."""
    hits = nearest(name, choices)
    return f"; did you mean '{hits[0]}'?" if hits else ""
