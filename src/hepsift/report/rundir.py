"""The run folder: built under ``<root>/.<name>.partial/`` and renamed into place at the end.

An interrupted run never leaves a folder that looks complete: only a finished run has its final
name and a ``DONE`` marker. Every file is written atomically (:mod:`hepsift._files`: fsynced
temporary file + ``os.replace``); JSON is strict (NaN -> null).

A run killed outright (SIGKILL, power loss) cannot remove its partial folder. Each partial
folder therefore holds :data:`PARTIAL_MARKER` (``{"written_by": "hepsift", "pid", "host",
"started"}``), kept locked (``flock``) while its run lives; the next run under the same root
removes the partial folders whose marker is unlocked and that were written on this host (or are
older than :data:`STALE_AFTER_S` when written elsewhere). Folders without the marker are never
touched. A SIGINT swallowed during the run (:mod:`hepsift._interrupt`) stops :meth:`finish`
before ``DONE`` is written.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hepsift._files import atomic_write_json, atomic_write_text
from hepsift._interrupt import checkpoint

__all__ = ["DONE_MARKER", "PARTIAL_MARKER", "RunDir", "sweep_stale_partials", "utc_stamp"]

DONE_MARKER = "DONE"
#: the marker file inside a run folder under construction (removed when it finishes)
PARTIAL_MARKER = ".hepsift-partial"
#: a partial folder written on another host is swept only when older than this
STALE_AFTER_S = 24 * 3600.0


def _lock(fd: int, *, blocking: bool) -> bool:
    """flock ``fd`` exclusively; False when another process holds it (or locks are missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def _is_stale(folder: Path, *, now: float) -> bool:
    """True for a partial folder hepsift wrote whose run is gone (see the module docstring)."""
    marker = folder / PARTIAL_MARKER
    try:
        if folder.is_symlink() or not marker.is_file() or marker.stat().st_size > 4096:
            return False
        info = json.loads(marker.read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("written_by") != "hepsift":
            return False
        fd = os.open(marker, os.O_RDONLY)
    except (OSError, ValueError):
        return False
    try:
        if not _lock(fd, blocking=False):
            return False  # its run still holds the lock
        if info.get("host") == socket.gethostname():
            return True
        return now - marker.stat().st_mtime > STALE_AFTER_S
    except OSError:
        return False
    finally:
        os.close(fd)


def sweep_stale_partials(root: str | os.PathLike[str]) -> list[Path]:
    """Remove the stale ``.<name>.partial`` run folders under ``root``; returns them."""
    base = Path(root)
    try:
        candidates = sorted(base.glob(".*.partial"))
    except OSError:
        return []
    now = time.time()
    swept = []
    for folder in candidates:
        if folder.is_dir() and _is_stale(folder, now=now):
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder)
    return swept


def utc_stamp(now: datetime | None = None) -> str:
    """A compact UTC timestamp for folder names, e.g. ``20261125T012233Z``."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


class RunDir:
    """A run folder under construction. Use as a context manager: on an exception the partial
    folder is removed; :meth:`finish` writes ``DONE`` and renames it to its final name."""

    def __init__(self, root: str | os.PathLike[str], name: str, *, stamp: str | None = None):
        self.root = Path(root)
        self._base = f"{name}-{stamp or utc_stamp()}"
        self._suffix = 0
        self._next_free_name()
        self.finished = False
        self.swept: list[Path] = []
        self._lock_fd: int | None = None

    def _next_free_name(self) -> None:
        """Set :attr:`final` and :attr:`path` to the first name (``NAME-STAMP``, then
        ``NAME-STAMP-1``, ...) that neither a run folder nor a partial one holds yet."""
        while True:
            name = self._base if self._suffix == 0 else f"{self._base}-{self._suffix}"
            self.final = self.root / name
            self.path = self.root / f".{name}.partial"
            if not self.final.exists() and not self.path.exists():
                return
            self._suffix += 1

    def __enter__(self) -> RunDir:
        try:
            self.swept = sweep_stale_partials(self.root)
            self.root.mkdir(parents=True, exist_ok=True)
            while True:  # a run of the same name started in the same second takes the next
                try:
                    self.path.mkdir(exist_ok=False)
                    break
                except FileExistsError:
                    self._next_free_name()
            self._mark()
        except OSError as exc:
            from hepsift.errors import DataError

            raise DataError(
                f"cannot create the run folder in '{self.root}': {exc.strerror or exc}; "
                "give --out a folder you can write to"
            ) from None
        return self

    def _mark(self) -> None:
        """Create the locked :data:`PARTIAL_MARKER` (locked before it holds anything, so a
        concurrent sweep never sees it unlocked)."""
        fd = os.open(self.path / PARTIAL_MARKER, os.O_RDWR | os.O_CREAT, 0o666)
        self._lock_fd = fd
        _lock(fd, blocking=True)
        info = {
            "written_by": "hepsift",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": utc_stamp(),
        }
        os.write(fd, json.dumps(info).encode())
        os.fsync(fd)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.finished:
            shutil.rmtree(self.path, ignore_errors=True)
        self._unlock()

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
        """Mark the run complete (``DONE``) and move it to its final name; returns that path.

        Raises KeyboardInterrupt instead when a Ctrl-C arrived during the run (even one Python
        swallowed, see :mod:`hepsift._interrupt`)."""
        checkpoint()
        (self.path / PARTIAL_MARKER).unlink(missing_ok=True)
        self.write_text(DONE_MARKER, utc_stamp() + "\n")
        os.rename(self.path, self.final)
        self.finished = True
        self._unlock()
        return self.final
