"""The run folder: built under ``<root>/.<name>.partial/`` and renamed into place at the end.

An interrupted run never leaves a folder that looks complete: only a finished run has its final
name and a ``DONE`` marker. Every file is written atomically (:mod:`hepsift._files`: fsynced
temporary file + ``os.replace``); JSON is strict (NaN -> null).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hepsift._files import atomic_write_json, atomic_write_text

__all__ = ["DONE_MARKER", "RunDir", "utc_stamp"]

DONE_MARKER = "DONE"


def utc_stamp(now: datetime | None = None) -> str:
    """A compact UTC timestamp for folder names, e.g. ``20261125T012233Z``."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


class RunDir:
    """A run folder under construction. Use as a context manager: on an exception the partial
    folder is removed; :meth:`finish` writes ``DONE`` and renames it to its final name."""

    def __init__(self, root: str | os.PathLike[str], name: str, *, stamp: str | None = None):
        self.root = Path(root)
        base = f"{name}-{stamp or utc_stamp()}"
        final = self.root / base
        i = 1
        while final.exists() or (self.root / f".{final.name}.partial").exists():
            final = self.root / f"{base}-{i}"
            i += 1
        self.final = final
        self.path = self.root / f".{final.name}.partial"
        self.finished = False

    def __enter__(self) -> RunDir:
        try:
            self.path.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            from hepsift.errors import DataError

            raise DataError(
                f"cannot create the run folder in '{self.root}': {exc.strerror or exc}; "
                "give --out a folder you can write to"
            ) from None
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.finished:
            shutil.rmtree(self.path, ignore_errors=True)

    def file(self, relative: str) -> Path:
        """Path of a file inside the (partial) run folder; parent folders are created."""
        p = self.path / relative
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_text(self, relative: str, text: str) -> Path:
        return atomic_write_text(self.file(relative), text)

    def write_json(self, relative: str, data: Any) -> Path:
        """Strict JSON (:func:`hepsift._files.jsonable`: NaN -> null, inf -> "inf")."""
        return atomic_write_json(self.file(relative), data)

    def finish(self) -> Path:
        """Mark the run complete (``DONE``) and move it to its final name; returns that path."""
        self.write_text(DONE_MARKER, utc_stamp() + "\n")
        os.rename(self.path, self.final)
        self.finished = True
        return self.final
