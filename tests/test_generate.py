"""Event generation end to end on tiny samples: files, schema, units, weights, determinism
(workers 1 vs 2 vs Dask), resume after an interruption, images, errors and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepsift.cli import main
from hepsift.errors import ConfigError, GenerationError
from hepsift.generate import generate, runner

# a tiny ggF run: 3 chunks of 20 events
TINY = {"events": 60, "chunk_size": 20, "seed": 11, "samples": ["ggF"], "progress": False}


def _arrays(path: Path) -> ak.Array:
    with uproot.open(path) as f:
        return f["mini"].arrays()


def _same(a: ak.Array, b: ak.Array) -> None:
    assert a.fields == b.fields
    for name in a.fields:
        assert ak.all(ak.ravel(a[name]) == ak.ravel(b[name])), name
        assert (
            ak.all(ak.num(a[name], axis=-1) == ak.num(b[name], axis=-1))
            if a[name].ndim > 1
            else True
        )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    generate("higgs-diphoton", out=out, workers=1, images=True, **TINY)  # type: ignore[arg-type]
    return out


def test_tiny_run_files_and_manifest(tiny_run: Path, atlas_file: Path) -> None:
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    assert manifest["scenario"] == "higgs-diphoton"
    (s,) = manifest["samples"]
    assert s["name"] == "ggF" and s["channelNumber"] == 343981
    assert s["events_generated"] == 60 and 0 < s["events_accepted"] <= 60
    assert s["chunks"] == 3 and len(set(s["pythia_seeds"])) == 3
    assert all(1 <= x <= 900_000_000 for x in s["pythia_seeds"])
    assert 0 < s["xsection_pb"] < 1.0 and s["xsection_err_pb"] > 0  # LO gg -> H -> yy, pb
    assert s["sum_weights"] == pytest.approx(60.0)
    assert set(manifest["files"]) == {"ggF.root", "ggF.images.npz"}
    for key in ("pythia8mc", "fastjet", "hepsift"):
        assert manifest["versions"][key]
    from hepsift.generate.writer import sha256

    for rel, digest in manifest["files"].items():
        assert sha256(tiny_run / rel) == digest

    t = _arrays(tiny_run / "ggF.root")
    assert len(t) == s["events_accepted"]
    # same branch names and value types as the real ATLAS Open Data `mini` tree
    with uproot.open(atlas_file) as f:
        real = f["mini"]
        real_types = {b.name: b.interpretation for b in real.branches}
    with uproot.open(tiny_run / "ggF.root") as f:
        ours = f["mini"]
        for b in ours.branches:
            if b.name.endswith("_n") or b.name not in real_types:
                continue
            want = real_types[b.name]
            got = b.interpretation
            w_dt = getattr(want, "content", want).to_dtype
            g_dt = getattr(got, "content", got).to_dtype
            assert w_dt == g_dt, (b.name, want, got)
            assert isinstance(got, uproot.AsJagged) == isinstance(want, uproot.AsJagged), b.name
    needed = [
        "runNumber", "eventNumber", "channelNumber", "mcWeight", "scaleFactor_PHOTON",
        "scaleFactor_PhotonTRIGGER", "scaleFactor_PILEUP", "XSection", "SumWeights", "trigP",
        "photon_n", "photon_pt", "photon_eta", "photon_phi", "photon_E", "photon_isTightID",
        "photon_ptcone30", "photon_etcone20", "jet_n", "jet_pt", "jet_eta", "jet_phi", "jet_E",
        "jet_MV2c10", "lep_n", "lep_pt", "lep_eta", "lep_phi", "lep_E", "lep_charge", "lep_type",
        "lep_ptcone30", "lep_etcone20", "met_et", "met_phi",
    ]  # fmt: skip
    assert set(needed) <= set(t.fields)
    # units: MeV; >= 2 photon candidates above 20 GeV (the preselection)
    assert ak.all(ak.num(t.photon_pt) >= 2) and ak.all(t.photon_pt > 20_000.0)
    assert ak.all(ak.num(t.photon_pt) == t.photon_n)
    assert np.median(ak.to_numpy(t.photon_pt[:, 0])) > 40_000.0  # leading H photon ~ 60 GeV
    # weights: positive, finite, physical yield = mcWeight * XSection * lumi / SumWeights
    for b in ("mcWeight", "XSection", "SumWeights"):
        v = ak.to_numpy(t[b])
        assert np.all(np.isfinite(v)) and np.all(v > 0), b
    assert np.all(ak.to_numpy(t.XSection) == np.float32(s["xsection_pb"]))
    ev = ak.to_numpy(t.eventNumber)
    assert np.all(np.diff(ev) > 0) and ev.min() >= 1 and ev.max() <= 60


def test_images_follow_ntuple_order(tiny_run: Path) -> None:
    t = _arrays(tiny_run / "ggF.root")
    with np.load(tiny_run / "ggF.images.npz", allow_pickle=False) as z:
        img, ev = z["images"], z["event_number"]
    assert img.dtype == np.float16 and img.shape == (len(t), 3, 50, 50)
    np.testing.assert_array_equal(ev, ak.to_numpy(t.eventNumber))
    assert np.all(img >= 0) and np.all(np.isfinite(img))
    # the two photons dominate the ECAL image: total ECAL E_T > the two leading photons' E_T
    ecal = img[:, 0].astype(np.float64).sum(axis=(1, 2))
    lead2 = ak.to_numpy(ak.sum(t.photon_pt[:, :2], axis=1)) / 1000.0
    eta_ok = ak.to_numpy(ak.all(abs(t.photon_eta[:, :2]) < 2.3, axis=1))
    assert np.all(ecal[eta_ok] > 0.9 * lead2[eta_ok])


def test_rerun_is_noop_and_resume_rebuilds_identically(tiny_run: Path) -> None:
    before = _arrays(tiny_run / "ggF.root")
    manifest_mtime = (tiny_run / "manifest.json").stat().st_mtime_ns
    generate("higgs-diphoton", out=tiny_run, images=True, **TINY)  # type: ignore[arg-type]
    assert (tiny_run / "manifest.json").stat().st_mtime_ns == manifest_mtime  # no-op
    # lose the final file and one chunk: the rerun regenerates that chunk only
    (tiny_run / "ggF.root").unlink()
    chunks = sorted((tiny_run / ".chunks" / "ggF").glob("chunk-*.npz"))
    assert len(chunks) == 3
    kept_mtime = chunks[0].stat().st_mtime_ns
    chunks[1].unlink()
    generate("higgs-diphoton", out=tiny_run, images=True, **TINY)  # type: ignore[arg-type]
    assert chunks[0].stat().st_mtime_ns == kept_mtime and chunks[1].is_file()
    _same(before, _arrays(tiny_run / "ggF.root"))


def test_interrupted_run_leaves_no_final_file_and_resumes(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runner.run_chunk

    def crash_on_third(task: runner.ChunkTask) -> dict:  # type: ignore[type-arg]
        if task.chunk == 2:
            raise KeyboardInterrupt  # as a Ctrl-C in the middle of the run
        return real(task)

    monkeypatch.setattr(runner, "run_chunk", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        generate("higgs-diphoton", out=tmp_path, images=True, **TINY)  # type: ignore[arg-type]
    assert not (tmp_path / "ggF.root").exists() and not (tmp_path / "manifest.json").exists()
    assert len(list((tmp_path / ".chunks" / "ggF").glob("chunk-*.npz"))) == 2
    assert not list(tmp_path.rglob("*.tmp*"))
    monkeypatch.setattr(runner, "run_chunk", real)
    generate("higgs-diphoton", out=tmp_path, images=True, **TINY)  # type: ignore[arg-type]
    _same(_arrays(tiny_run / "ggF.root"), _arrays(tmp_path / "ggF.root"))


@pytest.mark.slow
def test_two_workers_give_identical_events(tiny_run: Path, tmp_path: Path) -> None:
    generate("higgs-diphoton", out=tmp_path, workers=2, images=True, **TINY)  # type: ignore[arg-type]
    _same(_arrays(tiny_run / "ggF.root"), _arrays(tmp_path / "ggF.root"))
    with np.load(tmp_path / "ggF.images.npz") as a, np.load(tiny_run / "ggF.images.npz") as b:
        np.testing.assert_array_equal(a["images"], b["images"])


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_events(tiny_run: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        # the scheduler address, as given by `hepsift generate --scheduler tcp://HOST:PORT`
        generate(
            "higgs-diphoton",
            out=tmp_path,
            scheduler=cluster.scheduler_address,
            images=True,
            **TINY,  # type: ignore[arg-type]
        )
    _same(_arrays(tiny_run / "ggF.root"), _arrays(tmp_path / "ggF.root"))


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'higgs-diphoton'"):
        generate("higgs-diphotn", events=10, out=tmp_path)
    with pytest.raises(ConfigError, match="positive integer"):
        generate("photon-id", events=0, out=tmp_path)
    with pytest.raises(ConfigError, match="did you mean 'zprime_750'"):
        generate("resonance-ttbar", events=10, out=tmp_path, samples=["zprime_75"])
    with pytest.raises(ConfigError, match="outside the allowed range"):
        generate("resonance-ttbar", events=10, out=tmp_path, masses="100,500")
    with pytest.raises(ConfigError, match="not a number"):
        generate("resonance-ttbar", events=10, out=tmp_path, masses="500,abc")
    with pytest.raises(ConfigError, match="resonance-ttbar"):
        generate("photon-id", events=10, out=tmp_path, masses="500")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(GenerationError, match="not writable"):
        generate("photon-id", events=10, out=blocker / "sub")
    assert not list(tmp_path.glob("*.parquet"))


def test_cli_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["generate", "higgs-diphotn", "--events", "5", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "did you mean 'higgs-diphoton'" in err
    code = main(["generate", "resonance-ttbar", "-n", "5", "-o", str(tmp_path), "--masses", "9"])
    assert code == 2 and "allowed range" in capsys.readouterr().err
    code = main(["generate", "photon-id", "--events", "-3", "--out", str(tmp_path)])
    assert code == 2


def test_cli_list_describes_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--list"]) == 0
    text = capsys.readouterr().out
    for word in (
        "photon-id",
        "higgs-diphoton",
        "resonance-ttbar",
        "343981",
        "HiggsSM:gg2H",
        "zprime_500",
    ):
        assert word in text
