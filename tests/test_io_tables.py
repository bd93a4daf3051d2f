"""CSV/Parquet reading: the UCI HIGGS and HEPMASS layouts, photon-id Parquet, chunking, errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hepsift.io as hio
from hepsift.errors import DataError, SchemaError
from hepsift.io.schema import HEPMASS_COLUMNS, HIGGS_COLUMNS


def _higgs_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.normal(size=(n, 29))
    rows[:, 0] = rng.integers(0, 2, n)
    return rows


def test_higgs_csv_by_detection_and_gzip(tmp_path: Path, rng: np.random.Generator) -> None:
    rows = _higgs_rows(rng, 250)
    path = tmp_path / "HIGGS.csv.gz"
    with gzip.open(path, "wt") as f:
        np.savetxt(f, rows, delimiter=",", fmt="%.9e")
    arr = hio.read(path)
    assert tuple(arr.fields) == HIGGS_COLUMNS
    assert "jet1_btag" in arr.fields and arr.fields[-1] == "m_wwbb"
    np.testing.assert_allclose(ak.to_numpy(arr.m_jj), rows[:, 22])
    np.testing.assert_array_equal(ak.to_numpy(arr.label), rows[:, 0])
    chunks = list(hio.iterate(path, schema="higgs", step_size=100, branches=["label", "m_bb"]))
    assert sum(len(c) for c in chunks) == 250 and chunks[0].fields == ["label", "m_bb"]


def test_hepmass_csv_header(tmp_path: Path, rng: np.random.Generator) -> None:
    rows = rng.normal(size=(40, 29))
    path = tmp_path / "1000_train.csv"
    header = "# " + ",".join(HEPMASS_COLUMNS)
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.6f")
    arr = hio.read(path)
    assert tuple(arr.fields) == HEPMASS_COLUMNS
    np.testing.assert_allclose(ak.to_numpy(arr.mass), rows[:, -1], atol=1e-6)
    assert len(hio.read(path, schema="hepmass", entry_stop=7)) == 7


def test_photon_id_parquet(tmp_path: Path, rng: np.random.Generator) -> None:
    n = 500
    table = pa.table(
        {
            "pt": rng.exponential(40, n) + 25,
            "eta": rng.normal(0, 1, n),
            "Rhad": rng.exponential(0.02, n),
            "label": rng.integers(0, 2, n),
            "weight": np.ones(n),
            "sample": ["prompt"] * n,
        }
    )
    path = tmp_path / "photon_id.parquet"
    pq.write_table(table, path, row_group_size=128)
    arr = hio.read(path, branches=["pt", "Rhad", "label"])
    np.testing.assert_array_equal(ak.to_numpy(arr.pt), table["pt"].to_numpy())
    assert len(list(hio.iterate(path, step_size=100))) >= 4
    with pytest.raises(SchemaError, match=r"has no column 'rhad'; nearest: 'Rhad'"):
        hio.read(path, branches=["rhad"])


def test_table_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet at all PAR1")
    with pytest.raises(DataError, match=r"cannot read PARQUET file '.*bad\.parquet'"):
        hio.read(bad)
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        hio.read(empty)
    (tmp_path / "x.root").write_bytes(b"x")
    with pytest.raises(DataError, match="cannot mix file types"):
        hio.read([bad, tmp_path / "x.root"])
    small = tmp_path / "s.csv"
    small.write_text("a,b\n1,2\n")
    assert hio.read(small).fields == ["a", "b"]
    with pytest.raises(DataError, match="step_size"):
        list(hio.iterate(small, step_size="lots"))


def test_inspect_table(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "t.parquet"
    pt = rng.exponential(40, 50)
    pq.write_table(pa.table({"pt": pt, "sample": ["a"] * 50}), path)
    info = hio.inspect(path)
    rows = {r["branch"]: r for r in info["trees"]["(table)"]["branches"]}
    assert rows["pt"]["values"]["max"] == pytest.approx(pt.max())
    assert rows["sample"]["values"] is None
