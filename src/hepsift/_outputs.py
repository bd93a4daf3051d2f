"""Output paths a command writes into: hepsift replaces only what it wrote.

A command that writes into a user-named folder (``hepsift tune --out``, ``hepsift pnn study
--out``) or file (``hepsift onnx MODEL OUT``) first checks that the path is one it may use:

- a folder that does not exist yet is created (it gets a marker file :data:`OUTPUT_MARKER`,
  ``{"written_by": "hepsift", "kind": ...}``); an existing folder is written into, and the
  user's other files in it are left alone;
- a name the command writes that already exists in the folder must be one the command wrote
  (a saved model hepsift recognises, JSON of the command's shape, or any of its names in a
  folder carrying the marker); otherwise the command is refused, before any work, with one
  line naming ``--force``;
- a regular file where a folder is wanted, or an output file hepsift did not write, is refused
  the same way (``force=True`` writes anyway, still never deleting anything else);
- an empty path, or one that cannot be created or written, is one line too.

Every refusal is a :class:`hepsift.errors.ConfigError` (exit 2 on the command line).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hepsift._files import atomic_write_json
from hepsift.errors import ConfigError

__all__ = [
    "OUTPUT_MARKER",
    "check_output_dir",
    "check_output_file",
    "claim_output_dir",
    "json_with",
    "unwritable",
]

#: the marker file of a folder hepsift made for a command's output
OUTPUT_MARKER = ".hepsift-output"


def _path(path: str | os.PathLike[str], option: str) -> Path:
    text = os.fspath(path)
    if not str(text).strip():
        raise ConfigError(f"{option} is empty; give a folder or file name")
    return Path(text)


def unwritable(exc: OSError, path: Path, option: str) -> ConfigError:
    """The one-line error for an output path that cannot be created or written."""
    reason = exc.strerror or type(exc).__name__
    return ConfigError(f"cannot write {option} '{path}': {reason}; give a path you can write to")


def _marked(folder: Path, kind: str) -> bool:
    marker = folder / OUTPUT_MARKER
    try:
        if not marker.is_file() or marker.stat().st_size > 4096:
            return False
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict) and data.get("written_by") == "hepsift" and data.get("kind") == kind
    )


def _check_creatable(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder one can write into."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot write {option} '{path}': '{parent}' is not a folder you can write to"
        )


def _json_with(path: Path, key: str) -> bool:
    try:
        if path.stat().st_size > 256 * 1024 * 1024:
            return False
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return (isinstance(data, dict) and key in data) or (key == "[]" and isinstance(data, list))


def json_with(key: str) -> Callable[[Path], bool]:
    """An ``owned`` test for :func:`check_output_dir`: the file is JSON holding ``key`` at the
    top level (``"[]"``: a JSON list), as the command writes it."""
    return lambda path: path.is_file() and _json_with(path, key)


def check_output_dir(
    path: str | os.PathLike[str],
    *,
    kind: str,
    owned: Mapping[str, Callable[[Path], bool] | None],
    force: bool = False,
    option: str = "--out",
) -> Path:
    """``path`` as a folder the command ``kind`` may write into (see the module docstring);
    nothing is created.

    ``owned`` maps each name the command writes (a glob such as ``"*.png"`` allowed) to a test
    that says an existing file of that name is one the command wrote (None: never, unless the
    folder carries the command's marker). Other files in the folder are left alone.
    """
    folder = _path(path, option)
    if folder.is_symlink() and not folder.is_dir():
        raise ConfigError(f"{option} '{folder}' is a dangling link; give a folder name")
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"{option} '{folder}' is a file, not a folder; give a new or empty folder name"
        )
    if not folder.exists():
        _check_creatable(folder, option)
        return folder
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {option} '{folder}': the folder is not writable")
    if force:
        return folder
    marked = _marked(folder, kind)
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise unwritable(exc, folder, option) from None
    for entry in entries:
        test = next((t for pat, t in owned.items() if entry.match(pat)), _MISSING)
        if test is _MISSING or (marked and test is None):
            continue
        if test is None or not test(entry):
            raise ConfigError(
                f"{option} '{folder}': '{entry.name}' exists and was not written by hepsift "
                f"{kind}; choose another folder, or pass --force to replace it"
            )
    return folder


_MISSING: Any = object()


def claim_output_dir(
    path: str | os.PathLike[str],
    *,
    kind: str,
    owned: Mapping[str, Callable[[Path], bool] | None],
    force: bool = False,
    option: str = "--out",
) -> Path:
    """:func:`check_output_dir`, then create the folder with its marker (an existing folder is
    used as it is)."""
    folder = check_output_dir(path, kind=kind, owned=owned, force=force, option=option)
    try:
        if not folder.is_dir():  # a folder hepsift makes gets the marker; a user's does not
            folder.mkdir(parents=True)
            atomic_write_json(folder / OUTPUT_MARKER, {"written_by": "hepsift", "kind": kind})
    except OSError as exc:
        raise unwritable(exc, folder, option) from None
    return folder


def check_output_file(
    path: str | os.PathLike[str],
    *,
    owned: Callable[[Path], bool],
    force: bool = False,
    option: str = "OUT",
) -> Path:
    """``path`` as a file the command may (re)place: new, or ``owned(path)`` (hepsift wrote
    it), or ``force``; its folder must be writable. Nothing is created."""
    target = _path(path, option)
    if target.is_dir():
        raise ConfigError(f"{option} '{target}' is a folder; give a file name")
    if target.exists() and not force and not owned(target):
        raise ConfigError(
            f"{option} '{target}' exists and was not written by hepsift; choose a new name, "
            "or pass --force to replace it"
        )
    _check_creatable(target, option)
    return target
