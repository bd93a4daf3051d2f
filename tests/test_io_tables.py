"""CSV/Parquet/.npz reading: the UCI HIGGS and HEPMASS layouts detected from content,
photon-id Parquet, text labels, NumPy archives, chunking, and every error path."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import hepsift.io as hio
from hepsift.config import load_config
from hepsift.errors import ConfigError, DataError, SchemaError
from hepsift.io.schema import HEPMASS_COLUMNS, HIGGS_COLUMNS
from hepsift.prepare import SampleSpec, build_dataset


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


# -- layouts detected from content (issue 12) -----------------------------------------------


def test_higgs_csv_with_a_header_reads_numbers_under_their_names(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    rows = _higgs_rows(rng, 60)
    path = tmp_path / "higgs_header.csv"
    np.savetxt(path, rows, delimiter=",", header=",".join(HIGGS_COLUMNS), comments="")
    for schema in ("higgs", None):
        arr = hio.read(path, schema=schema)
        assert len(arr) == 60 and tuple(arr.fields) == HIGGS_COLUMNS
        np.testing.assert_allclose(ak.to_numpy(arr.lepton_pT), rows[:, 1])
        np.testing.assert_array_equal(ak.to_numpy(arr.label), rows[:, 0])
    other = tmp_path / "other_header.csv"
    names = [f"v{i}" for i in range(29)]
    np.savetxt(other, rows, delimiter=",", header=",".join(names), comments="")
    with pytest.raises(DataError, match=r"header line \(v0, v1, v2, v3, \.\.\.\) that does not"):
        hio.read(other, schema="higgs")
    assert hio.read(other).fields == names  # without schema=: its own names


def test_higgs_label_last_is_detected_and_said(
    tmp_path: Path, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    rows = _higgs_rows(rng, 80)
    rows[:, 1] = rng.exponential(1.0, 80)  # lepton pT: many values, not a label
    path = tmp_path / "label_last.csv"
    np.savetxt(path, np.roll(rows, -1, axis=1), delimiter=",")
    for schema in ("higgs", None):
        with caplog.at_level(logging.INFO, logger="hepsift.io"):
            arr = hio.read(path, schema=schema)
        assert arr.fields[-1] == "label" and arr.fields[0] == "lepton_pT"
        np.testing.assert_array_equal(ak.to_numpy(arr.label), rows[:, 0])
        np.testing.assert_allclose(ak.to_numpy(arr.lepton_pT), rows[:, 1])
        assert "LAST column" in caplog.text
        caplog.clear()
    no_label = tmp_path / "no_label.csv"
    np.savetxt(no_label, rng.normal(size=(30, 29)), delimiter=",")
    with pytest.raises(DataError, match=r"neither its first column .* nor its last holds 0/1"):
        hio.read(no_label, schema="higgs")
    generic = hio.read(no_label)  # no layout: every row is data, columns f0..f28
    assert len(generic) == 30 and generic.fields[:2] == ["f0", "f1"]


def test_headerless_csv_keeps_its_first_row(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("1.5,2,3\n4,5,6\n")
    arr = hio.read(path)
    assert arr.fields == ["f0", "f1", "f2"] and ak.to_list(arr.f0) == [1.5, 4.0]


def test_text_labels_need_a_mapping(tmp_path: Path, rng: np.random.Generator) -> None:
    """HiggsML: a header, a Weight column and s/b labels in Label."""
    n = 40
    lab = np.where(rng.random(n) < 0.4, "s", "b")
    x = rng.normal(size=n)
    w = rng.uniform(0.001, 2.0, n)
    path = tmp_path / "training.csv"
    lines = ["EventId,DER_mass_MMC,Weight,Label"]
    lines += [f"{100000 + i},{x[i]:.6f},{w[i]:.6f},{lab[i]}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    arr = hio.read(path)
    assert ak.to_list(arr.Label) == lab.tolist()
    spec = {"name": "higgsml", "files": str(path), "label_branch": "Label"}
    sample = {
        **spec,
        "labels": {"s": "signal", "b": "background"},
        "kind": "mc",
        "weight_branch": "Weight",
        "xsection_pb": 1.0,
        "sum_weights": 1.0,
    }
    ds, _ = build_dataset([sample], features=["DER_mass_MMC"], lumi_fb=1e-3)
    np.testing.assert_array_equal(ds.y, (lab == "s").astype(int))
    np.testing.assert_allclose(ds.weight, np.round(w, 6), rtol=1e-9)
    assert ds.class_names == ("background", "signal")
    with pytest.raises(DataError, match=r"holds text labels \(b, s\); map them"):
        build_dataset([spec], features=["DER_mass_MMC"])
    with pytest.raises(DataError, match="values s that labels does not map"):
        build_dataset([{**spec, "labels": {"b": 0}}], features=["DER_mass_MMC"])
    with pytest.raises(ConfigError, match="'sig', not a class"):
        build_dataset(
            [{**spec, "labels": {"s": "sig"}}],
            features=["DER_mass_MMC"],
            class_names=["background", "signal"],
        )


def test_mc_without_weights_warns_and_meaningless_numbers_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x,label\n1,0\n2,1\n3,1\n")
    with pytest.warns(UserWarning, match="no weight branch .* weight 1; set weight_branch"):
        build_dataset(
            [{"name": "a", "files": str(path), "label_branch": "label", "kind": "mc"}],
            features=["x"],
        )
    base = {"name": "a", "files": str(path), "label": "signal"}
    for key, value in [
        ("entry_stop", -1),
        ("entry_stop", 0),
        ("kfactor", -2.0),
        ("xsection_pb", -1.0),
        ("sum_weights", float("nan")),
        ("labels", {"s": "signal"}),  # without label_branch
    ]:
        with pytest.raises(ConfigError, match=key if key != "labels" else "label_branch"):
            SampleSpec.from_dict({**base, key: value})


def test_run_config_takes_weight_branch_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x,w,Label\n1,0.5,s\n2,1.5,b\n")
    raw = load_config("nand").resolved()
    raw["data"] = {
        "samples": [
            {
                "name": "t",
                "paths": [str(path)],
                "label_branch": "Label",
                "labels": {"s": "signal", "b": "background"},
                "weight_branch": "w",
                "kind": "mc",
            }
        ]
    }
    cfg = load_config(raw)
    assert cfg.data.samples is not None
    assert cfg.data.samples[0].weight_branch == "w"
    assert cfg.data.samples[0].labels == {"s": "signal", "b": "background"}


# -- NumPy archives and other formats -------------------------------------------------------


def test_npz_x_y_read_without_pickle(tmp_path: Path, rng: np.random.Generator) -> None:
    X = rng.normal(size=(30, 3))
    y = rng.integers(0, 2, 30)
    w = rng.uniform(size=30)
    path = tmp_path / "subset.npz"
    np.savez(path, X=X, y=y, w=w)
    arr = hio.read(path)
    assert arr.fields == ["f0", "f1", "f2", "label", "weight"]
    np.testing.assert_allclose(ak.to_numpy(arr.f2), X[:, 2])
    np.testing.assert_array_equal(ak.to_numpy(arr.label), y)
    assert len(hio.read(path, entry_stop=7, step_size=4)) == 7
    named = tmp_path / "named.npz"
    np.savez(named, X=X, y=y, feature_names=np.array(["pt", "eta", "phi"]))
    assert hio.read(named, branches=["eta", "label"]).fields == ["eta", "label"]
    sniffed = tmp_path / "subset.dat"  # not named .npz: found from its first bytes
    sniffed.write_bytes(path.read_bytes())
    assert len(hio.read(sniffed)) == 30
    ds, _ = build_dataset(
        [{"name": "s", "files": str(path), "label_branch": "label"}], features=["f0", "f1"]
    )
    np.testing.assert_allclose(ds.X[:, 1], X[:, 1].astype(np.float32))


def test_npz_and_other_formats_say_what_they_are(tmp_path: Path) -> None:
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, X=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match=r"pickled Python objects.*never unpickles"):
        hio.read(pickled)
    cube = tmp_path / "cube.npz"
    np.savez(cube, images=np.zeros((4, 2, 2)))
    with pytest.raises(DataError, match=r"NumPy archive holding images 4x2x2 float64"):
        hio.read(cube)
    npy = tmp_path / "X.npy"
    np.save(npy, np.zeros((3, 2)))
    with pytest.raises(DataError, match=r"single NumPy array \(\.npy\)"):
        hio.read(npy)
    hdf = tmp_path / "data.h5"
    hdf.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(DataError, match="an HDF5 file"):
        hio.inspect(hdf)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"entry_stop": -1}, "entry_stop must be a whole number of events >= 0"),
        ({"entry_stop": 2.5}, "entry_stop must be"),
        ({"step_size": 0}, "step_size must be a positive row count"),
        ({"step_size": "-5 MB"}, "step_size must be"),
        ({"branches": "x"}, "branches must be a list of names"),
        ({"tree": 3}, "tree must be a tree name"),
    ],
)
def test_meaningless_reader_arguments(tmp_path: Path, kwargs: dict[str, Any], needle: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text("x\n1\n2\n")
    with pytest.raises(DataError, match=needle) as info:
        hio.read(path, **kwargs)
    assert "\n" not in str(info.value)


def test_wrong_path_types_are_one_line() -> None:
    with pytest.raises(DataError, match="expected a path, a glob pattern or a list"):
        hio.read(123)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="max_entries must be"):
        hio.inspect("whatever.csv", max_entries=-3)


def test_run_config_refuses_meaningless_sample_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x,label\n1,0\n")
    for key, value in [("kfactor", -2), ("xsec_pb", -1), ("sum_weights", 0), ("entry_stop", -1)]:
        raw = load_config("nand").resolved()
        sample = {"name": "t", "paths": [str(path)], "label_branch": "label", key: value}
        raw["data"] = {"samples": [sample]}
        with pytest.raises(ConfigError, match=rf"samples\[0\]\.{key}") as info:
            load_config(raw)
        assert "\n" not in str(info.value)


def test_quoted_csv_is_not_mistaken_for_a_header(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('"1","2"\n"3","4"\n')
    assert ak.to_list(hio.read(path).f0) == [1, 3]


def test_options_that_would_be_ignored_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("x,label\n1,0\n2,1\n")
    with pytest.raises(ConfigError, match="schema must be a layout name"):
        hio.read(path, schema=123)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="branches is empty"):
        hio.read(path, branches=[])
    with pytest.raises(DataError, match="tree='t' applies to ROOT files"):
        hio.inspect(path, tree="t")
    with pytest.raises(DataError, match="schema 'nanoaod' is a ROOT layout"):
        hio.read(path, schema="nanoaod")
    root = tmp_path / "t.root"
    import uproot

    with uproot.recreate(root) as f:
        f.mktree("t", {"x": "float64"})
        f["t"].extend({"x": np.zeros(3)})
    with pytest.raises(DataError, match="schema 'higgs' is a CSV layout"):
        hio.read(root, schema="higgs")
    with pytest.raises(ConfigError, match="files must be a path or a list of paths"):
        SampleSpec(name="a", files=123, label="signal")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="label must be a class name or index"):
        SampleSpec(name="a", files="x", label=[1])  # type: ignore[arg-type]
    assert SampleSpec(name="a", files=path, label="signal").files == str(path)  # type: ignore[arg-type]


def test_label_column_with_both_labels_wins(tmp_path: Path, rng: np.random.Generator) -> None:
    """A 0/1-only first column with one value loses to a last column holding both labels."""
    rows = _higgs_rows(rng, 50)
    rows[:, 1] = 1.0  # a constant feature that looks like a one-class label
    shifted = np.roll(rows, -1, axis=1)  # label last, the constant column first
    path = tmp_path / "const_first.csv"
    np.savetxt(path, shifted, delimiter=",")
    arr = hio.read(path, schema="higgs")
    np.testing.assert_array_equal(ak.to_numpy(arr.label), rows[:, 0])
    one_class = tmp_path / "signal_only.csv"
    rows[:, 0] = 1.0
    rows[:, 1] = rng.normal(size=50)
    np.savetxt(one_class, rows, delimiter=",")
    assert set(ak.to_numpy(hio.read(one_class, schema="higgs").label)) == {1.0}
