"""Atomic writers of the generated outputs: chunk files, ROOT ntuples (uproot), Parquet, CSV,
images (compressed NPZ), manifest. Every file is written through :mod:`hepsift._files` (a
temporary name in the target folder, fsynced, moved into place with ``os.replace``): an
interrupted run never leaves a truncated file under a final name. Nothing is pickled; NPZ files load with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hepsift._files import atomic_write_json, atomic_write_with

__all__ = [
    "content_sha256",
    "read_chunk",
    "sha256",
    "write_chunk",
    "write_csv",
    "write_images",
    "write_json",
    "write_parquet",
    "write_root",
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _update(h: Any, name: str, value: Any) -> None:
    """Feed one named column (NumPy or awkward) into hash ``h``, independent of file layout."""
    import awkward as ak

    h.update(name.encode() + b"\0")
    if isinstance(value, ak.Array):
        form, length, buffers = ak.to_buffers(ak.to_packed(value))
        h.update(form.to_json().encode() + str(length).encode())
        for key in sorted(buffers):
            h.update(key.encode() + np.ascontiguousarray(buffers[key]).tobytes())
        return
    arr = np.asarray(value)
    if arr.dtype.kind in "OUS":  # strings: their text, one per line
        h.update(b"str" + "\n".join(map(str, arr.ravel().tolist())).encode())
        return
    arr = np.ascontiguousarray(arr)
    h.update(f"{arr.dtype.str}{arr.shape}".encode() + arr.tobytes())


def content_sha256(path: Path) -> str:
    """sha256 of the decoded content of an output file (ROOT branches, Parquet columns, NPZ
    arrays; other files byte for byte): equal for equal events even where the file bytes hold
    a write time or a random UUID (ROOT headers, zip entries)."""
    h = hashlib.sha256()
    suffix = path.suffix.lower()
    if suffix == ".root":
        import uproot

        with uproot.open(path) as f:
            for tree_name in sorted(f.keys(cycle=False, filter_classname="TTree")):
                h.update(tree_name.encode())
                for branch in f[tree_name].branches:
                    _update(h, branch.name, branch.array())
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        for name in table.column_names:
            _update(h, name, table.column(name).to_numpy())
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            for name in sorted(z.files):
                _update(h, name, z[name])
    else:
        return sha256(path)
    return h.hexdigest()


def write_json(path: Path, obj: Any) -> None:
    """``obj`` as strict JSON (numpy values converted, NaN as null), written atomically."""
    atomic_write_json(path, obj)


# ------------------------------------------------------------------------------------ chunks


def write_chunk(
    path: Path, table: Any, meta: Mapping[str, Any], images: np.ndarray | None = None
) -> None:
    """One finished chunk: awkward rows (as buffers), metadata (JSON), optional images."""
    import awkward as ak

    form, length, buffers = ak.to_buffers(ak.to_packed(table))
    arrays: dict[str, np.ndarray] = {f"buf:{k}": np.asarray(v) for k, v in buffers.items()}
    arrays["form"] = np.array(form.to_json())
    arrays["length"] = np.array(length, dtype=np.int64)
    arrays["meta"] = np.array(json.dumps(dict(meta)))
    if images is not None:
        arrays["images"] = images

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]

    atomic_write_with(path, _write, suffix=".npz")


def read_chunk(path: Path) -> tuple[Any, dict[str, Any], np.ndarray | None]:
    """(rows, metadata, images or None) of a chunk file written by :func:`write_chunk`."""
    import awkward as ak

    # the file handle is ours: np.load(path) leaks it when the zip is corrupt
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
        form = ak.forms.from_json(str(z["form"]))
        length = int(z["length"])
        buffers = {k[4:]: z[k] for k in z.files if k.startswith("buf:")}
        meta = json.loads(str(z["meta"]))
        images = z["images"] if "images" in z.files else None
    return ak.from_buffers(form, length, buffers), meta, images


# ------------------------------------------------------------------------------------ outputs


_COUNTER_LOCK = threading.Lock()


@contextlib.contextmanager
def _uint32_counters() -> Iterator[None]:
    """While active, uproot writes the counter branches of jagged branches (``photon_n``, ...)
    as ``uint32`` like the ATLAS Open Data files, instead of its fixed ``int32``.

    uproot (5.7) has no option for the counter type, so this wraps its branch-description
    helper for the duration of one write; if that helper is gone (another uproot) the counters
    stay int32 (which every reader, ROOT included, accepts as well)."""
    try:
        from uproot.writing import _cascadetree as cascade

        original = cascade.Tree._branch_np
    except (ImportError, AttributeError):  # pragma: no cover - another uproot layout
        yield
        return

    def branch_np(
        self: Any, name: str, btype: Any, dtype: Any, counter: Any = None, kind: str = "normal"
    ) -> Any:
        if kind == "counter":
            dtype = btype = np.dtype(np.uint32)
        return original(self, name, btype, dtype, counter=counter, kind=kind)

    with _COUNTER_LOCK:
        cascade.Tree._branch_np = branch_np
        try:
            yield
        finally:
            cascade.Tree._branch_np = original


def write_root(path: Path, branches: Mapping[str, Any], tree: str = "mini") -> None:
    """A ROOT file with one TTree; record fields become ``<record>_<field>`` branches and each
    record's shared counter is ``<record>_n``, ``uint32`` (as in ATLAS Open Data).

    Jagged branches are ROOT variable-size arrays (``float[photon_n]``): uproot cannot write
    ``std::vector<float>`` TTree branches (checked with uproot 5.7.7, the newest release on
    PyPI on 2026-11-28: its TTree writer makes only TBranch/TLeaf of NumPy dtypes and
    ``var * dtype`` arrays with a counter, ``mktree(..., {"x": "std::vector<float>"})`` raises
    ``TypeError: len() of unsized object``; ``std::vector`` exists only in its RNTuple writer,
    which TTree code does not read; feature request scikit-hep/uproot5#1486, open;
    tests/test_generate_writer.py watches for the change). ROOT reads them through
    ``TTreeReaderArray<float>`` and RDataFrame (``RVec<float>``) like the vectors of the real
    files; code binding ``std::vector<float>*`` with ``SetBranchAddress`` does not."""
    import awkward as ak
    import uproot

    # branch types first, then the data: uproot < 5.4 takes only types in mktree
    types = {
        k: v.type if isinstance(v, ak.Array) else np.asarray(v).dtype for k, v in branches.items()
    }

    def _write(tmp: Path) -> None:
        with uproot.recreate(tmp) as f, _uint32_counters():
            f.mktree(
                tree,
                types,
                counter_name=lambda counted: f"{counted}_n",
                field_name=lambda outer, inner: inner if outer == "" else f"{outer}_{inner}",
            ).extend(dict(branches))

    atomic_write_with(path, _write, suffix=".root")


def write_parquet(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({k: np.asarray(v) for k, v in columns.items()})
    atomic_write_with(
        path, lambda tmp: pq.write_table(table, tmp, compression="zstd"), suffix=".parquet"
    )


def write_csv(path: Path, header: list[str], data: np.ndarray, fmt: list[str]) -> None:
    """CSV with a ``# a,b,c`` header line (UCI HEPMASS style)."""

    def _write(tmp: Path) -> None:
        with open(tmp, "w") as f:
            f.write("# " + ",".join(header) + "\n")
            np.savetxt(f, data, fmt=fmt, delimiter=",")

    atomic_write_with(path, _write, suffix=".csv")


def write_images(path: Path, images: np.ndarray, event_number: np.ndarray) -> None:
    """Compressed float16 images (n, 3, 50, 50) and their event numbers (same order as rows)."""

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                images=images.astype(np.float16),
                event_number=np.asarray(event_number),
                channels=np.array(["ECAL_ET", "HCAL_ET", "track_pT"]),
            )

    atomic_write_with(path, _write, suffix=".npz")
