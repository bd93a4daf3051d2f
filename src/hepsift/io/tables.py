"""CSV, Parquet and NumPy ``.npz`` reading, including the UCI HIGGS and HEPMASS layouts.

Tables arrive as flat awkward record arrays (one field per column) so that selection and
features treat them like ROOT trees. ``step_size`` is a number of rows or a memory size such
as ``"100 MB"`` (converted to rows at 8 bytes per column). A CSV file's header line and the
place of its label column are detected from its first rows, not assumed from its width; a
``.npz`` archive is opened with ``allow_pickle=False`` (``X`` + ``y``, or 1-D columns).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hepsift.errors import DataError, HepsiftError, one_line
from hepsift.io.schema import HEPMASS_COLUMNS, HIGGS_COLUMNS, Schema, check_names, get_schema

__all__ = [
    "csv_options",
    "detect_csv_schema",
    "has_header",
    "head_rows",
    "iterate_table",
    "npz_columns",
    "rows_per_step",
    "table_columns",
    "table_kind",
]

_log = logging.getLogger("hepsift.io")
_UNITS = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "b": 1.0, "kib": 1024.0, "mib": 1024.0**2}


def table_kind(path: Path) -> str | None:
    """``"csv"``, ``"parquet"``, ``"npz"`` or None, from the file name, else from the first bytes
    (Parquet ``PAR1``, zip ``PK``: a NumPy ``.npz``) of a file not named ``.root``."""
    name = path.name.lower()
    for suffix in (".gz", ".bz2", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith((".csv", ".txt")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".root"):
        return None
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return None
    return {b"PAR1": "parquet", b"PK\x03\x04": "npz"}.get(magic)


def rows_per_step(step_size: int | str, n_columns: int) -> int:
    """Rows per chunk for a row count or a memory size like ``"100 MB"``."""
    if isinstance(step_size, int) and not isinstance(step_size, bool):
        if step_size < 1:
            raise DataError(f"step_size must be a positive row count or a size; got {step_size}")
        return step_size
    text = str(step_size).strip().lower().replace(" ", "")
    for unit, factor in sorted(_UNITS.items(), key=lambda kv: -len(kv[0])):
        if text.endswith(unit):
            try:
                size = float(text[: -len(unit)]) * factor
            except ValueError:
                break
            if not size > 0:
                break
            return max(1, int(size // (8 * max(n_columns, 1))))
    raise DataError(f"step_size must be a row count or a size like '100 MB'; got {step_size!r}")


def _head(path: Path, size: int = 1 << 16) -> str:
    import pyarrow as pa

    with pa.input_stream(str(path), compression="detect") as f:
        head: bytes = f.read(size)
    return head.decode("utf-8", "replace")


def _first_line(path: Path) -> str:
    return _head(path, 4096).split("\n", 1)[0]


def head_rows(path: Path, n: int = 500) -> list[list[str]]:
    """The first (at most ``n``) complete lines of a CSV file, split at commas."""
    lines = _head(path).splitlines()
    if len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    return [[c.strip().strip('"') for c in line.split(",")] for line in lines[:n] if line.strip()]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == ""  # a missing value
    return True


def has_header(rows: Sequence[Sequence[str]]) -> bool:
    """Whether the first row names the columns: it holds text where the rows below hold
    numbers (or it is the only row and holds text)."""
    if not rows or all(_is_number(c) for c in rows[0]):
        return False
    text_cols = [j for j, c in enumerate(rows[0]) if not _is_number(c)]
    if len(rows) == 1:
        return True
    return any(all(j < len(r) and _is_number(r[j]) for r in rows[1:]) for j in text_cols)


def _label_values(rows: Sequence[Sequence[str]], j: int) -> set[float]:
    """The values of column ``j`` if they are labels 0/1 only (else an empty set)."""
    try:
        values = {float(r[j]) for r in rows}
    except (ValueError, IndexError):
        return set()
    return values if values <= {0.0, 1.0} else set()


def _label_column(rows: Sequence[Sequence[str]]) -> str | None:
    """``"first"`` or ``"last"``: where the 0/1 label column of a headerless file is. A column
    holding both labels wins over one holding a single label (a one-class file)."""
    first, last = _label_values(rows, 0), _label_values(rows, len(rows[0]) - 1)
    for size in (2, 1):
        if len(first) == size:
            return "first"
        if len(last) == size:
            return "last"
    return None


def detect_csv_schema(path: Path) -> Schema | None:
    """``hepmass`` (``# label,...`` header), ``higgs`` (29 numeric columns, no header, a 0/1
    label column first or last) or None (columns named by the header, or ``f0, f1, ...``)."""
    line = _first_line(path).strip()
    if line.startswith("#") and "label" in line and "mass" in line:
        return get_schema("hepmass")
    rows = head_rows(path)
    if not rows or has_header(rows) or len(rows[0]) != len(HIGGS_COLUMNS):
        return None
    if not all(_is_number(c) for r in rows for c in r) or _label_column(rows) is None:
        return None
    return get_schema("higgs")


def _fixed_layout(path: Path, schema: Schema, rows: list[list[str]]) -> tuple[list[str], int]:
    """(column names, lines to skip) of a CSV file in a layout with fixed columns (HIGGS):
    its own header when that names the layout's columns; else the label first (UCI) or last,
    whichever column holds only 0/1 labels. The layout assumed is logged."""
    assert schema.columns is not None
    want = list(schema.columns)
    if rows and has_header(rows):
        names = rows[0]
        if sorted(n.lower() for n in names) != sorted(c.lower() for c in want):
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            raise DataError(
                f"'{path}' has a header line ({shown}) that does not name the {schema.name} "
                f"columns ({want[0]}, {want[1]}, ...): read it without schema= to use its names"
            )
        _log.info("'%s': %s layout with a header line naming the columns", path, schema.name)
        by_lower = {c.lower(): c for c in want}
        return [by_lower[n.lower()] for n in names], 1
    width = len(rows[0]) if rows else len(want)
    if width != len(want):
        raise DataError(
            f"'{path}' has {width} columns; the {schema.name} layout has {len(want)} "
            f"({want[0]}, {want[1]}, ...)"
        )
    where = _label_column(rows) if rows else "first"
    if where is None or want[0] != "label":
        firsts = sorted({r[0] for r in rows})[:3]
        raise DataError(
            f"'{path}' does not follow the {schema.name} layout: neither its first column "
            f"(values {', '.join(firsts)}, ...) nor its last holds 0/1 labels"
        )
    if where == "last":
        _log.info(
            "'%s': %s layout with the label in the LAST column (UCI has it first)",
            path,
            schema.name,
        )
        return [*want[1:], want[0]], 0
    _log.info("'%s': %s layout, no header, label in the first column (UCI)", path, schema.name)
    return want, 0


def csv_options(path: Path, schema: Schema | None) -> tuple[Any, list[str] | None]:
    """(pyarrow ReadOptions, column names or None) of a CSV file in layout ``schema``.

    Headers and the place of the label are detected from the content (:func:`has_header`);
    a headerless file without a layout gets columns ``f0, f1, ...``.
    """
    import pyarrow.csv as pcsv

    if schema is not None and schema.name == "hepmass":
        header = _first_line(path).lstrip("#").strip()
        names = [h.strip() for h in header.split(",")]
        if len(names) != len(HEPMASS_COLUMNS):
            raise DataError(
                f"'{path}' does not follow the HEPMASS layout: header has {len(names)} columns, "
                f"expected {len(HEPMASS_COLUMNS)} (# label,f0,...,f26,mass)"
            )
        return pcsv.ReadOptions(column_names=names, skip_rows=1), names
    rows = head_rows(path)
    if schema is not None and schema.columns is not None:
        names, skip = _fixed_layout(path, schema, rows)
        return pcsv.ReadOptions(column_names=names, skip_rows=skip), names
    if rows and not has_header(rows):
        names = [f"f{i}" for i in range(len(rows[0]))]
        _log.info("'%s': no header line; columns named f0..f%d", path, len(names) - 1)
        return pcsv.ReadOptions(column_names=names), names
    return pcsv.ReadOptions(), None


def table_columns(path: Path, schema: Schema | None) -> tuple[list[str], Schema | None]:
    """(column names, schema) of a CSV/Parquet file without reading its rows.

    A CSV file's layout is detected (:func:`detect_csv_schema`) when ``schema`` is None.
    """
    kind = table_kind(path)
    if kind == "npz":
        return list(npz_columns(path)), schema
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names), schema
    import pyarrow.csv as pcsv

    schema = schema or detect_csv_schema(path)
    opts, _ = csv_options(path, schema)
    reader = pcsv.open_csv(path, read_options=opts)
    names = list(reader.schema.names)
    reader.close()
    return names, schema


def _batches(
    path: Path,
    kind: str,
    schema: Schema | None,
    columns: Sequence[str] | None,
    step_size: int | str,
) -> Iterator[Any]:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if kind == "parquet":
        pf = pq.ParquetFile(path)
        pq_names = list(pf.schema_arrow.names)
        if columns is not None:
            check_names(list(columns), pq_names, what="column", where=f"'{path}'")
        cols = list(columns) if columns is not None else pq_names
        rows = rows_per_step(step_size, len(cols))
        yield from pf.iter_batches(batch_size=rows, columns=cols)
        return
    opts, _ = csv_options(path, schema)
    probe = pcsv.open_csv(path, read_options=opts)
    all_names = list(probe.schema.names)
    probe.close()
    if columns is not None:
        check_names(list(columns), all_names, what="column", where=f"'{path}'")
    rows = rows_per_step(step_size, len(all_names))
    opts.block_size = max(1 << 16, min(rows * 16 * len(all_names), 1 << 30))
    conv = pcsv.ConvertOptions(include_columns=list(columns) if columns is not None else None)
    reader = pcsv.open_csv(path, read_options=opts, convert_options=conv)
    yield from reader


def _to_awkward(batch: Any) -> Any:
    import awkward as ak
    import numpy as np
    import pyarrow as pa

    cols = {}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
        if numeric or pa.types.is_boolean(col.type):
            values = col.to_numpy(zero_copy_only=False)
            if col.null_count:
                values = np.asarray(values, dtype=np.float64)
            cols[name] = values
        else:  # strings and nested columns
            cols[name] = ak.from_arrow(col)
    return ak.zip(cols, depth_limit=1) if cols else ak.Array([])


_NPZ_NAMES = {"y": "label", "labels": "label", "w": "weight", "weights": "weight"}
_NPZ_FEATURE_NAMES = ("feature_names", "columns", "names")


def _npz_arrays(path: Path) -> dict[str, Any]:
    import numpy as np

    try:  # our own handle: numpy leaks the one it opens when the zip is unreadable
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            return {k: np.asarray(z[k]) for k in z.files}
    except ValueError as exc:
        if "pickle" in str(exc):  # object arrays: loading them would unpickle
            raise DataError(
                f"'{path}' holds pickled Python objects ({one_line(exc, 200)}); hepsift never "
                "unpickles data: save plain numeric arrays (numpy.savez(path, X=X, y=y))"
            ) from None
        raise DataError(
            f"'{path}' is not a readable NumPy .npz archive: {one_line(exc, 200)}"
        ) from None
    except Exception as exc:  # zip, zlib and header errors of a corrupt or truncated file
        raise DataError(
            f"'{path}' is not a readable NumPy .npz archive (corrupt or truncated?): "
            f"{type(exc).__name__}: {one_line(exc, 200)}"
        ) from None


def npz_columns(path: Path) -> dict[str, Any]:
    """The columns of a NumPy ``.npz`` archive (loaded with ``allow_pickle=False``).

    A 2-D ``X`` gives one column per feature, named by a ``feature_names`` (or ``columns``,
    ``names``) string array when present, else ``f0, f1, ...``; ``y``/``labels`` becomes
    ``label``, ``w``/``weights`` becomes ``weight``; every other 1-D array of the same length
    keeps its name. DataError saying what the archive holds when no table can be made.
    """
    arrays = _npz_arrays(path)
    shapes = ", ".join(
        f"{k} {'x'.join(map(str, v.shape)) or 'scalar'} {v.dtype}" for k, v in arrays.items()
    )
    X = arrays.get("X", arrays.get("x"))
    cols: dict[str, Any] = {}
    if X is not None and X.ndim == 2:
        names = next((arrays[k] for k in _NPZ_FEATURE_NAMES if k in arrays), None)
        if names is None or names.ndim != 1 or len(names) != X.shape[1]:
            names = [f"f{i}" for i in range(X.shape[1])]
        cols = {str(n): X[:, i] for i, n in enumerate(names)}
    n = len(X) if X is not None and X.ndim == 2 else None
    for key, arr in arrays.items():
        if key in ("X", "x") or key in _NPZ_FEATURE_NAMES or arr.ndim != 1:
            continue
        if n is None:
            n = len(arr)
        if len(arr) == n:
            cols[_NPZ_NAMES.get(key, key)] = arr
    if not cols or any(getattr(v.dtype, "kind", "O") not in "biufUSb" for v in cols.values()):
        raise DataError(
            f"'{path}' is a NumPy archive holding {shapes or 'no arrays'}; hepsift reads X "
            "(rows x features) with y (labels), or 1-D columns of one length"
        )
    return cols


def _npz_chunks(path: Path, columns: Sequence[str] | None, step_size: int | str) -> Iterator[Any]:
    import awkward as ak

    cols = npz_columns(path)
    if columns is not None:
        check_names(list(columns), list(cols), what="column", where=f"'{path}'")
        cols = {c: cols[c] for c in columns}
    n = len(next(iter(cols.values())))
    rows = rows_per_step(step_size, len(cols))
    for start in range(0, n, rows):
        yield ak.zip({k: v[start : start + rows] for k, v in cols.items()}, depth_limit=1)


def _file_chunks(
    path: Path,
    kind: str,
    schema: Schema | None,
    columns: Sequence[str] | None,
    step_size: int | str,
) -> Iterator[Any]:
    if kind == "npz":
        yield from _npz_chunks(path, columns, step_size)
        return
    for batch in _batches(path, kind, schema, columns, step_size):
        if batch.num_rows:
            yield _to_awkward(batch)


def iterate_table(
    files: Sequence[Path],
    *,
    columns: Sequence[str] | None = None,
    step_size: int | str = "100 MB",
    schema: Schema | str | None = None,
    entry_stop: int | None = None,
) -> Iterator[Any]:
    """Chunks of CSV/Parquet/.npz files as awkward record arrays (nulls become NaN)."""
    sch = get_schema(schema)
    remaining = entry_stop
    for path in files:
        kind = table_kind(path)
        if kind is None:
            raise DataError(f"'{path}' is neither CSV, Parquet nor .npz (by its name)")
        if path.stat().st_size == 0:
            raise DataError(f"file '{path}' is empty (0 bytes)")
        file_schema = sch if sch is not None or kind != "csv" else detect_csv_schema(path)
        try:
            for chunk in _file_chunks(path, kind, file_schema, columns, step_size):
                if remaining is not None:
                    if remaining <= 0:
                        return
                    chunk = chunk[:remaining]
                    remaining -= len(chunk)
                yield chunk
        except HepsiftError:
            raise
        except Exception as exc:
            raise DataError(
                f"cannot read {kind.upper()} file '{path}': {type(exc).__name__}: {one_line(exc, 200)}"
            ) from None
