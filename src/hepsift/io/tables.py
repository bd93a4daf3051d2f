"""CSV and Parquet reading through pyarrow, including the UCI HIGGS and HEPMASS layouts.

Tables arrive as flat awkward record arrays (one field per column) so that selection and
features treat them like ROOT trees. ``step_size`` is a number of rows or a memory size such
as ``"100 MB"`` (converted to rows at 8 bytes per column).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hepsift.errors import DataError, HepsiftError
from hepsift.io.schema import HEPMASS_COLUMNS, HIGGS_COLUMNS, Schema, check_names, get_schema

__all__ = [
    "csv_options",
    "detect_csv_schema",
    "iterate_table",
    "rows_per_step",
    "table_columns",
    "table_kind",
]

_UNITS = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "b": 1.0, "kib": 1024.0, "mib": 1024.0**2}


def table_kind(path: Path) -> str | None:
    """``"csv"``, ``"parquet"`` or None from the file name."""
    name = path.name.lower()
    for suffix in (".gz", ".bz2", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith((".csv", ".txt")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    return None


def rows_per_step(step_size: int | str, n_columns: int) -> int:
    """Rows per chunk for a row count or a memory size like ``"100 MB"``."""
    if isinstance(step_size, int):
        return max(1, step_size)
    text = str(step_size).strip().lower().replace(" ", "")
    for unit, factor in sorted(_UNITS.items(), key=lambda kv: -len(kv[0])):
        if text.endswith(unit):
            try:
                size = float(text[: -len(unit)]) * factor
            except ValueError:
                break
            return max(1, int(size // (8 * max(n_columns, 1))))
    raise DataError(f"step_size must be a row count or a size like '100 MB'; got {step_size!r}")


def _first_line(path: Path) -> str:
    import pyarrow as pa

    with pa.input_stream(str(path), compression="detect") as f:
        head: bytes = f.read(4096)
    return head.decode("utf-8", "replace").split("\n", 1)[0]


def detect_csv_schema(path: Path) -> Schema | None:
    """``hepmass`` (``# label,...`` header), ``higgs`` (29 numeric columns) or None."""
    line = _first_line(path).strip()
    if line.startswith("#") and "label" in line and "mass" in line:
        return get_schema("hepmass")
    parts = line.split(",")
    if len(parts) == len(HIGGS_COLUMNS):
        try:
            [float(x) for x in parts]
        except ValueError:
            return None
        return get_schema("higgs")
    return None


def csv_options(path: Path, schema: Schema | None) -> tuple[Any, list[str] | None]:
    """(pyarrow ReadOptions, column names or None) of a CSV file in layout ``schema``."""
    import pyarrow.csv as pcsv

    if schema is None:
        return pcsv.ReadOptions(), None
    if schema.name == "hepmass":
        header = _first_line(path).lstrip("#").strip()
        names = [h.strip() for h in header.split(",")]
        if len(names) != len(HEPMASS_COLUMNS):
            raise DataError(
                f"'{path}' does not follow the HEPMASS layout: header has {len(names)} columns, "
                f"expected {len(HEPMASS_COLUMNS)} (# label,f0,...,f26,mass)"
            )
        return pcsv.ReadOptions(column_names=names, skip_rows=1), names
    if schema.columns is not None:
        names = list(schema.columns)
        skip = 1 if schema.header else 0
        return pcsv.ReadOptions(column_names=names, skip_rows=skip), names
    return pcsv.ReadOptions(), None


def table_columns(path: Path, schema: Schema | None) -> tuple[list[str], Schema | None]:
    """(column names, schema) of a CSV/Parquet file without reading its rows.

    A CSV file's layout is detected (:func:`detect_csv_schema`) when ``schema`` is None.
    """
    if table_kind(path) == "parquet":
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


def iterate_table(
    files: Sequence[Path],
    *,
    columns: Sequence[str] | None = None,
    step_size: int | str = "100 MB",
    schema: Schema | str | None = None,
    entry_stop: int | None = None,
) -> Iterator[Any]:
    """Chunks of CSV/Parquet files as awkward record arrays (nulls become NaN)."""
    sch = get_schema(schema)
    remaining = entry_stop
    for path in files:
        kind = table_kind(path)
        if kind is None:
            raise DataError(f"'{path}' is neither CSV nor Parquet (by its name)")
        if path.stat().st_size == 0:
            raise DataError(f"file '{path}' is empty (0 bytes)")
        file_schema = sch if sch is not None or kind == "parquet" else detect_csv_schema(path)
        try:
            for batch in _batches(path, kind, file_schema, columns, step_size):
                if remaining is not None:
                    if remaining <= 0:
                        return
                    batch = batch.slice(0, remaining)
                    remaining -= batch.num_rows
                if batch.num_rows:
                    yield _to_awkward(batch)
        except HepsiftError:
            raise
        except Exception as exc:
            text = " ".join(str(exc).split())[:300]
            raise DataError(
                f"cannot read {kind.upper()} file '{path}': {type(exc).__name__}: {text}"
            ) from None
