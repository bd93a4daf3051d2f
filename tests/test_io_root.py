"""ROOT reading: units, chunking, globs, real ATLAS/CMS files, and every error path."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hepsift.io as hio
from hepsift.cli import main
from hepsift.errors import DataError, HepsiftError, SchemaError
from hepsift.io.schema import SCHEMAS
from hepsift.toydata import write_toy_gamgam

ENERGIES = ["photon_pt", "photon_E", "photon_ptcone30", "jet_pt", "lep_E", "met_et"]
NOT_ENERGIES = ["photon_eta", "photon_phi", "jet_MV2c10", "mcWeight", "XSection", "photon_n"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("toy") / "sig.root"
    return write_toy_gamgam(path, 3000, seed=7, chunk_size=1000)


def test_units_converted_once_to_gev(toy: Path) -> None:
    raw = uproot.open(toy)["mini"].arrays(ENERGIES + NOT_ENERGIES)
    got = hio.read(toy, branches=ENERGIES + NOT_ENERGIES)
    for b in ENERGIES:
        assert ak.all(ak.isclose(got[b], raw[b] * 1e-3, rtol=1e-6)), b
    for b in NOT_ENERGIES:
        assert ak.all(got[b] == raw[b]), b
    # physical scale: photons of a 125 GeV resonance are tens of GeV
    assert 5.0 < float(ak.mean(ak.flatten(got.photon_pt))) < 100.0


def test_chunks_concatenate_to_whole_and_entry_stop(toy: Path) -> None:
    whole = hio.read(toy, branches=["photon_pt", "eventNumber"])
    chunks = list(hio.iterate(toy, branches=["photon_pt", "eventNumber"], step_size=700))
    assert len(chunks) == 5
    assert ak.all(ak.concatenate(chunks).eventNumber == whole.eventNumber)
    assert len(hio.read(toy, branches=["eventNumber"], entry_stop=123)) == 123


def test_glob_and_lists_of_files(toy: Path, tmp_path: Path) -> None:
    a = write_toy_gamgam(tmp_path / "a.root", 200, seed=1)
    b = write_toy_gamgam(tmp_path / "b.root", 300, seed=2)
    both = hio.read(str(tmp_path / "*.root"), branches=["eventNumber", "photon_pt"])
    assert len(both) == 500
    listed = hio.read([a, b], branches=["eventNumber"])
    assert ak.all(listed.eventNumber == both.eventNumber)
    capped = hio.read([a, b], branches=["eventNumber"], entry_stop=250)
    assert len(capped) == 250
    assert ak.all(capped.eventNumber[200:] == listed.eventNumber[200:250])
    sel = hio.read(toy, branches=["photon_*"])
    assert set(sel.fields) == set(uproot.open(toy)["mini"].keys(filter_name="photon_*"))


def test_missing_branch_names_file_tree_and_nearest(toy: Path) -> None:
    with pytest.raises(
        SchemaError, match=r"tree 'mini' of '.*sig\.root' has no branch 'photon_ptt'.*'photon_pt'"
    ):
        hio.read(toy, branches=["photon_ptt"])
    with pytest.raises(SchemaError, match="no branch matching 'foo_"):
        hio.read(toy, branches=["foo_*"])


def test_wrong_tree(toy: Path) -> None:
    with pytest.raises(SchemaError, match=r"has no tree 'min'; nearest: 'mini'"):
        hio.read(toy, tree="min")


def test_corrupt_truncated_empty_and_missing_files(toy: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.root"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataError, match=r"junk\.root' is not a readable ROOT file"):
        hio.read(junk)
    data = toy.read_bytes()
    trunc = tmp_path / "trunc.root"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"trunc\.root"):
        hio.read(trunc, branches=["photon_pt"])
    empty = tmp_path / "empty.root"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.root' is empty \(0 bytes\)"):
        hio.read(empty)
    with pytest.raises(DataError, match=r"no file matches .*nothing\*\.root"):
        hio.read(str(tmp_path / "nothing*.root"))
    with pytest.raises(DataError, match=r"does not exist; nearest in .*junk\.root"):
        hio.read(tmp_path / "jumk.root")


def test_real_atlas_file_reads_unchanged(atlas_file: Path) -> None:
    raw = uproot.open(atlas_file)["mini"].arrays()
    got = hio.read(atlas_file)
    assert len(got) == 39 and len(got.fields) == 81
    energy = set(SCHEMAS["atlas-gamgam"].energy_branches(got.fields))
    assert {"lep_pt", "lep_E", "met_et", "jet_pt", "photon_E", "largeRjet_m"} <= energy
    assert not energy & {"lep_eta", "lep_phi", "mcWeight", "SumWeights", "lep_n", "tau_nTracks"}
    for f in got.fields:
        scale = 1e-3 if f in energy else 1.0
        assert (
            ak.all(ak.isclose(got[f], raw[f] * scale, rtol=1e-6))
            if f in energy
            else ak.all(got[f] == raw[f])
        ), f


def test_real_cms_file_reads_unchanged(cms_file: Path) -> None:
    raw = uproot.open(cms_file)["Events"].arrays(filter_name=["Jet_*", "nJet", "MET_pt"])
    got = hio.read(cms_file, branches=["Jet_*", "nJet", "MET_pt"])
    assert len(got) == 200
    for f in raw.fields:
        assert ak.all(got[f] == raw[f]), f
    full = hio.read(cms_file)
    assert len(full.fields) == 947


def test_inspect_and_cli(toy: Path, atlas_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = hio.inspect(toy)
    t = info["trees"]["mini"]
    assert t["entries"] == 3000 and t["schema"] == "atlas-gamgam" and t["energy_unit"] == "MeV"
    rows = {r["branch"]: r for r in t["branches"]}
    raw = uproot.open(toy)["mini"].arrays(["photon_pt", "photon_n"])
    assert rows["photon_pt"]["count"]["max"] == ak.max(raw.photon_n)
    assert rows["photon_pt"]["values"]["mean"] == pytest.approx(
        # float64 accumulation (awkward 2.6 sums float32 in float32)
        float(np.mean(ak.to_numpy(ak.flatten(raw.photon_pt)), dtype=np.float64)),
        rel=1e-6,
    )
    assert main(["inspect", str(atlas_file)]) == 0
    out = capsys.readouterr().out
    assert "81 branches" in out and "lep_pt" in out
    assert main(["inspect", str(atlas_file), "--tree", "mni"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nearest: 'mini'" in err


# -- fuzzing: corrupt, truncated and random files fail with one HepsiftError line --------------


def _seed_files(folder: Path) -> dict[str, bytes]:
    """Small valid files of every kind the readers take: TTree, RNTuple, CSV, .npz, Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = np.arange(20, dtype=np.float64)
    jag = ak.Array([[1.0, 2.0], [], [3.0]] * 6 + [[4.0], []])
    with uproot.recreate(folder / "tt.root") as f:
        f.mktree("t", {"x": "float64"})
        f["t"].extend({"x": x})
    with uproot.recreate(folder / "rn.root") as f:
        f["t"] = {"x": x, "j": jag}
    (folder / "t.csv").write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(20)))
    np.savez(folder / "t.npz", X=np.ones((20, 2)), y=np.zeros(20))
    pq.write_table(pa.table({"x": x}), folder / "t.parquet")
    return {p.suffix + ("" if p.stem != "rn" else "+rn"): p.read_bytes() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _seed_files(tmp_path_factory.mktemp("seeds"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_readers_fuzz_only_hepsift_errors(
    data: st.DataObject, seed_files: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> None:
    kind = data.draw(st.sampled_from(sorted(seed_files)))
    raw = seed_files[kind]
    how = data.draw(st.sampled_from(["truncate", "flip", "random"]))
    if how == "truncate":
        blob = raw[: data.draw(st.integers(1, len(raw) - 1))]
    elif how == "flip":
        buf = bytearray(raw)
        for pos in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=30)):
            buf[pos] = data.draw(st.integers(0, 255))
        blob = bytes(buf)
    else:
        blob = data.draw(st.binary(min_size=1, max_size=3000))
    path = tmp_path_factory.mktemp("fuzz") / f"case{kind.split('+')[0]}"
    path.write_bytes(blob)
    for call in (lambda: hio.read(path, entry_stop=100), lambda: hio.inspect(path, max_entries=5)):
        try:
            call()
        except HepsiftError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 600
