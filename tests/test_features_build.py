"""Named features, missing values, physics weights and build_dataset end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

import hepsift.io as hio
from hepsift.errors import ConfigError, DataError
from hepsift.features import compute_features, resolve_feature
from hepsift.prepare import SampleSpec, build_dataset
from hepsift.select import Selection
from hepsift.toydata import write_toy_gamgam

FEATURES = ["photon_pt_0", "photon_eta_1", "m_gg", "ptt_gg", "jet_n", "ht", "m_jj", "deta_jj"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("build")
    return {
        "sig": write_toy_gamgam(
            d / "sig.root", 3000, seed=3, signal_fraction=0.9, xsection_pb=0.11
        ),
        "bkg": write_toy_gamgam(
            d / "bkg.root",
            4000,
            seed=4,
            signal_fraction=0.05,
            channel_number=900001,
            xsection_pb=50.0,
        ),
    }


def test_feature_names_and_missing_values(files: dict[str, Path]) -> None:
    ev = hio.read(files["bkg"])
    X, names = compute_features(
        ev,
        ["photon_pt_2", "photon_valid_2", "jet_n", "jet_mean_pt", "m_jj", "lep_n", "met_et"],
        fill_value=-5.0,
        missing_indicators=["m_jj"],
    )
    assert names[-1] == "m_jj_missing" and X.dtype == np.float32
    n_ph = ak.to_numpy(ak.num(ev.photon_pt))
    has3 = n_ph >= 3
    np.testing.assert_allclose(X[has3, 0], ak.to_numpy(ev.photon_pt[has3][:, 2]), rtol=1e-6)
    assert np.all(X[~has3, 0] == -5.0)
    np.testing.assert_array_equal(X[:, 1], has3)
    nj = ak.to_numpy(ak.num(ev.jet_pt))
    np.testing.assert_array_equal(X[:, 2], nj)
    assert np.all(X[nj == 0, 3] == -5.0)  # mean of no jets: missing
    np.testing.assert_array_equal(X[:, -1], nj < 2)
    assert np.all(X[nj < 2, 4] == -5.0)
    # sentinels count as missing
    ev2 = ak.with_field(ev, ak.where(ev.met_et > 30, -999.0, ev.met_et), "met_et")
    X2, _ = compute_features(ev2, ["met_et"], fill_value=0.0)
    assert np.all(X2[ak.to_numpy(ev.met_et > 30), 0] == 0.0)


def test_unknown_and_per_object_names(files: dict[str, Path]) -> None:
    names = uproot.open(files["sig"])["mini"].keys()
    with pytest.raises(ConfigError, match="unknown feature 'm_ggg'; did you mean 'm_gg'"):
        resolve_feature("m_ggg", names)
    with pytest.raises(ConfigError, match="did you mean 'photon_pt_0'"):
        resolve_feature("photn_pt_0", names)
    with pytest.raises(ConfigError, match=r"one value per object.*'photon_pt_0'"):
        resolve_feature("photon_pt", names)
    with pytest.raises(ConfigError, match="repeated"):
        compute_features(hio.read(files["sig"], entry_stop=5), ["m_gg", "m_gg"])
    with pytest.raises(ConfigError, match="missing_indicators"):
        compute_features(hio.read(files["sig"], entry_stop=5), ["m_gg"], missing_indicators=["ht"])
    assert set(resolve_feature("ptt_gg", names).requires) == {
        "photon_pt",
        "photon_eta",
        "photon_phi",
        "photon_E",
    }


def _ref_weight(path: Path, lumi_fb: float, kfactor: float = 1.0) -> np.ndarray:
    t = uproot.open(path)["mini"].arrays(library="np")
    w = (
        t["mcWeight"].astype(np.float64)
        * t["scaleFactor_PHOTON"]
        * t["scaleFactor_PhotonTRIGGER"]
        * t["scaleFactor_PILEUP"]
    )
    ref = w * t["XSection"] * lumi_fb * 1000.0 / t["SumWeights"] * kfactor
    return np.asarray(ref, dtype=np.float64)


def test_build_dataset_weights_labels_and_cutflows(files: dict[str, Path]) -> None:
    samples: list[SampleSpec | dict[str, Any]] = [
        {"name": "ggH", "files": str(files["sig"]), "label": "signal", "kfactor": 2.0},
        SampleSpec(name="yy", files=str(files["bkg"]), label="background"),
    ]
    ds, info = build_dataset(samples, features=FEATURES, selection="hgamgam", lumi_fb=36.1)
    assert ds.feature_names == tuple(FEATURES) and ds.class_names == ("background", "signal")
    assert ds.sample_names == ("ggH", "yy")
    sel = Selection.from_config("hgamgam")
    for k, (name, path, kf) in enumerate((("ggH", files["sig"], 2.0), ("yy", files["bkg"], 1.0))):
        events = hio.read(path)
        _, flow, idx = sel.apply(events)
        w_ref = _ref_weight(path, 36.1, kf)[idx]
        mine = ds.sample == k
        np.testing.assert_allclose(ds.weight[mine], w_ref, rtol=1e-6)
        evno = uproot.open(path)["mini"]["eventNumber"].array(library="np")[idx]
        np.testing.assert_array_equal(ds.event_number[mine], evno)
        assert np.all(ds.y[mine] == (1 if name == "ggH" else 0))
        rows = info.cutflows[name].as_rows()
        assert rows[-1]["events"] == mine.sum() == flow.events[-1]
        assert rows[-1]["yield"] == pytest.approx(w_ref.sum())
        assert rows[0]["yield"] == pytest.approx(_ref_weight(path, 36.1, kf).sum())
    # the input yield is sigma * L * k (weights normalised by SumWeights; SFs ~ 1 +- 2 %)
    assert info.cutflows["ggH"].as_rows()[0]["yield"] == pytest.approx(0.11 * 36100 * 2.0, rel=3e-3)
    # m_gg peaks at 125 GeV in the signal sample
    mgg = ds.X[ds.y == 1, FEATURES.index("m_gg")]
    assert abs(np.median(mgg) - 125.0) < 2.0
    yields = {(r["sample"], r["class"]): r for r in info.yields}
    assert yields[("ggH", "signal")]["yield"] == pytest.approx(ds.weight[ds.sample == 0].sum())
    assert info.kinds == {"ggH": "mc", "yy": "mc"}
    json.dumps(info.to_dict())  # JSON-able
    assert info.yields_table().row_count == 2


def test_streaming_in_small_chunks_gives_identical_arrays(files: dict[str, Path]) -> None:
    spec = [{"name": "s", "files": str(files["sig"]), "label": 1}]
    a, ia = build_dataset(spec, features=FEATURES, selection="hgamgam", step_size=400)
    b, ib = build_dataset(spec, features=FEATURES, selection="hgamgam")
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(ia.cutflows["s"].events, ib.cutflows["s"].events)


def test_negative_weights_and_balancing_on_built_dataset(files: dict[str, Path]) -> None:
    ds, _ = build_dataset(
        [
            {"name": "s", "files": str(files["sig"]), "label": "signal"},
            {"name": "b", "files": str(files["bkg"]), "label": "background"},
        ],
        features=["m_gg"],
    )
    assert (ds.weight < 0).any()
    assert np.all(ds.training_weight(negative="drop") >= 0)
    tw = ds.training_weight(negative="abs", balance_classes=True)
    assert tw[ds.y == 0].sum() == pytest.approx(tw[ds.y == 1].sum())


def test_real_data_gets_unit_weight_and_objects(atlas_file: Path) -> None:
    ds, info = build_dataset(
        [{"name": "data_A", "files": str(atlas_file), "label": "background"}],
        features=["lep_pt_0", "lep_n", "m_ll", "met_et"],
        objects={"lep": 4, "jet": 2},
        object_reference=None,
    )
    assert info.kinds["data_A"] == "data" and np.all(ds.weight == 1.0) and len(ds) == 39
    raw = uproot.open(atlas_file)["mini"].arrays(["lep_pt", "eventNumber"])
    np.testing.assert_allclose(ds.X[:, 0], ak.to_numpy(raw.lep_pt[:, 0]) / 1000, rtol=1e-6)
    np.testing.assert_array_equal(ds.event_number, ak.to_numpy(raw.eventNumber))
    assert ds.objects is not None
    vals, mask = ds.objects
    assert (
        ds.objects.fields[0] == "log_pt" and ds.objects.collections == ("lep",) * 4 + ("jet",) * 2
    )
    assert vals.shape == (39, 6, 4 + 3 + 2) and mask[:, :4].all()
    np.testing.assert_allclose(np.exp(vals[:, 0, 0]), ds.X[:, 0], rtol=1e-5)
    sub = ds.subset(np.arange(5))
    assert len(sub.objects) == 5


def test_tables_with_label_and_param_columns(tmp_path: Path, rng: np.random.Generator) -> None:
    from hepsift.io.schema import HEPMASS_COLUMNS

    rows = rng.normal(size=(300, 29))
    rows[:, 0] = rng.integers(0, 2, 300)
    rows[:, -1] = rng.choice([500.0, 1000.0], 300)
    path = tmp_path / "hepmass.csv"
    np.savetxt(path, rows, delimiter=",", header="# " + ",".join(HEPMASS_COLUMNS), comments="")
    ds, info = build_dataset(
        [{"name": "hm", "files": str(path), "label_branch": "label", "param_branch": "mass"}],
        features=["f0", "f26"],
    )
    np.testing.assert_array_equal(ds.y, rows[:, 0])
    np.testing.assert_allclose(ds.param, rows[:, -1])
    np.testing.assert_array_equal(ds.event_number, np.arange(300))
    assert info.kinds["hm"] == "data" and np.all(ds.weight == 1)


def test_sample_spec_and_manifest_errors(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'kfactr'; did you mean 'kfactor'"):
        SampleSpec.from_dict({"name": "a", "files": "x", "label": 1, "kfactr": 1.1})
    with pytest.raises(ConfigError, match="exactly one of 'label'"):
        SampleSpec(name="a", files="x")
    with pytest.raises(ConfigError, match="not a class; did you mean 'signal'"):
        build_dataset(
            [{"name": "a", "files": str(files["sig"]), "label": "signl"}],
            features=["m_gg"],
            class_names=["background", "signal"],
        )
    with pytest.raises(ConfigError, match="repeated"):
        build_dataset(
            [
                {"name": "a", "files": str(files["sig"]), "label": 1},
                {"name": "a", "files": str(files["sig"]), "label": 0},
            ],
            features=["m_gg"],
        )
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"samples": {"ggH": {"xsection_pb": 2.0, "sum_weights": 10.0}}}))
    ds, info = build_dataset(
        [{"name": "ggH", "files": str(files["sig"]), "label": 1, "manifest": str(manifest)}],
        features=["m_gg"],
        lumi_fb=1.0,
    )
    t = uproot.open(files["sig"])["mini"].arrays(library="np")
    w = t["mcWeight"].astype(np.float64) * t["scaleFactor_PHOTON"] * t["scaleFactor_PhotonTRIGGER"]
    np.testing.assert_allclose(
        ds.weight, w * t["scaleFactor_PILEUP"] * 2.0 * 1000.0 / 10.0, rtol=1e-6
    )
    assert info.norm["ggH"]["xsection_pb"] == 2.0
    with pytest.raises(DataError, match="no sample 'ggh'; did you mean 'ggH'"):
        build_dataset(
            [{"name": "ggh", "files": str(files["sig"]), "label": 1, "manifest": str(manifest)}],
            features=["m_gg"],
        )


def test_slot_feature_alone_reads_its_collection_count(files: dict[str, Path]) -> None:
    """`features: [jet_pt_0]` alone: the count branch is read with the field, so the read
    events still show `jet` as a collection (it failed as an unknown feature before)."""
    feats = ["jet_pt_0", "jet_valid_1", "jet_max_eta"]
    ds, _ = build_dataset(
        [{"name": "yy", "files": str(files["bkg"]), "label": "background"}], features=feats
    )
    ev = hio.read(files["bkg"])
    ref, _ = compute_features(ev, feats)
    np.testing.assert_array_equal(ds.X, ref)
    assert "jet_n" in resolve_feature("jet_pt_0", ev.fields).requires
