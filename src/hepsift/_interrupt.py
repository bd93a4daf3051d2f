"""Ctrl-C always stops a long command, even when Python swallows the first KeyboardInterrupt.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives. If
that is a weakref callback, a ``__del__`` or a garbage-collector finaliser, the exception is
printed ("Exception ignored in weakref callback") and dropped, and the command runs on to the
end. Inside :func:`stop_on_sigint` a SIGINT also sets a flag; :func:`checkpoint` (called at step
boundaries, and before a run folder is marked ``DONE``) raises KeyboardInterrupt again while the
flag is set, so the command stops at the next boundary at the latest.

Nothing here imports from the rest of hepsift.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["checkpoint", "interrupted", "stop_on_sigint"]

_pending = threading.Event()


def interrupted() -> bool:
    """True once a SIGINT arrived inside :func:`stop_on_sigint`."""
    return _pending.is_set()


def checkpoint() -> None:
    """Raise KeyboardInterrupt if a SIGINT arrived (and was perhaps swallowed) since the start
    of :func:`stop_on_sigint`; a no-op otherwise."""
    if _pending.is_set():
        raise KeyboardInterrupt


def _handler(signum: int, frame: FrameType | None) -> None:
    _pending.set()
    raise KeyboardInterrupt


@contextmanager
def stop_on_sigint() -> Iterator[None]:
    """Install the flagging SIGINT handler for the block (main thread, default handler only:
    an ignored SIGINT, e.g. in a ``nohup`` job, stays ignored). A SIGINT swallowed inside the
    block is raised again when the block ends."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    _pending.clear()
    signal.signal(signal.SIGINT, _handler)
    try:
        yield
        checkpoint()
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _pending.clear()
