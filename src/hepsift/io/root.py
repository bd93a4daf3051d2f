"""ROOT reading with uproot: file/tree/branch checks, chunked iteration, MeV -> GeV once.

Every function here names the file, the tree and the branch in its errors and suggests the
nearest existing names. Files are iterated one after the other with ``TTree.iterate`` so that
memory stays bounded by ``step_size`` whatever the total size; :func:`dask_root` gives the same
arrays lazily through ``uproot.dask`` for a Dask cluster.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hepsift.errors import DataError, HepsiftError, SchemaError, nearest
from hepsift.io.schema import Schema, check_names, detect_root_schema, get_schema

__all__ = [
    "PathLike",
    "convert_units",
    "dask_root",
    "expand_paths",
    "inspect_root",
    "iterate_root",
    "open_tree",
    "resolve_branches",
    "value_summary",
]

PathLike = str | os.PathLike[str]


def expand_paths(paths_or_glob: PathLike | Sequence[PathLike]) -> list[Path]:
    """Files named by a path, a glob pattern or a list of them (sorted within each glob).

    DataError when nothing matches, naming the pattern and the nearest files in its folder.
    """
    items = [paths_or_glob] if isinstance(paths_or_glob, str | os.PathLike) else paths_or_glob
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if any(ch in text for ch in "*?["):
            hits = sorted(glob.glob(text, recursive=True))
            if not hits:
                raise DataError(f"no file matches '{text}'{_folder_hint(Path(text))}")
            out.extend(Path(h) for h in hits if Path(h).is_file())
        else:
            p = Path(text)
            if not p.is_file():
                what = "is a directory, not a file" if p.is_dir() else "does not exist"
                raise DataError(f"input file '{text}' {what}{_folder_hint(p)}")
            out.append(p)
    if not out:
        raise DataError(f"no input files given (got {paths_or_glob!r})")
    return list(dict.fromkeys(out))


def _folder_hint(path: Path) -> str:
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
    except OSError:
        return ""
    if not names:
        return f" (folder '{folder}' holds no files)"
    hits = nearest(path.name, names, n=3, cutoff=0.3)
    if hits:
        return f"; nearest in '{folder}': {', '.join(hits)}"
    return f" ('{folder}' holds {len(names)} files, e.g. {', '.join(names[:3])})"


def _open_file(path: Path) -> Any:
    import uproot

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"cannot read '{path}': {exc.strerror or exc}") from None
    if size == 0:
        raise DataError(f"file '{path}' is empty (0 bytes)")
    try:
        return uproot.open(path, array_cache=None)
    except HepsiftError:
        raise
    except Exception as exc:
        raise DataError(
            f"'{path}' is not a readable ROOT file (corrupt or truncated?): "
            f"{type(exc).__name__}: {_one_line(exc)}"
        ) from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _trees_in(file: Any) -> list[str]:
    return [k.split(";")[0] for k, v in file.classnames(recursive=True).items() if v == "TTree"]


def open_tree(path: PathLike, tree: str | None = None, schema: Schema | str | None = None) -> Any:
    """The uproot TTree ``tree`` of ``path`` (default: the schema's tree, or the only tree).

    SchemaError naming the file and the nearest tree names when it is absent.
    """
    p = Path(path)
    file = _open_file(p)
    sch = get_schema(schema)
    try:
        trees = _trees_in(file)
    except Exception as exc:
        raise DataError(f"cannot list the trees of '{p}': {_one_line(exc)}") from None
    if tree is None:
        if sch is not None and sch.tree in trees:
            tree = sch.tree
        elif len(trees) == 1:
            tree = trees[0]
        elif not trees:
            raise SchemaError(f"'{p}' holds no TTree (keys: {', '.join(file.keys()) or 'none'})")
        else:
            raise SchemaError(f"'{p}' holds several trees {trees}; pass tree=... to choose one")
    if tree not in trees:
        hints = nearest(tree, trees, n=3, cutoff=0.3)
        hint = f"; nearest: {', '.join(repr(h) for h in hints)}" if hints else ""
        raise SchemaError(f"'{p}' has no tree '{tree}'{hint} (trees: {', '.join(trees) or 'none'})")
    try:
        return file[tree]
    except Exception as exc:
        raise DataError(f"cannot read tree '{tree}' of '{p}': {_one_line(exc)}") from None


def resolve_branches(t: Any, branches: Sequence[str] | None, *, where: str) -> list[str]:
    """Branch names of tree ``t`` selected by exact names or glob patterns (None: all)."""
    available = list(t.keys(recursive=False))
    if branches is None:
        return available
    out: list[str] = []
    exact: list[str] = []
    for b in branches:
        if any(ch in b for ch in "*?["):
            hits = [a for a in available if fnmatch.fnmatchcase(a, b)]
            if not hits:
                raise SchemaError(f"{where} has no branch matching '{b}'")
            out.extend(hits)
        else:
            exact.append(b)
            out.append(b)
    check_names(exact, available, what="branch", where=where)
    return list(dict.fromkeys(out))


def convert_units(chunk: Any, schema: Schema | None) -> Any:
    """``chunk`` with the schema's energy branches multiplied into GeV (others untouched)."""
    import awkward as ak

    if schema is None or schema.to_gev == 1.0 or not chunk.fields:
        return chunk
    energy = set(schema.energy_branches(chunk.fields))
    if not energy:
        return chunk
    cols = {
        f: (_scaled(chunk[f], schema.to_gev) if f in energy else chunk[f]) for f in chunk.fields
    }
    return ak.zip(cols, depth_limit=1)


def _scaled(values: Any, factor: float) -> Any:
    """``values * factor`` keeping the dtype; jagged arrays scale their flat content only."""
    import awkward as ak
    import numpy as np

    layout = ak.to_layout(values)
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(
        layout.content, ak.contents.NumpyArray
    ):
        data = np.asarray(layout.content.data)
        if not np.issubdtype(data.dtype, np.floating):  # integer MeV would truncate to 0 GeV
            data = data.astype(np.float32)
        scaled = (data * data.dtype.type(factor)).astype(data.dtype, copy=False)
        return ak.Array(ak.contents.ListOffsetArray(layout.offsets, ak.contents.NumpyArray(scaled)))
    if isinstance(layout, ak.contents.NumpyArray):
        data = np.asarray(layout.data)
        if not np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float32)
        return ak.Array((data * data.dtype.type(factor)).astype(data.dtype, copy=False))
    return values * factor


def _plan(
    files: Sequence[Path], tree: str | None, branches: Sequence[str] | None, schema: Any
) -> tuple[list[tuple[Path, Any, list[str]]], Schema | None]:
    """Open every file first so a bad one fails before any work is done."""
    plan = []
    detected: Schema | None = get_schema(schema)
    for p in files:
        t = open_tree(p, tree, detected)
        if detected is None and schema is None:
            detected = detect_root_schema(t.name, t.keys(recursive=False))
        names = resolve_branches(t, branches, where=f"tree '{t.name}' of '{p}'")
        plan.append((p, t, names))
    return plan, detected


def iterate_root(
    paths_or_glob: PathLike | Sequence[PathLike],
    *,
    tree: str | None = None,
    branches: Sequence[str] | None = None,
    step_size: int | str = "100 MB",
    schema: Schema | str | None = None,
    entry_stop: int | None = None,
) -> Iterator[Any]:
    """Chunks (awkward record arrays, energies in GeV) of at most ``step_size`` each.

    ``schema=None`` auto-detects the layout from the first file (ATLAS ``mini`` -> MeV
    converted; NanoAOD and unknown trees are read as they are). ``entry_stop`` caps the total
    number of events over all files.
    """
    files = expand_paths(paths_or_glob)
    plan, sch = _plan(files, tree, branches, schema)
    remaining = entry_stop
    for p, t, names in plan:
        if remaining is not None and remaining <= 0:
            return
        stop = None if remaining is None else min(remaining, t.num_entries)
        try:
            for chunk in t.iterate(
                filter_name=names, step_size=step_size, entry_stop=stop, library="ak"
            ):
                if remaining is not None:
                    remaining -= len(chunk)
                yield convert_units(chunk, sch)
        except HepsiftError:
            raise
        except Exception as exc:
            raise DataError(
                f"reading tree '{t.name}' of '{p}' failed (corrupt or truncated file?): "
                f"{type(exc).__name__}: {_one_line(exc)}"
            ) from None


def dask_root(
    paths_or_glob: PathLike | Sequence[PathLike],
    *,
    tree: str | None = None,
    branches: Sequence[str] | None = None,
    step_size: int | str = "100 MB",
    schema: Schema | str | None = None,
) -> tuple[Any, Schema | None]:
    """A lazy dask-awkward array over all files (``uproot.dask``) and the detected schema.

    Units are *not* converted yet: apply :func:`convert_units` per partition.
    """
    import uproot

    files = expand_paths(paths_or_glob)
    plan, sch = _plan(files, tree, branches, schema)
    names = plan[0][2]
    spec = {str(p): t.name for p, t, _ in plan}
    arr = uproot.dask(spec, filter_name=names, step_size=step_size, library="ak")
    return arr, sch


def inspect_root(
    path: PathLike, *, tree: str | None = None, max_entries: int | None = None
) -> dict[str, Any]:
    """Trees, and per branch of the chosen tree(s): type, entries and a value summary.

    Summaries are in the file's own units (no conversion): min/mean/max for numbers; for
    jagged branches also the per-event count min/mean/max.
    """
    import awkward as ak
    import numpy as np

    p = Path(path)
    file = _open_file(p)
    trees = _trees_in(file)
    if tree is not None and tree not in trees:
        open_tree(p, tree)  # raises with the nearest names
    chosen = [tree] if tree is not None else trees
    out: dict[str, Any] = {"file": str(p), "size_bytes": p.stat().st_size, "trees": {}}
    for name in chosen:
        t = open_tree(p, name)
        sch = detect_root_schema(name, t.keys(recursive=False))
        rows = []
        for b in t.branches:
            row: dict[str, Any] = {"branch": b.name, "type": b.typename, "entries": b.num_entries}
            try:
                arr = b.array(library="ak", entry_stop=max_entries)
            except Exception as exc:  # unreadable branch: say so, keep going
                row["error"] = _one_line(exc)
                rows.append(row)
                continue
            depth = arr.ndim
            if depth > 1:
                counts = ak.to_numpy(ak.num(arr, axis=1))
                row["count"] = value_summary(counts)
                arr = ak.flatten(arr, axis=None)
            try:
                values = np.asarray(ak.to_numpy(arr), dtype=np.float64)
                row["values"] = value_summary(values)
            except Exception:
                row["values"] = None
            rows.append(row)
        out["trees"][name] = {
            "entries": t.num_entries,
            "schema": None if sch is None else sch.name,
            "energy_unit": None if sch is None else sch.energy_unit,
            "branches": rows,
        }
    return out


def value_summary(values: Any) -> dict[str, float] | None:
    """min, mean, max and count of the finite ``values`` (None if there are none)."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    return {"min": float(v.min()), "mean": float(v.mean()), "max": float(v.max()), "n": int(v.size)}
