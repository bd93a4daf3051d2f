"""The generator's writers and the toy ntuple are written atomically: temporary sibling, fsync,
rename; strict JSON; the mode a plain open() gives; nothing left behind on an error."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from hepsift._files import atomic_write_with
from hepsift.generate import writer
from hepsift.toydata import write_toy_gamgam


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files fsynced during the test (real fsync still called)."""
    names: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        names.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return names


def _expected_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _check_atomic(path: Path, fsynced: list[str]) -> None:
    assert path.is_file()
    # the data reached the disk under the temporary name, before the rename
    assert len(fsynced) == 1, fsynced
    tmp = Path(fsynced[0])
    assert tmp.parent == path.parent and tmp.name.startswith(f".{path.name}.")
    assert ".tmp" in tmp.name and not tmp.exists()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    assert stat.S_IMODE(path.stat().st_mode) == _expected_mode()


def test_write_root_is_fsynced_and_renamed(tmp_path: Path, fsynced: list[str]) -> None:
    path = tmp_path / "out" / "s.root"
    jets = ak.zip({"pt": ak.Array([[50.0, 30.0], [], [40.0]])})
    writer.write_root(path, {"met_et": np.array([1.0, 2.0, 3.0]), "jet": jets})
    _check_atomic(path, fsynced)
    with uproot.open(path) as f:
        t = f["mini"]
        assert t["jet_n"].array(library="np").tolist() == [2, 0, 1]
        assert t["met_et"].array(library="np").tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("kind", ["parquet", "csv", "images", "chunk"])
def test_table_and_array_writers_are_fsynced(kind: str, tmp_path: Path, fsynced: list[str]) -> None:
    data = np.arange(6, dtype=np.float64).reshape(3, 2)
    if kind == "parquet":
        path = tmp_path / "t.parquet"
        writer.write_parquet(path, {"a": data[:, 0], "b": data[:, 1]})
        import pyarrow.parquet as pq

        assert pq.read_table(path).column("b").to_pylist() == [1.0, 3.0, 5.0]
    elif kind == "csv":
        path = tmp_path / "t.csv"
        writer.write_csv(path, ["a", "b"], data, ["%g", "%g"])
        assert path.read_text().splitlines() == ["# a,b", "0,1", "2,3", "4,5"]
    elif kind == "images":
        path = tmp_path / "i.npz"
        writer.write_images(path, np.ones((2, 3, 4, 4)), np.array([7, 9]))
        with np.load(path, allow_pickle=False) as z:
            assert z["event_number"].tolist() == [7, 9]
    else:
        path = tmp_path / "c.npz"
        writer.write_chunk(path, ak.Array([{"x": 1.0}, {"x": 2.0}]), {"seed": 3})
        rows, meta, images = writer.read_chunk(path)
        assert rows.x.tolist() == [1.0, 2.0] and meta == {"seed": 3} and images is None
    _check_atomic(path, fsynced)


def test_write_json_is_strict_and_keeps_integers(tmp_path: Path, fsynced: list[str]) -> None:
    path = tmp_path / "manifest.json"
    writer.write_json(path, {"events": np.int64(1000), "xsec": np.float32(0.5), "bad": np.nan})

    def refuse(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    doc = json.loads(path.read_text(), parse_constant=refuse)
    assert doc == {"events": 1000, "xsec": 0.5, "bad": None}
    assert isinstance(doc["events"], int)
    _check_atomic(path, fsynced)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def boom(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write_with(tmp_path / "x.root", boom, suffix=".root")
    assert list(tmp_path.iterdir()) == []
    # a writer failing half way leaves no file under the final name either
    with pytest.raises(Exception):  # noqa: B017 - whatever uproot raises
        writer.write_root(tmp_path / "y.root", {"x": "not an array"})
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_with_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    atomic_write_with(path, lambda tmp: tmp.write_text("new"))
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_toy_ntuple_is_atomic_and_seeded(tmp_path: Path, fsynced: list[str]) -> None:
    path = tmp_path / "toy.root"
    write_toy_gamgam(path, 300, seed=4, chunk_size=120)
    _check_atomic(path, fsynced)
    again = write_toy_gamgam(tmp_path / "again.root", 300, seed=4, chunk_size=120)
    with uproot.open(path) as a, uproot.open(again) as b:
        ta, tb = a["mini"], b["mini"]
        assert ta.num_entries == 300
        for name in ("mcWeight", "photon_pt", "eventNumber"):
            assert ak.all(ta[name].array() == tb[name].array())
        # one SumWeights for the whole file (over every chunk)
        sumw = ta["SumWeights"].array(library="np")
        assert np.allclose(sumw, ta["mcWeight"].array(library="np").sum(), rtol=1e-5)


def test_root_counters_are_uint32_like_atlas_open_data(tmp_path: Path, atlas_file: Path) -> None:
    jets = ak.zip({"pt": ak.values_astype(ak.Array([[50.0, 30.0], [], [40.0]]), np.float32)})
    writer.write_root(tmp_path / "s.root", {"met_et": np.ones(3, np.float32), "jet": jets})
    with uproot.open(tmp_path / "s.root") as f, uproot.open(atlas_file) as real:
        ours, theirs = f["mini"]["jet_n"], real["mini"]["jet_n"]
        assert ours.typename == theirs.typename == "uint32_t"
        assert ours.interpretation == theirs.interpretation
        assert f["mini"]["jet_pt"].array().tolist() == [[50.0, 30.0], [], [40.0]]
        assert f["mini"]["jet_pt"].title == "jet_pt[jet_n]/F"  # a counted array, not a vector
    # the uint32 counter is scoped to hepsift's write: plain uproot writes are untouched
    with uproot.recreate(tmp_path / "plain.root") as f:
        f.mktree("t", {"jet": jets.type}).extend({"jet": jets})
    with uproot.open(tmp_path / "plain.root") as f:
        assert f["t"]["njet"].typename == "int32_t"


def test_content_checksum_ignores_header_bytes(tmp_path: Path) -> None:
    jets = ak.zip({"pt": ak.Array([[50.0, 30.0], [], [40.0]])})
    branches = {"met_et": np.array([1.0, 2.0, 3.0]), "jet": jets}
    writer.write_root(tmp_path / "a.root", branches)
    writer.write_root(tmp_path / "b.root", branches)
    # uproot writes a fresh UUID (uuid1) and the write time into every file
    assert writer.sha256(tmp_path / "a.root") != writer.sha256(tmp_path / "b.root")
    assert writer.content_sha256(tmp_path / "a.root") == writer.content_sha256(tmp_path / "b.root")
    other = {"met_et": np.array([1.0, 2.0, 3.5]), "jet": jets}
    writer.write_root(tmp_path / "c.root", other)
    assert writer.content_sha256(tmp_path / "c.root") != writer.content_sha256(tmp_path / "a.root")
    # jagged structure counts, not only the flat values
    moved = {
        "met_et": branches["met_et"],
        "jet": ak.zip({"pt": ak.Array([[50.0], [30.0], [40.0]])}),
    }
    writer.write_root(tmp_path / "d.root", moved)
    assert writer.content_sha256(tmp_path / "d.root") != writer.content_sha256(tmp_path / "a.root")
    for name in ("x.parquet", "y.parquet"):
        writer.write_parquet(tmp_path / name, {"a": np.arange(3.0), "s": np.array(["u", "v", "w"])})
    assert writer.content_sha256(tmp_path / "x.parquet") == writer.content_sha256(
        tmp_path / "y.parquet"
    )
    img = np.zeros((2, 3, 50, 50), dtype=np.float32)
    writer.write_images(tmp_path / "i.npz", img, np.array([1, 2]))
    writer.write_images(tmp_path / "j.npz", img, np.array([1, 3]))
    assert writer.content_sha256(tmp_path / "i.npz") != writer.content_sha256(tmp_path / "j.npz")


def test_uproot_still_cannot_write_std_vector_branches(tmp_path: Path) -> None:
    """write_root writes jagged branches as ``float[photon_n]`` because uproot's TTree writer
    has no ``std::vector<float>`` (scikit-hep/uproot5#1486). If this test fails, uproot has
    learnt it: write the jagged branches as vectors like the ATLAS Open Data files."""
    with uproot.recreate(tmp_path / "v.root") as f, pytest.raises((TypeError, ValueError)):
        f.mktree("t", {"x": "std::vector<float>"})
    # what it writes instead: a float32 leaf counted by an int branch, read back intact
    data = ak.values_astype(ak.Array([[1.5, 2.5], [], [3.5]]), np.float32)
    writer.write_root(tmp_path / "j.root", {"photon": ak.zip({"pt": data})}, tree="t")
    with uproot.open(tmp_path / "j.root") as f:
        branch = f["t"]["photon_pt"]
        assert branch.typename == "float[]"
        assert branch.array().tolist() == data.tolist()
