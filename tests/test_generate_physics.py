"""Physics sanity checks of SCENARIOS.md on small generated samples (one generation per
scenario, shared by the tests of the module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import pytest
import uproot
from sklearn.metrics import roc_auc_score

from hepsift.generate import generate
from hepsift.generate.scenarios import hepmass_columns
from hepsift.generate.validate import diphoton_mass, validation_plots

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hgg(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("hgg")
    m = generate(
        "higgs-diphoton",
        events=400,
        out=out,
        seed=5,
        workers=2,
        chunk_size=200,
        samples=["ggF", "VBF"],
        progress=False,
    )
    return out, m


@pytest.fixture(scope="module")
def photon_id(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("phid")
    m = generate(
        "photon-id", events=400, out=out, seed=6, workers=2, chunk_size=200, progress=False
    )
    return out, m


@pytest.fixture(scope="module")
def ttbar(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("ttbar")
    m = generate(
        "resonance-ttbar",
        events=200,
        out=out,
        seed=7,
        workers=2,
        chunk_size=100,
        masses="500,1000",
        samples=["zprime_500", "zprime_1000", "ttbar_mtt0"],
        progress=False,
    )
    return out, m


def _tree(path: Path) -> ak.Array:
    with uproot.open(path) as f:
        return f["mini"].arrays()


def test_higgs_mgg_peak_and_resolution(hgg: tuple[Path, dict[str, Any]]) -> None:
    out, _ = hgg
    m, sel = diphoton_mass(_tree(out / "ggF.root"))
    m = m[sel]
    assert len(m) > 80  # the reference selection keeps a good fraction of 400 ggF events
    assert np.median(m) == pytest.approx(125.0, abs=1.0)
    core = m[np.abs(m - 125.0) < 10.0]
    sigma = (np.percentile(core, 84) - np.percentile(core, 16)) / 2  # robust core width
    assert 0.01 <= sigma / 125.0 <= 0.03


def test_ggf_cross_section_about_ten_times_vbf(hgg: tuple[Path, dict[str, Any]]) -> None:
    _, m = hgg
    # unfiltered LO cross sections: the recorded one is after the generator filter
    xs = {s["name"]: s["xsection_pb"] / s["filter_efficiency"] for s in m["samples"]}
    ratio = xs["ggF"] / xs["VBF"]
    assert 5.0 < ratio < 15.0  # Pythia LO with BR(H -> yy) folded in, in pb
    assert 0.02 < xs["ggF"] < 0.2  # sigma(gg -> H) x BR(yy) at LO (pb)


def test_vbf_has_two_forward_jets(hgg: tuple[Path, dict[str, Any]]) -> None:
    out, _ = hgg

    def tagged(t: ak.Array) -> float:
        eta = t.jet_eta[t.jet_pt > 30_000.0]
        two = ak.num(eta) >= 2
        deta = ak.to_numpy(ak.fill_none(abs(ak.firsts(eta) - ak.firsts(eta[:, 1:])), 0.0))
        return float(np.mean(ak.to_numpy(two) & (deta > 3.0)))

    vbf, ggf = tagged(_tree(out / "VBF.root")), tagged(_tree(out / "ggF.root"))
    assert vbf > 0.25 and vbf > 2.5 * ggf
    t = _tree(out / "VBF.root")
    fwd = ak.flatten(abs(t.jet_eta[t.jet_pt > 30_000.0]))
    assert np.median(ak.to_numpy(fwd)) > 1.5  # tagging jets are forward


def test_photon_id_variables_separate(photon_id: tuple[Path, dict[str, Any]]) -> None:
    out, _ = photon_id
    tab = pq.read_table(out / "photon-id.parquet").to_pydict()
    cols = {
        "pt", "eta", "phi", "Rhad", "weta2", "etcone20", "ptcone20", "ptcone30",
        "n_tracks_in_cone", "label", "weight", "event_number", "sample",
    }  # fmt: skip
    assert cols <= set(tab)
    y = np.asarray(tab["label"])
    assert (y == 0).sum() >= 20 and (y == 1).sum() >= 100
    assert set(np.asarray(tab["sample"])[y == 1]) == {"prompt_photon"}
    w = np.asarray(tab["weight"])
    assert np.all(np.isfinite(w)) and np.all(w > 0)
    for var in ("Rhad", "weta2", "etcone20", "ptcone20"):
        auc = roc_auc_score(y, -np.asarray(tab[var], dtype=float))  # signal: small values
        assert auc > 0.6, (var, auc)


def test_photon_id_loose_preselection_keeps_prompt_photons(
    photon_id: tuple[Path, dict[str, Any]],
) -> None:
    """The loose preselection (Rhad, relaxed etcone20) keeps almost every prompt photon and
    a small fraction of the jet candidates (ATLAS: loose photon preselection)."""
    out, _ = photon_id
    tab = pq.read_table(out / "photon-id.parquet").to_pydict()
    y = np.asarray(tab["label"])
    loose = np.asarray(tab["loose"], dtype=bool)
    assert loose[y == 1].mean() > 0.9
    assert loose[y == 0].mean() < 0.15


def test_mwwbb_peaks_near_each_zprime_mass(ttbar: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = ttbar
    tab = pq.read_table(out / "resonance-ttbar.parquet").to_pydict()
    samp = np.asarray(tab["sample"])
    mwwbb = np.asarray(tab["f26"])
    peaks = {}
    for mass in (500.0, 1000.0):
        x = mwwbb[samp == f"zprime_{mass:g}"]
        assert len(x) > 25
        hist, edges = np.histogram(x, bins=np.arange(0, 2000, 50.0))
        peaks[mass] = np.median(x)
        mode = edges[np.argmax(hist)] + 25
        assert abs(peaks[mass] - mass) < 0.15 * mass, (mass, peaks[mass])
        assert abs(mode - mass) < 0.25 * mass, (mass, mode)
    assert peaks[1000.0] - peaks[500.0] > 350.0
    # signal rows carry the Z' mass; background rows a mass drawn from the signal masses
    # (HEPMASS: the mass column never reveals the class), their true m_tt on its own
    mass_col = np.asarray(tab["mass"])
    bkg = samp == "ttbar_mtt0"
    assert set(mass_col[bkg]) == {500.0, 1000.0} and np.all(np.asarray(tab["label"])[bkg] == 0)
    assert np.all(np.asarray(tab["mtt_true"])[bkg] > 340.0)
    assert set(mass_col[samp == "zprime_500"]) == {500.0}
    assert "HEPMASS" in manifest["background_mass_policy"]


def test_lepton_jets_cross_section_sums_both_charges(ttbar: tuple[Path, dict[str, Any]]) -> None:
    _, manifest = ttbar
    for s in manifest["samples"]:
        cfgs = s["configurations"]  # W+ -> l nu and W- -> l nu, half of the events each
        assert [c["configuration"] for c in cfgs] == [0, 1]
        assert cfgs[0]["events_generated"] == cfgs[1]["events_generated"] == 100
        assert s["xsection_pb"] == pytest.approx(cfgs[0]["xsection_pb"] + cfgs[1]["xsection_pb"])
        # the two charges have the same cross section (CP), within Pythia's errors
        diff = abs(cfgs[0]["xsection_pb"] - cfgs[1]["xsection_pb"])
        assert diff < 5 * np.hypot(cfgs[0]["xsection_err_pb"], cfgs[1]["xsection_err_pb"])
    ttbar_lo = next(s for s in manifest["samples"] if s["name"] == "ttbar_mtt0")
    # LO t tbar, m_tt < 700 GeV, e/mu + jets (2 x 2/9 x 6/9 of 13 TeV t tbar): about 130 pb
    assert 90.0 < ttbar_lo["xsection_pb"] < 180.0


def test_hepmass_csv_layout(ttbar: tuple[Path, dict[str, Any]]) -> None:
    out, _ = ttbar
    lines = (out / "resonance-ttbar.csv").read_text().splitlines()
    assert lines[0] == "# " + ",".join(hepmass_columns())
    assert lines[0].startswith("# label,f0,f1,") and lines[0].endswith(",f26,mass")
    data = np.loadtxt(out / "resonance-ttbar.csv", delimiter=",", comments="#")
    tab = pq.read_table(out / "resonance-ttbar.parquet").to_pydict()
    assert data.shape == (len(tab["label"]), 29)
    np.testing.assert_allclose(data[:, 1], tab["f0"], rtol=1e-5)  # lepton pT (GeV)
    assert np.all(data[:, 1] > 25.0) and np.all(data[:, 7] >= 4)  # selection; f5 = n_jets
    assert np.all(np.abs(data[:, 2]) < 2.7)  # lepton eta (muons to 2.7, electrons 2.47)
    m_lv = data[:, 25]  # f24: W mass constraint exact unless no real neutrino pz solution
    assert np.median(m_lv) == pytest.approx(80.4, abs=0.1) and np.all(m_lv > 80.3)
    hist, edges = np.histogram(data[:, 23], bins=np.arange(0.0, 300.0, 20.0))  # f22 = m_jj
    assert 60.0 <= edges[np.argmax(hist)] + 10.0 <= 110.0  # the W -> jj candidate peaks near m_W


def test_validation_plots(
    hgg: tuple[Path, dict[str, Any]], ttbar: tuple[Path, dict[str, Any]]
) -> None:
    for out, _ in (hgg, ttbar):
        paths = validation_plots(out)
        assert paths and all(p.suffix == ".png" and p.stat().st_size > 1000 for p in paths)
