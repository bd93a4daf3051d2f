"""Reading events: ROOT (uproot), CSV and Parquet (pyarrow), one API.

``read(paths_or_glob, ...)`` returns all events as one awkward record array (energies in GeV);
``iterate(...)`` yields chunks of at most ``step_size`` for streaming. The file type comes from
the name (``.root``, ``.csv[.gz]``, ``.parquet``); ``schema`` names a layout (see
:mod:`hepsift.io.schema`: ``atlas-gamgam``, ``nanoaod``, ``higgs``, ``hepmass``, ``photon-id``)
or ``None`` to detect it. Heavy libraries are imported on first use.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

from hepsift.errors import DataError

__all__ = [
    "SCHEMAS",
    "ReadOptions",
    "Schema",
    "expand_paths",
    "file_kind",
    "inspect",
    "iterate",
    "read",
]

from hepsift.io.root import PathLike, expand_paths
from hepsift.io.schema import SCHEMAS, Schema


def file_kind(files: list[Path]) -> str:
    """``"root"``, ``"csv"`` or ``"parquet"``: the one type of ``files`` (DataError if mixed)."""
    from hepsift.io.tables import table_kind

    kinds = {table_kind(p) or ("root" if p.suffix.lower() == ".root" else "root?") for p in files}
    kinds = {"root" if k == "root?" else k for k in kinds}
    if len(kinds) > 1:
        raise DataError(
            f"cannot mix file types in one read: {sorted(kinds)} among {[str(f) for f in files[:5]]}"
        )
    return kinds.pop()


def iterate(
    paths_or_glob: PathLike | Sequence[PathLike],
    *,
    tree: str | None = None,
    branches: Sequence[str] | None = None,
    step_size: int | str = "100 MB",
    schema: Schema | str | None = None,
    entry_stop: int | None = None,
) -> Iterator[Any]:
    """Chunks of events (awkward record arrays, energies in GeV) from ROOT/CSV/Parquet files.

    ``branches`` are branch names (or glob patterns for ROOT) / column names; None reads all.
    """
    files = expand_paths(paths_or_glob)
    if file_kind(files) == "root":
        from hepsift.io.root import iterate_root

        yield from iterate_root(
            files,
            tree=tree,
            branches=branches,
            step_size=step_size,
            schema=schema,
            entry_stop=entry_stop,
        )
    else:
        from hepsift.io.tables import iterate_table

        yield from iterate_table(
            files, columns=branches, step_size=step_size, schema=schema, entry_stop=entry_stop
        )


class ReadOptions(TypedDict, total=False):
    """The keyword options of :func:`iterate`, which :func:`read` passes on as they are."""

    tree: str | None
    branches: Sequence[str] | None
    step_size: int | str
    schema: Schema | str | None
    entry_stop: int | None


def read(paths_or_glob: PathLike | Sequence[PathLike], **options: Unpack[ReadOptions]) -> Any:
    """All events as one awkward record array (options and defaults: see :func:`iterate`)."""
    import awkward as ak

    chunks = list(iterate(paths_or_glob, **options))
    if not chunks:
        return ak.Array([])
    return chunks[0] if len(chunks) == 1 else ak.concatenate(chunks)


def inspect(
    path: PathLike, *, tree: str | None = None, max_entries: int | None = None
) -> dict[str, Any]:
    """Trees/columns, types, entries and per-branch summaries of one file (file units)."""
    files = expand_paths(path)
    if file_kind(files[:1]) == "root":
        from hepsift.io.root import inspect_root

        return inspect_root(files[0], tree=tree, max_entries=max_entries)
    import awkward as ak
    import numpy as np

    from hepsift.io.root import value_summary

    arr = read(files[0], entry_stop=max_entries)
    rows = []
    for name in arr.fields:
        col = arr[name]
        rows.append(
            {
                "branch": name,
                "type": str(ak.type(col).content),
                "entries": len(col),
                "values": value_summary(np.asarray(ak.to_numpy(col), dtype=np.float64))
                if np.issubdtype(ak.to_numpy(col).dtype, np.number)
                else None,
            }
        )
    return {
        "file": str(files[0]),
        "size_bytes": files[0].stat().st_size,
        "trees": {
            "(table)": {"entries": len(arr), "schema": None, "energy_unit": None, "branches": rows}
        },
    }
