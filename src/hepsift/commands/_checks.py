"""Checks of command-line values that typer's types cannot express, made before any work starts.

Each raises :class:`~hepsift.errors.ConfigError` (one line, exit 2) naming the option, what was
given and what is allowed. Kept free of heavy imports so that the CLI starts at once.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from hepsift.errors import ConfigError

__all__ = [
    "MAX_EVENTS_PER_SAMPLE",
    "SCHEDULER_TIMEOUT_S",
    "check_count",
    "check_events",
    "check_out",
    "check_scheduler",
]

#: ``hepsift generate --events`` upper bound: 10^8 Pythia events per sample is CPU-weeks; more
#: is a typo (the generation plan is built up front and would not fit in memory)
MAX_EVENTS_PER_SAMPLE = 100_000_000
#: how long ``--scheduler`` may take to answer a TCP connection before the command gives up
SCHEDULER_TIMEOUT_S = 3.0
#: the Dask protocols whose address is HOST:PORT (what ``--scheduler`` is checked for)
_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def check_out(value: str | None, option: str = "--out", *, folder: bool = True) -> None:
    """An output path (a ``folder``, else a file) that can be written, checked before the work.

    Not empty (``--out ''`` would write into the current folder), not a file where a folder
    is asked (or the reverse), and its nearest existing parent is a folder one can write in.
    Whether an existing output may be replaced is the writer's rule, not checked here.
    """
    if value is None:
        return
    what = "folder" if folder else "file"
    if not value.strip():
        raise ConfigError(f"{option} is empty; give a {what} name")
    path = Path(value)
    if path.exists() and path.is_dir() != folder:
        other = "file" if folder else "folder"
        raise ConfigError(f"{option} '{value}' is a {other}; give a {what}")
    parent = path.parent if path.parent != path else path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} '{value}': '{parent}' is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} '{value}': cannot write in '{parent}' (permission denied)")


def check_count(value: int | None, option: str, *, minimum: int = 1) -> None:
    """An integer option (threads, entries, events...) must be at least ``minimum``."""
    if value is not None and value < minimum:
        raise ConfigError(f"{option} must be an integer >= {minimum}; got {value}")


def check_events(value: int | None, option: str = "--events") -> None:
    """Events per sample: at least 1 and at most :data:`MAX_EVENTS_PER_SAMPLE`."""
    check_count(value, option)
    if value is not None and value > MAX_EVENTS_PER_SAMPLE:
        raise ConfigError(
            f"{option} {value:,} is more than the {MAX_EVENTS_PER_SAMPLE:,} events per sample one "
            "run generates; split it into runs with different --seed values"
        )


def _host_port(address: str) -> tuple[str, int]:
    """(host, port) of a Dask scheduler address such as ``tcp://10.0.0.5:8786``."""
    allowed = "tcp://HOST:PORT (or tls://, ws://, wss://, ucx://), e.g. tcp://127.0.0.1:8786"
    text = address.strip()
    scheme = text.partition("://")[0].lower() if "://" in text else "tcp"
    if scheme not in _SCHEMES:
        raise ConfigError(f"--scheduler '{address}': unknown protocol '{scheme}'; give {allowed}")
    try:
        parts = urlsplit(text if "://" in text else f"tcp://{text}")
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number or out of range
        host, port = None, None
    if not host or port is None or parts.path not in ("", "/"):
        raise ConfigError(f"--scheduler '{address}' is not a scheduler address; give {allowed}")
    return host, port


def check_scheduler(address: str | None, *, timeout_s: float = SCHEDULER_TIMEOUT_S) -> None:
    """A ``--scheduler`` must parse (:func:`hepsift.cluster.parse_scheduler`); an address must
    also answer within ``timeout_s`` seconds."""
    if address is None:
        return
    from hepsift.cluster import parse_scheduler

    spec = parse_scheduler(address)  # local:N and a scheduler file need no connection here
    if spec.kind != "address":
        return
    host, port = _host_port(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except TimeoutError:
        reason = f"no answer within {timeout_s:g} s"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    else:
        return
    raise ConfigError(
        f"--scheduler '{address}': cannot reach {host}:{port} ({reason}); is a Dask scheduler "
        "running there (dask scheduler --port PORT)?"
    )
