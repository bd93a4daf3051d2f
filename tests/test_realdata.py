"""Every real file in ../shared/realdata, plus an RNTuple written by uproot, read unchanged.

Each file goes through ``hepsift.io.read``, ``hepsift.io.inspect`` and ``hepsift cutflow``, and
the values are compared against uproot reading the same file directly (the trusted reference).
Reading all ~1000 NanoAOD branches takes several seconds, so the whole-file checks are ``slow``;
the fast checks read a few dozen branches of every file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

import hepsift.io as hio
from hepsift.cli import main
from hepsift.errors import SchemaError
from hepsift.io.schema import SCHEMAS

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
ATLAS = "atlas-opendata-13tev-data_A.4lep.root"
NANO_TTREE = "cms-opendata-2015-ttbar-nanoaod-200ev.root"
NANO_RNTUPLE = "cms-opendata-2015-ttbar-nanoaod-rntuple.root"
NANO_RUNS = "cms-nanoaodv6-dy-mc-events-runs.root"
#: file -> (event tree, entries, its class in the file)
FILES = {
    ATLAS: ("mini", 39, "TTree"),
    NANO_TTREE: ("Events", 200, "TTree"),
    NANO_RNTUPLE: ("Events", 10, "ROOT::RNTuple"),
    NANO_RUNS: ("Events", 40, "TTree"),
}
NANO_BRANCHES = ["run", "event", "genWeight", "MET_pt", "nMuon", "Muon_pt", "Muon_eta", "Jet_pt"]
ATLAS_BRANCHES = ["runNumber", "eventNumber", "lep_n", "lep_pt", "lep_eta", "lep_E", "met_et"]
NANO_SELECTION = """\
name: muons
cuts:
  - {name: muon pT > 10, object: Muon, cut: "pt > 10"}
  - {name: at least 1 muon, cut: "Muon_n >= 1"}
  - {name: MET > 20, cut: "MET_pt > 20"}
"""
ATLAS_SELECTION = """\
name: leptons
cuts:
  - {name: lepton pT > 15 GeV, object: lep, cut: "pt > 15"}
  - {name: 4 leptons, cut: "lep_n >= 4"}
"""


def real(name: str) -> Path:
    path = REALDATA / name
    if not path.is_file():
        pytest.skip(f"real file {name} not found in {REALDATA} (../shared absent)")
    return path


@pytest.fixture(scope="module")
def written_rntuple(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What uproot >= 5.7 writes for ``f["t"] = {...}``: an RNTuple (flat and jagged fields)."""
    path = tmp_path_factory.mktemp("rntuple") / "written.root"
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 4, 50)
    with uproot.recreate(path) as f:
        f["events"] = {
            "x": rng.normal(size=50),
            "n": counts.astype(np.uint32),
            "jet_pt": ak.unflatten(
                rng.exponential(30.0, int(counts.sum())).astype(np.float32), counts
            ),
        }
    return path


def branches_of(name: str) -> list[str]:
    return ATLAS_BRANCHES if name == ATLAS else NANO_BRANCHES


def same(got: Any, want: Any) -> bool:
    """Equal values and, for jagged arrays, equal counts per event."""
    if len(got) != len(want) or got.ndim != want.ndim:
        return False
    if got.ndim > 1 and not ak.all(ak.num(got, axis=1) == ak.num(want, axis=1)):
        return False
    return bool(ak.all(ak.flatten(got, axis=None) == ak.flatten(want, axis=None)))


@pytest.mark.parametrize("name", list(FILES))
def test_read_matches_uproot(name: str) -> None:
    path = real(name)
    tree, entries, cls = FILES[name]
    with uproot.open(path) as f:
        assert f.classnames()[f"{tree};1"] == cls
        # field by field: uproot's arrays() on a whole 1000-field RNTuple takes ~15 s
        raw = {b: f[tree][b].array(library="ak") for b in branches_of(name)}
    got = hio.read(path, branches=branches_of(name))
    assert len(got) == entries and sorted(got.fields) == sorted(branches_of(name))
    atlas_mev = set(SCHEMAS["atlas-gamgam"].energy_branches(got.fields)) if name == ATLAS else set()
    for b in branches_of(name):
        want = raw[b] * 1e-3 if b in atlas_mev else raw[b]
        if ak.num(raw[b], axis=0) and raw[b].ndim > 1:
            assert ak.all(ak.num(got[b], axis=1) == ak.num(raw[b], axis=1)), b
        assert np.allclose(
            ak.to_numpy(ak.flatten(got[b], axis=None)).astype(np.float64),
            ak.to_numpy(ak.flatten(want, axis=None)).astype(np.float64),
            rtol=1e-6,
        ), b


def test_rntuple_chunks_entry_stop_and_globs() -> None:
    path = real(NANO_RNTUPLE)
    chunks = list(hio.iterate(path, branches=["event", "Muon_p*"], step_size=3))
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    whole = ak.concatenate(chunks)
    with uproot.open(path) as f:
        want = f["Events"].keys(filter_name="Muon_p*", recursive=False)
        assert ak.all(whole.event == f["Events"]["event"].array())
    assert set(whole.fields) == {"event", *want}  # no internal _collectionN fields
    assert len(hio.read(path, branches=["event"], entry_stop=4)) == 4


def test_written_rntuple_reads_and_inspects(written_rntuple: Path) -> None:
    with uproot.open(written_rntuple) as f:
        assert f.classnames() == {"events;1": "ROOT::RNTuple"}
        raw = f["events"].arrays()
    got = hio.read(written_rntuple)
    assert sorted(got.fields) == ["jet_pt", "n", "x"]
    for b in got.fields:
        assert same(got[b], raw[b]), b
    info = hio.inspect(written_rntuple)
    t = info["trees"]["events"]
    assert t["format"] == "RNTuple" and t["entries"] == 50
    rows = {r["branch"]: r for r in t["branches"]}
    assert rows["x"]["values"]["mean"] == pytest.approx(float(np.mean(raw["x"])))
    assert rows["jet_pt"]["count"]["max"] == float(ak.max(ak.num(raw["jet_pt"])))


def test_nanoaod_events_and_runs_picks_events_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = real(NANO_RUNS)
    with caplog.at_level(logging.INFO, logger="hepsift.io"):
        got = hio.read(path, branches=["event", "genWeight"])
    assert len(got) == 40
    assert any("reading 'Events'" in r.getMessage() for r in caplog.records)
    runs = hio.read(path, tree="Runs")
    with uproot.open(path) as f:
        assert same(runs["genEventSumw_"], f["Runs"]["genEventSumw_"].array())
    assert len(runs) == 1


def test_largest_tree_chosen_without_a_known_layout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "two.root"
    with uproot.recreate(path) as f:
        f.mktree("meta", {"a": "int32"})
        f["meta"].extend({"a": np.arange(3, dtype=np.int32)})
        f.mktree("nominal", {"a": "int32"})
        f["nominal"].extend({"a": np.arange(7, dtype=np.int32)})
    with caplog.at_level(logging.INFO, logger="hepsift.io"):
        assert len(hio.read(path)) == 7
    assert "most entries, 7" in caplog.text
    assert len(hio.read(path, tree="meta")) == 3
    atlas = tmp_path / "atlas.root"  # a layout's event tree wins over a bigger other tree
    with uproot.recreate(atlas) as f:
        for name, n in (("mini", 2), ("sumWeights", 9)):
            f.mktree(name, {"a": "int32"})
            f[name].extend({"a": np.arange(n, dtype=np.int32)})
    with caplog.at_level(logging.INFO, logger="hepsift.io"):
        assert len(hio.read(atlas)) == 2
    assert "reading 'mini' (ATLAS Open Data event tree)" in caplog.text
    tie = tmp_path / "tie.root"
    with uproot.recreate(tie) as f:
        for name in ("a", "b"):
            f.mktree(name, {"x": "float64"})
            f[name].extend({"x": np.zeros(4)})
    with pytest.raises(SchemaError, match="several trees of equal size"):
        hio.read(tie)


def test_file_without_a_tree_says_what_it_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "histos.root"
    with uproot.recreate(path) as f:
        f["h_mass"] = np.histogram(np.arange(10.0), bins=4)
        f["plots/h_pt"] = np.histogram(np.arange(5.0), bins=2)
    info = hio.inspect(path)
    assert info["trees"] == {}
    assert "2 histograms (h_mass, plots/h_pt)" in info["contents"]
    assert "1 directory (plots)" in info["contents"]
    with pytest.raises(SchemaError, match="holds no TTree or RNTuple; it holds 2 histograms"):
        hio.read(path)
    assert main(["inspect", str(path)]) == 0
    assert "2 histograms" in capsys.readouterr().out
    assert main(["inspect", str(path), "--tree", "mini"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds 2 histograms" in err


def _cutflow_counts(out: str) -> list[int]:
    """The 'events' column of the cutflow table printed by ``hepsift cutflow``."""
    counts = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 4 and cells[3].replace(",", "").isdigit():
            counts.append(int(cells[3].replace(",", "")))
    return counts


def _expected_nano(path: Path) -> list[int]:
    with uproot.open(path) as f:
        muon_pt, met = f["Events"]["Muon_pt"].array(), f["Events"]["MET_pt"].array()
    one_mu = ak.sum(muon_pt > 10, axis=1) >= 1
    return [len(met), len(met), int(ak.sum(one_mu)), int(ak.sum(one_mu & (met > 20)))]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(NANO_TTREE, marks=pytest.mark.slow),  # ~1000-branch TTree header: seconds
        NANO_RNTUPLE,
        pytest.param(NANO_RUNS, marks=pytest.mark.slow),
        ATLAS,
    ],
)
def test_cutflow_matches_uproot(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = real(name)
    sel = tmp_path / "sel.yaml"
    sel.write_text(ATLAS_SELECTION if name == ATLAS else NANO_SELECTION)
    assert main(["cutflow", str(path), "--selection", str(sel)]) == 0
    printed = capsys.readouterr()
    got = _cutflow_counts(printed.out)
    if name == NANO_RUNS:  # the tree choice is said on stderr
        assert printed.err.count("note: ") == 1 and "reading 'Events' (NanoAOD" in printed.err
    if name == ATLAS:
        with uproot.open(path) as f:
            lep_pt = f["mini"]["lep_pt"].array() * 1e-3  # MeV in the file, GeV in the cut
        n = int(ak.sum(ak.sum(lep_pt > 15, axis=1) >= 4))
        want = [len(lep_pt), len(lep_pt), n]
    else:
        want = _expected_nano(path)
    assert got[: len(want)] == want


def _check_inspect(path: Path, tree: str) -> None:
    info = hio.inspect(path, tree=tree)
    t = info["trees"][tree]
    with uproot.open(path) as f:
        ref = f[tree]
        assert t["entries"] == ref.num_entries
        rows = {r["branch"]: r for r in t["branches"]}
        assert not [r for r in rows.values() if "error" in r]
        for b in ("run", "event", "MET_pt", "Muon_pt") if tree == "Events" else ("lep_pt",):
            flat = ak.to_numpy(ak.flatten(ref[b].array(), axis=None)).astype(np.float64)
            if flat.size:
                assert rows[b]["values"]["mean"] == pytest.approx(flat.mean(), rel=1e-6), b
        assert len(rows) == len([k for k in ref.keys(recursive=False) if "_collection" not in k])


def test_inspect_atlas_matches_uproot(capsys: pytest.CaptureFixture[str]) -> None:
    _check_inspect(real(ATLAS), "mini")
    assert main(["inspect", str(real(ATLAS))]) == 0
    assert "TTree 'mini': 39 entries, 81 branches" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", [NANO_TTREE, NANO_RNTUPLE, NANO_RUNS])
def test_inspect_nanoaod_matches_uproot(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = real(name)
    _check_inspect(path, "Events")
    assert main(["inspect", str(path), "--max-entries", "5"]) == 0
    out = capsys.readouterr().out
    kind = "RNTuple" if name == NANO_RNTUPLE else "TTree"
    assert f"{kind} 'Events': {FILES[name][1]} entries" in out


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FILES))
def test_read_every_branch(name: str) -> None:
    path = real(name)
    tree, entries, _ = FILES[name]
    got = hio.read(path)
    with uproot.open(path) as f:
        names = [k for k in f[tree].keys(recursive=False) if "_collection" not in k]
    assert len(got) == entries and sorted(got.fields) == sorted(names)


def test_written_rntuple_through_dask(written_rntuple: Path) -> None:
    pytest.importorskip("dask_awkward")
    from hepsift.io.root import dask_root

    arr, _ = dask_root(written_rntuple, branches=["x", "jet_pt"], step_size=20)
    assert list(arr.fields) == ["x", "jet_pt"]  # no internal fields
    got = arr.compute()
    with uproot.open(written_rntuple) as f:
        assert same(got["jet_pt"], f["events"]["jet_pt"].array())


def test_atlas_layout_written_as_rntuple_is_converted_to_gev(tmp_path: Path) -> None:
    """An ATLAS-style ``mini`` written as an RNTuple (uint32 counts, float jagged MeV) reads
    like the TTree: energies in GeV, counts and weights untouched."""
    path = tmp_path / "mini_rntuple.root"
    pt = ak.Array([[50_000.0, 30_000.0], [], [42_000.5]])
    with uproot.recreate(path) as f:
        f["mini"] = {
            "photon_pt": ak.values_astype(pt, np.float32),
            "photon_n": np.array([2, 0, 1], dtype=np.uint32),
            "mcWeight": np.array([1.0, -1.0, 0.5], dtype=np.float32),
            "XSection": np.full(3, 0.1),
            "met_et": np.array([10_000.0, 0.0, 5_000.0]),
        }
    with uproot.open(path) as f:
        assert f.classnames() == {"mini;1": "ROOT::RNTuple"}
    got = hio.read(path)
    assert ak.to_list(ak.num(got.photon_pt)) == [2, 0, 1]
    flat = ak.to_numpy(ak.flatten(got.photon_pt))
    np.testing.assert_allclose(flat, [50.0, 30.0, 42.0005], rtol=1e-6)
    assert got.photon_pt.type.content.content.primitive == "float32"
    assert ak.to_list(got.photon_n) == [2, 0, 1] and ak.to_list(got.mcWeight) == [1.0, -1.0, 0.5]
    assert ak.to_list(got.met_et) == [10.0, 0.0, 5.0]
