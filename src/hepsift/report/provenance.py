"""Provenance of a run: versions, seeds, command line, host, and checksums of the input data."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["KEY_PACKAGES", "file_sha256", "manifest_checksums", "package_versions", "provenance"]

#: distributions whose versions decide the numbers of a run
KEY_PACKAGES = (
    "hepsift",
    "numpy",
    "scipy",
    "awkward",
    "uproot",
    "vector",
    "pythia8mc",
    "fastjet",
    "scikit-learn",
    "xgboost",
    "torch",
    "onnx",
    "onnxruntime",
    "matplotlib",
    "mplhep",
    "pydantic",
    "dask",
    "distributed",
)


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when absent)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def file_sha256(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def manifest_checksums(paths: Iterable[str | os.PathLike[str]]) -> dict[str, Any]:
    """For each data manifest (or data file): its sha256, and the per-file checksums it lists."""
    out: dict[str, Any] = {}
    for p in paths:
        path = Path(p)
        if not path.is_file():
            continue
        entry: dict[str, Any] = {"sha256": file_sha256(path)}
        if path.suffix == ".json":
            try:
                data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                data = None
            listed = _find_checksums(data)
            if listed:
                entry["files"] = listed
        out[str(path)] = entry
    return out


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text.lower())


def _find_checksums(data: Any, prefix: str = "") -> dict[str, str]:
    """``{name: sha256}`` pairs found anywhere in a manifest (keys containing 'sha256')."""
    found: dict[str, str] = {}
    if isinstance(data, Mapping):
        name = data.get("name") or data.get("path") or data.get("file") or prefix
        for k, v in data.items():
            if "sha256" in str(k) and isinstance(v, str):
                found[str(name) or str(k)] = v
            elif isinstance(v, str) and _is_sha256(v):  # {"file.root": "<sha256>"}
                found[str(k)] = v
            elif isinstance(v, Mapping | list):
                found.update(_find_checksums(v, f"{prefix}{k}/"))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found.update(_find_checksums(v, f"{prefix}{i}"))
    return found


def provenance(
    *,
    seeds: Mapping[str, Any],
    config_name: str,
    data_files: Iterable[str | os.PathLike[str]] = (),
    started: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything needed to say how a run was made (JSON-able)."""
    import numpy as np

    from hepsift.cluster import current_cluster

    return {
        "hepsift": package_versions(["hepsift"])["hepsift"],
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "command_line": list(sys.argv),
        "cwd": os.getcwd(),
        "config": config_name,
        "seeds": dict(seeds),
        "numpy_config": {"version": np.__version__},
        "started_utc": (started or datetime.now(UTC)).isoformat(),
        "finished_utc": datetime.now(UTC).isoformat(),
        "data": manifest_checksums(data_files),
        "cluster": current_cluster(),  # the Dask cluster of --scheduler (None: in process)
        **(dict(extra) if extra else {}),
    }
