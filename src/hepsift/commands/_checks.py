"""Checks of command-line values that typer's types cannot express, made before any work starts.

Each raises :class:`~hepsift.errors.ConfigError` (one line, exit 2) naming the option, what was
given and what is allowed. Kept free of heavy imports so that the CLI starts at once.
"""

from __future__ import annotations

import socket
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
_SCHEMES = ("tcp", "tls", "ws", "wss")


def check_out(value: str | None, option: str = "--out") -> None:
    """An output path must not be empty (``--out ''`` would write into the current folder)."""
    if value is not None and not value.strip():
        raise ConfigError(f"{option} is empty; give a folder or file name (e.g. {option} results)")


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
    allowed = "tcp://HOST:PORT (or tls://, ws://, wss://), e.g. tcp://127.0.0.1:8786"
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
    """A ``--scheduler`` address must parse and answer within ``timeout_s`` seconds."""
    if address is None:
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
