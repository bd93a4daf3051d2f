"""Reading events: ROOT TTree or RNTuple (uproot), CSV, Parquet (pyarrow) and NumPy ``.npz``,
one API.

``read(paths_or_glob, ...)`` returns all events as one awkward record array (energies in GeV);
``iterate(...)`` yields chunks of at most ``step_size`` for streaming. The file type comes from
the name (``.root``, ``.csv[.gz]``, ``.parquet``, ``.npz``), else from the first bytes; a file of
another format (``.npy``, HDF5, pickle...) is named in the error. ``schema`` names a layout (see
:mod:`hepsift.io.schema`: ``atlas-gamgam``, ``nanoaod``, ``higgs``, ``hepmass``, ``photon-id``)
or ``None`` to detect it. A ROOT file with several trees is read from its event tree (NanoAOD
``Events``, ATLAS ``mini``, else the one with the most entries; ``tree=`` overrides); a CSV
file's header and label column are found from its content. Such choices are logged at INFO on
the ``hepsift.io`` logger (``hepsift inspect`` and ``cutflow`` print them as ``note:``).
Heavy libraries are imported on first use.
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
    "check_read_options",
    "expand_paths",
    "file_kind",
    "inspect",
    "iterate",
    "read",
]

from hepsift.io.root import PathLike, expand_paths
from hepsift.io.schema import SCHEMAS, Schema


def file_kind(files: list[Path]) -> str:
    """``"root"``, ``"csv"``, ``"parquet"`` or ``"npz"``: the one type of ``files`` (DataError
    if mixed)."""
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
    check_read_options(tree=tree, branches=branches, step_size=step_size, entry_stop=entry_stop)
    files = expand_paths(paths_or_glob)
    kind = file_kind(files)
    _check_schema_fits(schema, kind, tree)
    if kind == "root":
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


def check_read_options(
    *,
    tree: Any = None,
    branches: Any = None,
    step_size: Any = "100 MB",
    entry_stop: Any = None,
    max_entries: Any = None,
) -> None:
    """DataError (one line) for reader arguments of the wrong type or meaningless values."""
    if tree is not None and not isinstance(tree, str):
        raise DataError(f"tree must be a tree name (str) or None; got {tree!r}")
    if branches is not None and len(branches) == 0 and not isinstance(branches, str | bytes):
        raise DataError("branches is empty: name at least one branch, or None to read them all")
    if branches is not None and (
        isinstance(branches, str | bytes)
        or not isinstance(branches, Sequence | set | frozenset | tuple)
        or not all(isinstance(b, str) for b in branches)
    ):
        raise DataError(
            f"branches must be a list of names or patterns (e.g. ['photon_pt']); got {branches!r}"[
                :300
            ]
        )
    for key, value in (("entry_stop", entry_stop), ("max_entries", max_entries)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DataError(
                f"{key} must be a whole number of events >= 0 or None (all); got {value!r}"
            )
    if isinstance(step_size, bool) or not isinstance(step_size, int | str):
        raise DataError(f"step_size must be a row count or a size like '100 MB'; got {step_size!r}")
    if isinstance(step_size, int) and step_size < 1:
        raise DataError(f"step_size must be a positive row count; got {step_size}")


def _check_schema_fits(schema: Schema | str | None, kind: str, tree: str | None) -> None:
    """DataError when a ROOT layout or ``tree=`` is given for a table, or a CSV layout for a
    ROOT file: the option would be ignored silently."""
    from hepsift.io.schema import get_schema

    sch = get_schema(schema)
    if kind != "root" and tree is not None:
        raise DataError(f"tree='{tree}' applies to ROOT files; this is a {kind} file")
    if sch is None:
        return
    if kind == "root" and sch.columns is not None:
        raise DataError(f"schema '{sch.name}' is a CSV layout; the input is a ROOT file")
    if kind != "root" and sch.tree is not None:
        raise DataError(
            f"schema '{sch.name}' is a ROOT layout (tree '{sch.tree}'); the input is {kind}"
        )
    if kind == "npz" and sch.columns is not None:
        raise DataError(f"schema '{sch.name}' is a CSV layout; the input is a NumPy .npz archive")


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
    check_read_options(tree=tree, max_entries=max_entries)
    files = expand_paths(path)
    kind = file_kind(files[:1])
    _check_schema_fits(None, kind, tree)
    if kind == "root":
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
            "(table)": {
                "entries": len(arr),
                "format": {"csv": "CSV", "parquet": "Parquet", "npz": "NumPy .npz"}[kind],
                "schema": None,
                "energy_unit": None,
                "branches": rows,
            }
        },
    }
