"""Sample definitions, generator-level filters, the k-factor table and the training-only
spectrum reweighting (issue 11, items 7 and 9)."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pytest

from hepsift.config import RunConfig
from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError
from hepsift.generate.processes import ProcessVeto, Sample, passes_veto
from hepsift.generate.scenarios import samples_for
from hepsift.generate.xsec import BR_H_GAMMAGAMMA, XSEC_TABLE, kfactor_for, normalisation
from hepsift.prepare.reweight import reweight_factors


def _p(pt: float, eta: float, phi: float = 0.0) -> tuple[float, float, float]:
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)


def _veto(ids: list[int], moms: list[tuple[float, float, float]], veto: ProcessVeto) -> bool:
    px, py, pz = (np.array(c) for c in zip(*moms, strict=True))
    return passes_veto(veto, np.array(ids), px, py, pz)


def test_veto_counts_objects_above_pt_over_m_and_inside_eta() -> None:
    v = ProcessVeto(photons=2, eta_max=2.6, pt_over_m_min=0.2)
    # back-to-back photons at eta +-0.5, pT 50: m = 2 pT cosh(0.5) = 112.8, pT/m = 0.44
    assert _veto([22, 22], [_p(50, 0.5), _p(50, -0.5, np.pi)], v)
    # eta +-2.0: m = 2 * 50 * cosh(2) = 376, pT/m = 0.13 < 0.2
    assert not _veto([22, 22], [_p(50, 2.0), _p(50, -2.0, np.pi)], v)
    # one photon outside |eta| < 2.6
    assert not _veto([22, 22], [_p(50, 0.1), _p(50, 2.7, np.pi)], v)
    jets = ProcessVeto(photons=1, partons=1, eta_max=2.6, pt_min_gev=30.0)
    assert _veto([22, 21], [_p(40, 0.0), _p(40, 0.3, np.pi)], jets)
    assert not _veto([22, 21], [_p(40, 0.0), _p(20, 0.3, np.pi)], jets)  # parton below 30
    assert not _veto([22, 22], [_p(40, 0.0), _p(40, 0.3, np.pi)], jets)  # no parton


def test_higgs_samples_have_windows_and_filters() -> None:
    by = {s.name: s for s in samples_for("higgs-diphoton")}
    assert {"ggF", "VBF", "WH", "ZH", "ttH", "diphoton", "photonjet", "jetjet"} == set(by)
    for name in ("diphoton", "photonjet", "jetjet"):
        s = by[name]
        assert s.veto is not None and not s.is_signal
        assert any(x.startswith("PhaseSpace:mHatMin") for x in s.settings)
        assert s.as_dict()["generator_filter"]["pt_over_m_min"] == s.veto.pt_over_m_min
    assert by["diphoton"].veto is not None and by["diphoton"].veto.photons == 2
    assert by["jetjet"].veto is not None and by["jetjet"].veto.partons == 2
    dijet = {s.name: s for s in samples_for("photon-id")}["dijet"]
    assert "PhaseSpace:bias2Selection = on" in dijet.settings


def test_kfactor_table() -> None:
    # Higgs: reference sigma x BR over the unfiltered LO value
    k = kfactor_for("ggF", 0.06, 0.75)
    assert k == pytest.approx(48.58 * BR_H_GAMMAGAMMA / (0.06 / 0.75))
    assert kfactor_for("diphoton", 7.8, 0.5) == XSEC_TABLE["diphoton"].kfactor
    assert 1.5 <= kfactor_for("diphoton", 1.0) <= 2.0
    assert kfactor_for("no-such-sample", 3.0) == 1.0
    metas: list[dict[str, Any]] = [
        {"filter_tried": 100, "filter_passed": 40},
        {"filter_tried": 100, "filter_passed": 60},
    ]
    n = normalisation("VBF", 0.01, metas)
    assert n["filter_efficiency"] == pytest.approx(0.5)
    assert n["kfactor"] == pytest.approx(3.782 * BR_H_GAMMAGAMMA / 0.02)
    assert normalisation("zprime_500", 1.0, [{}])["filter_efficiency"] == 1.0


def test_reweight_brings_background_spectrum_to_signal() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.exponential(10.0, 4000) + 10, rng.normal(40.0, 8.0, 3000)])
    y = np.concatenate([np.zeros(4000, np.int64), np.ones(3000, np.int64)])
    w = rng.uniform(0.5, 2.0, len(x))
    bins = np.linspace(10, 80, 15)
    f = reweight_factors(x, y, w, target=1, bins=bins)
    assert np.all(f[y == 1] == 1.0)
    bkg, sig = y == 0, y == 1
    assert np.sum(w[bkg] * f[bkg]) == pytest.approx(np.sum(w[bkg]))  # total kept

    def shape(m: np.ndarray, ww: np.ndarray) -> np.ndarray:
        h = np.histogram(np.clip(x[m], 10, 79.99), bins=bins, weights=ww)[0]
        return np.asarray(h / h.sum(), dtype=np.float64)

    before = np.abs(shape(bkg, w[bkg]) - shape(sig, w[sig])).sum()
    after = np.abs(shape(bkg, w[bkg] * f[bkg]) - shape(sig, w[sig])).sum()
    assert before > 0.5 and after < 1e-9
    with pytest.raises(ConfigError, match="increasing"):
        reweight_factors(x, y, w, target=1, bins=[3.0, 2.0])
    apart = np.where(y == 1, 50.0, 15.0)  # no overlap: nothing to reweight to
    with pytest.raises(DataError, match="do not overlap"):
        reweight_factors(apart, y, w, target=1, bins=[10, 20, 60])


def test_train_factor_is_training_only_and_survives_subsets() -> None:
    ds = Dataset(
        X=np.zeros((4, 1), np.float32),
        y=np.array([0, 0, 1, 1]),
        weight=np.array([1.0, 2.0, 3.0, 4.0]),
        feature_names=("a",),
        train_factor=np.array([2.0, 0.5, 1.0, 1.0]),
    )
    assert list(ds.training_weight()) == [2.0, 1.0, 3.0, 4.0]
    sub = ds.subset([1, 2]).select_features(["a"])
    assert sub.train_factor is not None and list(sub.training_weight()) == [1.0, 3.0]
    assert list(sub.weight) == [2.0, 3.0]  # evaluation weights untouched


def test_reweight_config_parses() -> None:
    cfg = RunConfig.model_validate(
        {
            "name": "x",
            "data": {"scenario": "photon-id", "events": 10},
            "features": ["Rhad"],
            "weights": {"reweight": {"variable": "pt", "to": "signal", "bins": [10, 20, 40]}},
            "models": [{"name": "m", "family": "logistic"}],
        }
    )
    assert cfg.weights.reweight is not None and cfg.weights.reweight.variable == "pt"


# ------------------------------------------------------------------ filtered vs unfiltered


def _loose_yield(rows: Any, meta: dict[str, Any]) -> tuple[float, float, int]:
    """Weighted (pb) yield and error of events with two photon candidates inside
    |eta| < 2.37 with E_T/m > 0.35 / 0.25 and 105 < m < 160 GeV (no ID, no isolation)."""
    ph = rows["photon"]
    pt = ph["pt"][abs(ph["eta"]) < 2.37] / 1000.0
    eta = ph["eta"][abs(ph["eta"]) < 2.37]
    phi = ph["phi"][abs(ph["eta"]) < 2.37]

    def lead(a: Any, i: int) -> np.ndarray:
        return np.asarray(ak.fill_none(ak.pad_none(a, 2, clip=True), 0.0))[:, i]

    p0, p1 = lead(pt, 0), lead(pt, 1)
    m = np.sqrt(
        np.maximum(
            2
            * p0
            * p1
            * (np.cosh(lead(eta, 0) - lead(eta, 1)) - np.cos(lead(phi, 0) - lead(phi, 1))),
            0.0,
        )
    )
    mm = np.where(m > 0, m, 1.0)
    sel = (p1 > 0) & (p0 / mm > 0.35) & (p1 / mm > 0.25) & (m > 105) & (m < 160)
    w = np.asarray(rows["mcWeight"])[sel] * meta["xsection_pb"] / meta["sum_weights"]
    return float(w.sum()), float(np.sqrt(np.sum(w * w))), int(sel.sum())


@pytest.mark.slow
def test_filtered_diphoton_reproduces_unfiltered_yield() -> None:
    """The generator filter (pT > 0.2 mHat, |eta| < 2.6) removes only events the selection
    would reject: the selected cross section agrees with the unfiltered sample's."""
    from dataclasses import replace

    from hepsift.generate.runner import ChunkTask, run_chunk

    filtered = {s.name: s for s in samples_for("higgs-diphoton")}["diphoton"]
    unfiltered: Sample = replace(filtered, name="diphoton_unfiltered", veto=None)
    out = {}
    for s, n in ((unfiltered, 1200), (filtered, 600)):
        res = run_chunk(ChunkTask("higgs-diphoton", s, 0, n, n, 11, False))
        out[s.name] = _loose_yield(res["rows"], res["meta"])
    (yu, eu, nu), (yf, ef, nf) = out["diphoton_unfiltered"], out["diphoton"]
    assert nf / 600 > 1.5 * nu / 1200  # the filter enriches the selected fraction
    assert abs(yf - yu) < 3.0 * np.hypot(eu, ef), (yf, eu, yu, ef)


def test_sigma68_and_exponential_slope_against_known_distributions() -> None:
    from hepsift.generate.validate import exponential_slope, figure_lines, sigma68

    rng = np.random.default_rng(3)
    assert sigma68(rng.normal(125.0, 2.0, 200_000)) == pytest.approx(2.0, rel=0.02)
    assert np.isnan(sigma68(np.array([])))
    # exp(-0.031 m) on 105-160 by inversion, fitted on the sidebands only
    u = rng.uniform(size=100_000)
    b, lo, hi = -0.031, 105.0, 160.0
    m = np.log(np.exp(b * lo) + u * (np.exp(b * hi) - np.exp(b * lo))) / b
    assert exponential_slope(m, np.ones_like(m)) == pytest.approx(b, rel=0.03)
    assert exponential_slope(m, np.full_like(m, 7.0)) == pytest.approx(b, rel=0.03)
    lines = figure_lines({"S/B in 120-130": 0.05, "x": 1.0})
    assert "OUTSIDE" in lines[0] and lines[1] == "x: 1"


def test_finalise_reweights_and_drops_the_variable() -> None:
    from hepsift.prepare.run_data import PreparedData, finalise

    rng = np.random.default_rng(2)
    pt = np.concatenate([rng.uniform(10, 30, 50), rng.uniform(15, 60, 50)])
    ds = Dataset(
        X=np.column_stack([rng.normal(size=100), pt]).astype(np.float32),
        y=np.repeat([0, 1], 50),
        weight=np.ones(100),
        feature_names=("a", "pt"),
    )
    base = {
        "name": "x",
        "data": {"scenario": "photon-id", "events": 10},
        "features": ["a"],
        "models": [{"name": "m", "family": "logistic"}],
    }
    cfg = RunConfig.model_validate(
        {**base, "weights": {"reweight": {"variable": "pt", "bins": [10, 20, 40, 60]}}}
    )
    out = finalise(PreparedData(dataset=ds), cfg).dataset
    assert out.feature_names == ("a",) and out.train_factor is not None
    assert not np.allclose(out.train_factor[:50], 1.0) and np.all(out.train_factor[50:] == 1.0)
    bad = RunConfig.model_validate(
        {**base, "weights": {"reweight": {"variable": "pt", "to": "signl", "bins": [10, 60]}}}
    )
    with pytest.raises(ConfigError, match="did you mean 'signal'"):
        finalise(PreparedData(dataset=ds), bad)


def test_photon_id_figures_on_a_synthetic_table(tmp_path: Any) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from hepsift.generate.validate import validation_figures

    rng = np.random.default_rng(4)
    n = 400
    y = np.repeat([0, 1], n // 2)
    cols: dict[str, Any] = {
        v: rng.exponential(1.0, n) + 2.0 * (1 - y)
        for v in ("Rhad", "weta2", "etcone20", "ptcone20", "ptcone30", "n_tracks_in_cone", "pt")
    }
    cols["ptcone20"][y == 1] = 0.0  # zero for every prompt photon
    cols.update(eta=rng.normal(size=n), label=y, weight=np.ones(n))
    pq.write_table(pa.table(cols), tmp_path / "photon-id.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"scenario": "photon-id", "samples": []}))
    fig = validation_figures(tmp_path)
    assert fig["photon-id zero fraction ptcone20 prompt"] == 1.0
    assert fig["photon-id max zero fraction"] == 1.0
    assert fig["photon-id AUC eta"] < 0.6 < fig["photon-id AUC Rhad"]
    assert fig["photon-id max single-variable AUC"] == max(
        v for k, v in fig.items() if k.startswith("photon-id AUC ") and "weights" not in k
    )


def test_loose_preselection_cuts_at_the_named_constants() -> None:
    from hepsift.generate import constants as C
    from hepsift.generate.scenarios import loose_preselection

    r, f = C.PHOTONID_LOOSE_RHAD_MAX, C.PHOTONID_LOOSE_ETCONE20_REL_MAX
    et = np.array([40.0, 40.0, 40.0, 40.0, 20.0])
    rhad = np.array([0.0, r * 1.01, r * 0.99, 0.01, 0.01])
    iso = np.array([-1.0, 0.0, f * 40.0 * 1.01, f * 40.0 * 0.99, f * 20.0])
    assert loose_preselection(rhad, iso, et).tolist() == [True, False, False, True, False]


def test_photon_id_figures_use_the_loose_candidates(tmp_path: Any) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from hepsift.generate.validate import validation_figures

    rng = np.random.default_rng(5)
    n = 600
    y = np.tile([0, 1], n // 2)
    loose = (y == 1) | (np.arange(n) % 6 == 0)  # every prompt photon, a third of the jets
    cols: dict[str, Any] = {
        v: rng.exponential(1.0, n)
        for v in ("Rhad", "weta2", "etcone20", "ptcone20", "ptcone30", "n_tracks_in_cone", "pt")
    }
    cols["etcone20"][~loose] += 50.0  # jets failing the preselection: trivially separable
    cols.update(eta=rng.normal(size=n), label=y, weight=np.ones(n), loose=loose)
    pq.write_table(pa.table(cols), tmp_path / "photon-id.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"scenario": "photon-id", "samples": []}))
    fig = validation_figures(tmp_path)
    assert fig["photon-id loose efficiency prompt"] == 1.0
    assert fig["photon-id loose efficiency jet"] == pytest.approx(1 / 3)
    assert fig["photon-id rows jet"] == n // 6 and fig["photon-id rows prompt"] == n // 2
    assert fig["photon-id AUC etcone20"] < 0.62  # the same distribution once preselected


@pytest.mark.parametrize("names", [["prompt_photon"], ["prompt_photon", "dijet"]])
def test_photon_id_table_keeps_its_physics_weights(tmp_path: Any, names: list[str]) -> None:
    """A photon-id folder holding one sample (data.events_per_sample splits the samples over
    folders) is read with its per-row physics weights, like a folder holding both."""
    import json

    from hepsift.prepare.run_data import _manifest_samples

    samples = [
        {"name": n, "file": "photon-id.parquet", "is_signal": n == "prompt_photon", "kfactor": 1.0}
        for n in names
    ]
    manifest = {"scenario": "photon-id", "samples": samples}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (spec,) = _manifest_samples(tmp_path)
    assert spec["weight_branch"] == "weight" and spec["kind"] == "mc"
    assert spec["xsection_pb"] == spec["sum_weights"] == 1.0
    assert spec["name"] == (names[0] if len(names) == 1 else "photon-id")
