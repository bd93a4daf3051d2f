"""One place that turns ``--scheduler`` into a Dask client.

``--scheduler`` accepts

* ``local:N`` -- start a :class:`distributed.LocalCluster` with N single-threaded worker
  processes for the command and close it at the end;
* ``tcp://HOST:PORT`` (or ``tls://``, ``ws://``, ``wss://``, ``ucx://``; a bare ``HOST:PORT``
  means ``tcp://``) -- connect to a running scheduler (``dask scheduler``, dask-jobqueue...);
* the path of an existing scheduler JSON file (``dask scheduler --scheduler-file F``,
  ``dask-jobqueue``'s ``scheduler_file``) -- connect to the scheduler it names.

Anything else is a one-line :class:`~hepsift.errors.ConfigError`. :func:`parse_scheduler` only
reads the text (and the scheduler file): no Dask import, so the CLI checks it at once.
:func:`open_cluster` is the context manager the commands wrap their work in; while it is open
:func:`current_cluster` gives the provenance entry ``{kind, address, n_workers, threads}`` that
the run folder records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from hepsift.errors import ConfigError

__all__ = [
    "ALLOWED",
    "MAX_LOCAL_WORKERS",
    "Cluster",
    "SchedulerSpec",
    "current_cluster",
    "open_cluster",
    "parse_scheduler",
]

#: what ``--scheduler`` accepts, as the error messages say it
ALLOWED = "local:N (N worker processes here), tcp://HOST:PORT, or an existing scheduler JSON file"
#: ``local:N`` upper bound: more single-threaded workers than this on one machine is a typo
MAX_LOCAL_WORKERS = 256
#: the Dask protocols whose address is HOST:PORT
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")

_LOCAL = re.compile(r"local:(.*)", re.IGNORECASE)
_CURRENT: ContextVar[dict[str, Any] | None] = ContextVar("hepsift_cluster", default=None)


@dataclass(frozen=True)
class SchedulerSpec:
    """A parsed ``--scheduler``: ``kind`` local / address / file, and what it needs."""

    kind: Literal["local", "address", "file"]
    text: str
    n_workers: int | None = None  # local:N
    address: str | None = None  # address, or the address a scheduler file names
    path: Path | None = None  # file


@dataclass
class Cluster:
    """An open cluster: the client, the scheduler address to hand on, and its provenance."""

    spec: SchedulerSpec
    client: Any
    address: str
    info: dict[str, Any] = field(default_factory=dict)


def _bad(text: str, why: str = "") -> ConfigError:
    detail = f"{why}; " if why else "is not a scheduler; "
    return ConfigError(f"--scheduler '{text}' {detail}give {ALLOWED}")


def _local(text: str, count: str) -> SchedulerSpec:
    count = count.strip()
    if not count.isdigit() or not 1 <= int(count) <= MAX_LOCAL_WORKERS:
        raise _bad(text, f"needs N an integer in [1, {MAX_LOCAL_WORKERS}] in local:N")
    return SchedulerSpec("local", text, n_workers=int(count))


def _address(text: str) -> SchedulerSpec:
    full = text if "://" in text else f"tcp://{text}"
    scheme = full.partition("://")[0].lower()
    if scheme not in SCHEMES:
        raise _bad(text, f"has unknown protocol '{scheme}' (allowed: {', '.join(SCHEMES)})")
    try:
        parts = urlsplit(full)
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number or out of range
        host, port = None, None
    if not host or port is None or parts.path not in ("", "/"):
        raise _bad(text, "is not an address HOST:PORT")
    return SchedulerSpec("address", text, address=f"{scheme}://{parts.netloc}")


def _file(text: str, path: Path) -> SchedulerSpec:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(text, f"is a file but not a scheduler JSON file ({type(exc).__name__})") from exc
    address = data.get("address") if isinstance(data, dict) else None
    if not isinstance(address, str) or "://" not in address:
        raise _bad(text, "is a JSON file without a scheduler 'address'")
    return SchedulerSpec("file", text, address=address, path=path)


def parse_scheduler(text: str) -> SchedulerSpec:
    """Read a ``--scheduler`` value (no connection is made; a scheduler file is read)."""
    value = text.strip()
    if not value:
        raise _bad(text, "is empty")
    local = _LOCAL.fullmatch(value)
    if local:
        return _local(text, local.group(1))
    path = Path(value)
    if path.is_file():
        return _file(text, path)
    if path.suffix.lower() == ".json" or path.is_dir():
        raise _bad(text, "is not an existing scheduler JSON file")
    if "://" in value or re.fullmatch(r"[^\s:/]+:\d+", value) or value.startswith("["):
        return _address(value)
    raise _bad(text)


def _describe(spec: SchedulerSpec, client: Any) -> dict[str, Any]:
    scheduler = client.scheduler_info()
    workers = scheduler.get("workers", {})
    return {
        "kind": spec.kind,
        "address": str(scheduler.get("address") or spec.address),
        "n_workers": len(workers),
        "threads": sum(int(w.get("nthreads", 0)) for w in workers.values()),
    }


@contextmanager
def open_cluster(scheduler: str | SchedulerSpec | None) -> Iterator[Cluster | None]:
    """The cluster ``scheduler`` names, open for the ``with`` block (None: run in process).

    ``local:N`` starts N single-threaded worker processes (no dashboard) and stops them at the
    end; an address or a scheduler file connects a client and closes only the client.
    """
    if scheduler is None:
        yield None
        return
    spec = scheduler if isinstance(scheduler, SchedulerSpec) else parse_scheduler(scheduler)
    from distributed import Client, LocalCluster

    local = None
    if spec.kind == "local":
        local = LocalCluster(
            n_workers=spec.n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
    try:
        client = Client(local) if local is not None else Client(spec.address)
        try:
            info = _describe(spec, client)
            cluster = Cluster(spec, client, info["address"], info)
            token = _CURRENT.set(cluster.info)
            try:
                yield cluster
            finally:
                _CURRENT.reset(token)
        finally:
            client.close()
    finally:
        if local is not None:
            local.close()


def current_cluster() -> dict[str, Any] | None:
    """Provenance of the cluster open in this context (None when the work runs in process)."""
    info = _CURRENT.get()
    return None if info is None else dict(info)
