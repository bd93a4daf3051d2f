"""The bottom layer for files: atomic writes (with fsync) and JSON sanitising, once.

Every module that writes a file hepsift owns goes through here:

- :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_write_json`: the data
  go to a temporary sibling (``.NAME.<random>.tmp``), are flushed and fsynced, get the mode a
  plain ``open()`` would give, and replace ``path`` with one ``os.replace``; an interrupted write
  never leaves a half-written file behind, and the temporary file is removed on any error.
- :func:`atomic_write_with`: the same for a library that writes to a path itself (uproot,
  pyarrow, matplotlib, ``np.savez``): ``write(tmp)`` streams into the temporary sibling, which
  is then fsynced and renamed, so large outputs never sit in memory twice.
- :func:`jsonable`: numpy scalars and arrays, tuples, sets and paths to plain JSON values; NaN to
  ``None``, +-inf to the strings ``"inf"`` / ``"-inf"`` (JSON has neither).
- :func:`dumps_json`: ``json.dumps`` of :func:`jsonable` with ``allow_nan=False``, so a stray
  NaN can never produce a file that strict JSON readers reject.

Nothing here imports from the rest of hepsift.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "atomic_write_with",
    "dumps_json",
    "file_mode",
    "jsonable",
]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode(*, directory: bool = False) -> int:
    """The mode a plain ``open()`` (``0o666``) or ``mkdir`` (``0o777``) gives under the current
    umask: what ``mkstemp``/``mkdtemp`` (``0o600``/``0o700``) must be set to before a rename."""
    return (0o777 if directory else 0o666) & ~_umask()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a fsynced temporary sibling and ``os.replace``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_with(
    path: str | os.PathLike[str], write: Callable[[Path], object], *, suffix: str = ""
) -> Path:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, fsync it, then rename it.

    ``suffix`` is kept at the end of the temporary name for writers that pick the format
    from it (``".png"``, ``".root"``).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (see the module docstring); unknown types raise TypeError."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def dumps_json(value: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Strict JSON text of :func:`jsonable` ``(value)`` (``allow_nan=False``)."""
    return json.dumps(jsonable(value), indent=indent, sort_keys=sort_keys, allow_nan=False)


def atomic_write_json(
    path: str | os.PathLike[str], value: Any, *, indent: int | None = 2, sort_keys: bool = False
) -> Path:
    """Write :func:`dumps_json` ``(value)`` to ``path`` atomically."""
    return atomic_write_text(path, dumps_json(value, indent=indent, sort_keys=sort_keys) + "\n")
