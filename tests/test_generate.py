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
        # what run configs are checked against before anything is generated
        from hepsift.config import SCENARIO_BRANCHES

        assert set(ours.keys()) == set(SCENARIO_BRANCHES["higgs-diphoton"])
        for b in ours.branches:
            if b.name not in real_types:  # counters too: photon_n, jet_n, lep_n are uint32
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
    # the same seed gives the same content checksums (the file bytes hold write times)
    ours = json.loads((tmp_path / "manifest.json").read_text())["content_sha256"]
    first = json.loads((tiny_run / "manifest.json").read_text())["content_sha256"]
    assert ours == first and set(ours) == {"ggF.root", "ggF.images.npz"}


def test_corrupt_chunk_is_regenerated_with_a_warning(tiny_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "ggF.root").unlink()
    chunks = sorted((run / ".chunks" / "ggF").glob("chunk-*.npz"))
    data = chunks[1].read_bytes()
    chunks[1].write_bytes(data[: len(data) // 2])  # truncated, as by a full disk
    kept = chunks[0].stat().st_mtime_ns
    with pytest.warns(runner.ChunkWarning, match="corrupt or truncated"):
        generate("higgs-diphoton", out=run, images=True, **TINY)  # type: ignore[arg-type]
    from hepsift.generate.writer import read_chunk

    assert chunks[0].stat().st_mtime_ns == kept  # the good chunk reused
    assert len(read_chunk(chunks[1])[0]) > 0  # the truncated one rewritten whole
    _same(_arrays(tiny_run / "ggF.root"), _arrays(run / "ggF.root"))


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
    with pytest.raises(ConfigError, match=f"at most {runner.MAX_EVENTS_PER_SAMPLE}"):
        generate("photon-id", events=1_000_000_000_000, out=tmp_path)
    with pytest.raises(ConfigError, match="larger chunk_size"):
        generate("photon-id", events=10_000_000, out=tmp_path, chunk_size=1)
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
    capsys.readouterr()
    code = main(["generate", "photon-id", "--events", "1000000000000", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--events" in err


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


# ------------------------------------------------------------------ lepton+jets configurations


@pytest.mark.parametrize("n_chunks", [1, 2, 3])
@pytest.mark.parametrize("odd", [0, 1])
def test_lepton_charge_configurations_are_balanced(n_chunks: int, odd: int) -> None:
    from hepsift.generate.scenarios import samples_for

    zp, ttbar = samples_for("resonance-ttbar", [500])[0], samples_for("resonance-ttbar", [500])[1]
    events = 20 * n_chunks + odd
    tasks = runner.plan_tasks(
        "resonance-ttbar", [zp, ttbar], events=events, chunk_size=20, seed=3, images=False
    )
    for s in (zp, ttbar):
        mine = [t for t in tasks if t.sample == s]
        per_cfg = [sum(t.n_events for t in mine if s.configuration(t.chunk) == c) for c in (0, 1)]
        assert sum(per_cfg) == events and abs(per_cfg[0] - per_cfg[1]) <= odd  # balanced
        assert len({t.chunk for t in mine}) == len(mine)  # distinct chunks, so distinct seeds
        assert all(0 < t.n_events <= 20 for t in mine)
        # the two configurations are the two W charges decaying to a lepton
        cfg0 = next(t for t in mine if s.configuration(t.chunk) == 0)
        cfg1 = next(t for t in mine if s.configuration(t.chunk) == 1)
        assert "24:onPosIfAny = 11 13" in s.settings_for_chunk(cfg0.chunk)
        assert "24:onNegIfAny = 11 13" in s.settings_for_chunk(cfg1.chunk)
        # event numbers stay unique
        numbers = [t.first_event_number + i for t in mine for i in range(t.n_events)]
        assert len(set(numbers)) == len(numbers)


def test_cross_sections_of_disjoint_configurations_add_up() -> None:
    from hepsift.generate.assemble import combine_xsec, configurations

    def meta(cfg: int, n: int, sigma: float, err: float) -> dict[str, float]:
        return {
            "configuration": cfg,
            "events_generated": n,
            "xsection_pb": sigma,
            "xsection_err_pb": err,
            "sum_weights": float(n),
        }

    metas = [meta(0, 100, 10.0, 1.0), meta(1, 200, 11.0, 0.5), meta(0, 300, 12.0, 0.4)]
    sigma, err = combine_xsec(metas)
    # mean within a configuration (same process, independent estimates), sum over them
    assert sigma == pytest.approx((100 * 10.0 + 300 * 12.0) / 400 + 11.0)
    err0 = np.hypot(100 * 1.0, 300 * 0.4) / 400
    assert err == pytest.approx(np.hypot(err0, 0.5))
    cfgs = configurations(metas)
    assert [c["events_generated"] for c in cfgs] == [400, 200]
    # one configuration: the event-weighted mean, as before
    single = [meta(0, 100, 10.0, 1.0), meta(0, 300, 12.0, 0.4)]
    assert combine_xsec(single)[0] == pytest.approx(11.5)


# ------------------------------------------------------------------ HEPMASS background mass


def _fake_resonance_chunks(n: int, sample: str, signal_mass: float | None, seed: int) -> tuple:  # type: ignore[type-arg]
    from hepsift.generate.scenarios import HEPMASS_FEATURES

    rng = np.random.default_rng(seed)
    mtt = np.full(n, signal_mass) if signal_mass else rng.uniform(350.0, 2000.0, n)
    rows: dict[str, np.ndarray] = {f: rng.normal(size=n) for f in HEPMASS_FEATURES}
    rows["mtt_true"] = mtt
    rows["eventNumber"] = np.arange(1, n + 1)
    rows["mcWeight"] = np.ones(n)
    meta = {
        "chunk": 0,
        "configuration": 0,
        "events_generated": n,
        "events_accepted": n,
        "sum_weights": float(n),
        "xsection_pb": 1.0,
        "xsection_err_pb": 0.1,
        "pythia_seconds": 0.0,
        "seconds": 0.0,
    }
    return ak.zip(rows), [meta], None, np.zeros(0, np.int64), np.zeros(n, np.int64)


def test_resonance_mass_column_does_not_reveal_the_class(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from hepsift.generate import assemble
    from hepsift.generate.scenarios import samples_for
    from hepsift.metrics import auc

    masses = [500.0, 1000.0, 1500.0]
    samples = samples_for("resonance-ttbar", masses)
    loaded = {}
    for i, s in enumerate(samples):
        mass = s.extra["mass_gev"] if s.is_signal else None
        loaded[s.name] = _fake_resonance_chunks(1500 if s.is_signal else 1000, s.name, mass, i)
    assemble._write_resonance(samples, loaded, tmp_path, 7, masses)
    t = pq.read_table(tmp_path / "resonance-ttbar.parquet").to_pydict()
    t = {k: np.asarray(v) for k, v in t.items()}
    bkg = {k: v[t["label"] == 0] for k, v in t.items()}
    assert set(np.unique(bkg["mass"])) == set(masses)  # drawn from the signal masses
    counts = np.array([np.sum(bkg["mass"] == m) for m in masses])
    assert np.all(np.abs(counts / counts.sum() - 1 / 3) < 0.05)  # uniformly
    assert abs(auc(t["label"], t["mass"]) - 0.5) < 0.03  # the mass alone: no separation
    assert not np.allclose(bkg["mass"], bkg["mtt_true"])  # the true m_tt kept on its own
    assert auc(t["label"], -np.abs(t["mtt_true"] - t["mass"])) > 0.9  # (it would leak)
    # seeded: the same seed draws the same masses
    again = tmp_path / "again"
    again.mkdir()
    assemble._write_resonance(samples, loaded, again, 7, masses)
    t2 = pq.read_table(again / "resonance-ttbar.parquet").to_pydict()
    np.testing.assert_array_equal(t["mass"], t2["mass"])
