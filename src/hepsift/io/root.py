"""ROOT reading with uproot: file/tree/branch checks, chunked iteration, MeV -> GeV once.

Every function here names the file, the tree and the branch in its errors and suggests the
nearest existing names. Files are iterated one after the other with ``TTree.iterate`` so that
memory stays bounded by ``step_size`` whatever the total size; :func:`dask_root` gives the same
arrays lazily through ``uproot.dask`` for a Dask cluster.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hepsift.errors import DataError, HepsiftError, SchemaError, nearest, one_line
from hepsift.io.schema import Schema, check_names, detect_root_schema, get_schema

__all__ = [
    "TREE_CLASSES",
    "PathLike",
    "branch_names",
    "branch_objects",
    "choose_tree",
    "convert_units",
    "dask_root",
    "describe_contents",
    "expand_paths",
    "inspect_root",
    "is_rntuple",
    "iterate_root",
    "open_tree",
    "resolve_branches",
    "value_summary",
]

PathLike = str | os.PathLike[str]
_log = logging.getLogger("hepsift.io")


def expand_paths(paths_or_glob: PathLike | Sequence[PathLike]) -> list[Path]:
    """Files named by a path, a glob pattern or a list of them (sorted within each glob).

    DataError when nothing matches, naming the pattern and the nearest files in its folder.
    """
    items = [paths_or_glob] if isinstance(paths_or_glob, str | os.PathLike) else paths_or_glob
    if not isinstance(items, Sequence | set | frozenset) or not all(
        isinstance(i, str | os.PathLike) for i in items
    ):
        raise DataError(
            f"expected a path, a glob pattern or a list of them; got {paths_or_glob!r}"[:300]
        )
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
        other = _foreign_format(path)
        if other is not None:
            raise DataError(f"'{path}' is {other}, not a ROOT file") from None
        raise DataError(
            f"'{path}' is not a readable ROOT file (corrupt or truncated?): "
            f"{type(exc).__name__}: {one_line(exc, 300)}"
        ) from None


#: first bytes of formats users hand over instead of ROOT files, and what to say about them
_MAGIC = (
    (b"\x93NUMPY", "a single NumPy array (.npy): save X and y together with numpy.savez(...npz)"),
    (b"PK\x03\x04", "a zip archive (NumPy .npz?): name it .npz to read its X and y arrays"),
    (b"\x89HDF", "an HDF5 file: hepsift reads ROOT, CSV, Parquet and NumPy .npz"),
    (b"PAR1", "a Parquet file: name it .parquet"),
    (b"\x1f\x8b", "gzip-compressed: name it .csv.gz if it is a CSV file"),
    (b"\x80", "a Python pickle: hepsift never unpickles data"),
)


def _foreign_format(path: Path) -> str | None:
    """What a file that is not ROOT is, from its first bytes (None: unknown)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    if head.startswith(b"root"):
        return None
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.count(",") >= 1 and "\n" in text:
        return "a text file with commas (CSV?): name it .csv"
    return "a text file" if text.isprintable() or "\n" in text else None


#: ROOT classes read as event trees: the classic TTree and ROOT 7's RNTuple
TREE_CLASSES = ("TTree", "ROOT::RNTuple", "ROOT::Experimental::RNTuple")
#: event trees of known layouts, preferred in this order when a file holds several trees
LAYOUT_TREES = (("Events", "NanoAOD"), ("mini", "ATLAS Open Data"))
#: RNTupleImporter's untyped collections (``_collection0``...): their members are also top-level
#: fields (``Muon_pt``), so they are internals, not branches
_INTERNAL_FIELD = re.compile(r"_collection\d+")


def _classnames(file: Any) -> dict[str, str]:
    """Object path (without cycle) -> ROOT class name, for everything in ``file``."""
    out: dict[str, str] = {}
    for key, cls in file.classnames(recursive=True).items():
        out.setdefault(key.split(";")[0], str(cls))
    return out


def _trees_in(file: Any) -> list[str]:
    return [k for k, v in _classnames(file).items() if v in TREE_CLASSES]


def is_rntuple(t: Any) -> bool:
    """Whether ``t`` (from :func:`open_tree`) is an RNTuple rather than a TTree."""
    return "RNTuple" in str(getattr(t, "classname", ""))


def branch_names(t: Any) -> list[str]:
    """Top-level branch (TTree) or field (RNTuple) names of ``t``, internals left out."""
    names = [str(k) for k in t.keys(recursive=False)]
    if is_rntuple(t):
        names = [n for n in names if not _INTERNAL_FIELD.fullmatch(n)]
    return names


def branch_objects(t: Any) -> list[Any]:
    """The top-level branches (TTree) or fields (RNTuple) of ``t``: each has ``name``,
    ``typename``, ``num_entries`` and ``array(library=..., entry_stop=...)``."""
    if is_rntuple(t):
        return [f for f in t.fields if not _INTERNAL_FIELD.fullmatch(f.name)]
    return list(t.branches)


_KINDS = (
    (("TH1", "TH2", "TH3", "TProfile"), "histogram", "histograms"),
    (("TDirectory",), "directory", "directories"),
    (("TGraph",), "graph", "graphs"),
)


def describe_contents(file: Any) -> str:
    """What a ROOT file holds, grouped by kind: ``2 histograms (h1, h2), 1 directory (d)``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, cls in _classnames(file).items():
        kind = next(((one, many) for pre, one, many in _KINDS if cls.startswith(pre)), (cls, cls))
        groups.setdefault(kind, []).append(name)
    if not groups:
        return "nothing (no keys)"
    parts = []
    for (one, many), names in groups.items():
        more = f", +{len(names) - 4} more" if len(names) > 4 else ""
        label = one if len(names) == 1 else many
        parts.append(f"{len(names)} {label} ({', '.join(names[:4])}{more})")
    return ", ".join(parts)


def _entries(file: Any, name: str) -> int | None:
    try:
        return int(file[name].num_entries)
    except Exception:
        return None


def choose_tree(file: Any, trees: Sequence[str], path: Path, schema: Schema | None) -> str:
    """The event tree of a file holding several: the schema's, a known layout's (NanoAOD
    ``Events``, ATLAS ``mini``), else the one with the most entries; logged at INFO."""
    if schema is not None and schema.tree is not None and schema.tree in trees:
        return schema.tree
    if len(trees) == 1:
        return trees[0]
    if not trees:
        raise SchemaError(f"'{path}' holds no TTree or RNTuple; it holds {describe_contents(file)}")
    why = ""
    chosen = next((t for t, _ in LAYOUT_TREES if t in trees), None)
    if chosen is not None:
        why = dict(LAYOUT_TREES)[chosen] + " event tree"
    else:
        sizes = {t: _entries(file, t) for t in trees}
        ranked = sorted(trees, key=lambda t: -(sizes[t] or -1))
        top, second = ranked[0], ranked[1]
        if sizes[top] is None or sizes[top] == sizes[second]:
            raise SchemaError(
                f"'{path}' holds several trees of equal size {trees}; pass tree=... to choose one"
            )
        chosen, why = top, f"the most entries, {sizes[top]:,}"
    _log.info(
        "'%s' holds trees %s: reading '%s' (%s); pass tree=... for another",
        path,
        ", ".join(trees),
        chosen,
        why,
    )
    return chosen


def open_tree(path: PathLike, tree: str | None = None, schema: Schema | str | None = None) -> Any:
    """The uproot TTree or RNTuple ``tree`` of ``path`` (default: :func:`choose_tree`).

    SchemaError naming the file and the nearest tree names when it is absent.
    """
    p = Path(path)
    file = _open_file(p)
    sch = get_schema(schema)
    try:
        trees = _trees_in(file)
    except Exception as exc:
        raise DataError(f"cannot list the trees of '{p}': {one_line(exc, 300)}") from None
    if tree is None:
        tree = choose_tree(file, trees, p, sch)
    if tree not in trees:
        hints = nearest(tree, trees, n=3, cutoff=0.3)
        hint = f"; nearest: {', '.join(repr(h) for h in hints)}" if hints else ""
        held = f"trees: {', '.join(trees)}" if trees else f"it holds {describe_contents(file)}"
        raise SchemaError(f"'{p}' has no tree '{tree}'{hint} ({held})")
    try:
        t = file[tree]
        branch_names(t)  # reads the metadata now, so that corruption fails here, in one line
        int(t.num_entries)
    except Exception as exc:
        raise DataError(
            f"cannot read tree '{tree}' of '{p}' (corrupt or truncated?): "
            f"{type(exc).__name__}: {one_line(exc, 300)}"
        ) from None
    return t


def resolve_branches(t: Any, branches: Sequence[str] | None, *, where: str) -> list[str]:
    """Branch names of tree ``t`` selected by exact names or glob patterns (None: all)."""
    available = branch_names(t)
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
            detected = detect_root_schema(t.name, branch_names(t))
        names = resolve_branches(t, branches, where=f"tree '{t.name}' of '{p}'")
        plan.append((p, t, names))
    return plan, detected


def _chunks(t: Any, names: Sequence[str], step_size: int | str, stop: int | None) -> Any:
    """Chunks of the branches ``names`` of ``t`` up to entry ``stop``, as awkward records.

    A TTree goes through ``TTree.iterate``. An RNTuple is read field by field per entry range:
    uproot 5.7.7 builds the form of a whole RNTuple by rescanning every field record for every
    field (14 s for 8 of the 969 fields of a NanoAOD RNTuple, against 0.2 s field by field;
    scikit-hep/uproot5#1637, fix proposed in #1723). Its ``_collectionN`` internals never reach
    the chunk. Reading *every* field stays slow (~25 ms per field: each field's first
    ``fields`` lookup rescans all field records), so prefer naming the branches.
    """
    import awkward as ak

    if not is_rntuple(t):
        yield from t.iterate(
            filter_name=list(names), step_size=step_size, entry_stop=stop, library="ak"
        )
        return
    from hepsift.io.tables import rows_per_step

    end = t.num_entries if stop is None else min(stop, t.num_entries)
    rows = rows_per_step(step_size, len(names))
    for start in range(0, end, rows):
        cols = {
            n: t[n].array(entry_start=start, entry_stop=min(end, start + rows), library="ak")
            for n in names
        }
        yield ak.zip(cols, depth_limit=1)


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
            for chunk in _chunks(t, names, step_size, stop):
                if remaining is not None:
                    remaining -= len(chunk)
                yield convert_units(chunk, sch)
        except HepsiftError:
            raise
        except Exception as exc:
            raise DataError(
                f"reading tree '{t.name}' of '{p}' failed (corrupt or truncated file?): "
                f"{type(exc).__name__}: {one_line(exc, 300)}"
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
    if any(is_rntuple(t) for _, t, _ in plan):
        arr = arr[list(names)]  # without the RNTuple's internal _collectionN fields
    return arr, sch


def inspect_root(
    path: PathLike, *, tree: str | None = None, max_entries: int | None = None
) -> dict[str, Any]:
    """Trees, and per branch of the chosen tree(s): type, entries and a value summary.

    Summaries are in the file's own units (no conversion): min/mean/max for numbers; for
    jagged branches also the per-event count min/mean/max. TTrees and RNTuples alike; a file
    with neither says what it holds under ``contents``.
    """
    p = Path(path)
    file = _open_file(p)
    trees = _trees_in(file)
    if tree is not None and tree not in trees:
        open_tree(p, tree)  # raises with the nearest names
    chosen = [tree] if tree is not None else trees
    out: dict[str, Any] = {"file": str(p), "size_bytes": p.stat().st_size, "trees": {}}
    if not trees:
        out["contents"] = describe_contents(file)
    for name in chosen:
        t = open_tree(p, name)
        sch = detect_root_schema(name, branch_names(t))
        out["trees"][name] = {
            "entries": t.num_entries,
            "format": "RNTuple" if is_rntuple(t) else "TTree",
            "schema": None if sch is None else sch.name,
            "energy_unit": None if sch is None else sch.energy_unit,
            "branches": [_branch_row(b, max_entries) for b in branch_objects(t)],
        }
    return out


def _branch_row(b: Any, max_entries: int | None) -> dict[str, Any]:
    """type, entries and value summary of one branch/field; an unreadable one says why."""
    import awkward as ak
    import numpy as np

    row: dict[str, Any] = {"branch": b.name, "type": b.typename, "entries": b.num_entries}
    try:
        arr = b.array(library="ak", entry_stop=max_entries)
    except Exception as exc:  # unreadable branch: say so, keep going
        row["error"] = one_line(exc, 300)
        return row
    if arr.ndim > 1:
        try:
            row["count"] = value_summary(ak.to_numpy(ak.num(arr, axis=1)))
            arr = ak.flatten(arr, axis=None)
        except Exception:
            row["values"] = None
            return row
    try:
        row["values"] = value_summary(np.asarray(ak.to_numpy(arr), dtype=np.float64))
    except Exception:
        row["values"] = None
    return row


def value_summary(values: Any) -> dict[str, float] | None:
    """min, mean, max and count of the finite ``values`` (None if there are none)."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    return {"min": float(v.min()), "mean": float(v.mean()), "max": float(v.max()), "n": int(v.size)}
