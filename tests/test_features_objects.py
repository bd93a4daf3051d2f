"""Object inputs of set models: layout, transforms, masks, the scaler, the config section."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import pytest

from hepsift.config import ObjectsConfig
from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError
from hepsift.features.objects import (
    ObjectInputs,
    ObjectScaler,
    as_object_inputs,
    build_objects,
    object_branches,
    object_field_names,
)

SPEC = {"photon": 2, "jet": 3, "lep": 1, "met": 1}


def _events() -> Any:
    """Three events: two photons + 2 jets + a muon; two photons, no jet, no lepton; one photon."""
    return ak.zip(
        {
            "photon_pt": [[60.0, 40.0], [80.0, 30.0], [50.0]],
            "photon_eta": [[0.5, -1.0], [1.2, 1.0], [0.0]],
            "photon_phi": [[3.0, -2.9], [0.1, 2.0], [1.0]],
            "photon_E": [[70.0, 62.0], [145.0, 47.0], [50.0]],
            "photon_ptcone30": [[6.0, 0.0], [0.0, 3.0], [5.0]],
            "photon_isTightID": [[True, False], [True, True], [True]],
            "jet_pt": [[90.0, 25.0], [], []],
            "jet_eta": [[2.0, -3.0], [], []],
            "jet_phi": [[-3.1, 0.0], [], []],
            "jet_E": [[400.0, 260.0], [], []],
            "jet_MV2c10": [[0.9, 0.1], [], []],
            "lep_pt": [[30.0], [], []],
            "lep_eta": [[0.3], [], []],
            "lep_phi": [[1.0], [], []],
            "lep_E": [[32.0], [], []],
            "lep_charge": [[-1], [], []],
            "lep_type": [[13], [], []],
            "met_et": [20.0, 5.0, 0.0],
            "met_phi": [-1.0, 2.0, 0.5],
        },
        depth_limit=1,
    )


def test_layout_mask_and_type_indicator() -> None:
    obj = build_objects(_events(), SPEC)
    names = object_field_names(SPEC)
    assert obj.fields == names
    assert names[:4] == ("log_pt", "eta_rel", "dphi", "log_E")
    assert names[-4:] == ("is_photon", "is_jet", "is_lep", "is_met")
    assert obj.values.dtype == np.float32 and obj.values.shape == (3, 7, len(names))
    assert obj.collections == ("photon",) * 2 + ("jet",) * 3 + ("lep", "met")
    expected = [
        [1, 1, 1, 1, 0, 1, 1],
        [1, 1, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 0, 1],
    ]
    np.testing.assert_array_equal(obj.mask, np.array(expected, dtype=bool))
    v = obj.values
    assert np.all(v[~obj.mask] == 0.0)  # absent slots are zero
    onehot = v[:, :, -4:]
    kinds = np.array([["photon", "jet", "lep", "met"].index(c) for c in obj.collections])
    np.testing.assert_array_equal(
        onehot[obj.mask].argmax(axis=1), np.broadcast_to(kinds, (3, 7))[obj.mask]
    )
    assert np.all(onehot[obj.mask].sum(axis=1) == 1)


def test_transforms_against_vector() -> None:
    import vector

    ev = _events()
    obj = build_objects(ev, SPEC)
    col = {n: j for j, n in enumerate(obj.fields)}
    v = obj.values.astype(np.float64)
    p = ev.photon_pt
    g1: Any = vector.obj(
        pt=p[0][0], eta=ev.photon_eta[0][0], phi=ev.photon_phi[0][0], E=ev.photon_E[0][0]
    )
    g2: Any = vector.obj(
        pt=p[0][1], eta=ev.photon_eta[0][1], phi=ev.photon_phi[0][1], E=ev.photon_E[0][1]
    )
    gg = g1 + g2
    # event 0: the leading jet relative to the diphoton system; dphi wrapped into [-pi, pi)
    assert v[0, 2, col["log_pt"]] == pytest.approx(np.log(90.0), abs=1e-5)
    assert v[0, 2, col["eta_rel"]] == pytest.approx(2.0 - gg.rapidity, abs=1e-5)
    dphi = v[0, 2, col["dphi"]]
    jet: Any = vector.obj(pt=1.0, phi=-3.1, eta=0.0)
    ref = jet.deltaphi(vector.obj(pt=1.0, phi=gg.phi, eta=0.0))
    assert dphi == pytest.approx(ref, abs=1e-5) and -np.pi <= dphi < np.pi
    assert np.all(np.abs(v[..., col["dphi"]]) <= np.pi)
    # photon extras, jet b-tag, lepton charge / flavour (13 = muon -> 1), MET as one object
    assert v[0, 0, col["photon_isolation"]] == pytest.approx(0.1, abs=1e-6)
    assert v[0, 1, col["photon_id"]] == 0.0 and v[0, 0, col["photon_id"]] == 1.0
    assert v[0, 2, col["jet_btag"]] == pytest.approx(0.9, abs=1e-6)
    assert v[0, 5, col["lep_charge"]] == -1.0 and v[0, 5, col["lep_flavour"]] == 1.0
    assert v[0, 6, col["log_pt"]] == pytest.approx(np.log(20.0), abs=1e-5)
    assert v[0, 6, col["eta_rel"]] == 0.0
    # MET of 0 GeV gives a finite log (clamped), the one-photon event its own reference
    assert np.isfinite(v).all()
    assert v[2, 0, col["dphi"]] == pytest.approx(0.0, abs=1e-6)
    # without a reference eta and phi are absolute
    raw = build_objects(ev, SPEC, reference=None).values
    assert raw[0, 2, col["eta_rel"]] == pytest.approx(2.0) and raw[
        0, 2, col["dphi"]
    ] == pytest.approx(-3.1)


def test_chosen_fields_and_branches() -> None:
    spec = {"photon": 2, "jet": 2}
    fields = {"photon": ["pt", "eta", "phi"], "jet": ["pt", "btag"]}
    assert object_field_names(spec, fields) == (
        "log_pt",
        "eta_rel",
        "dphi",
        "jet_btag",
        "is_photon",
        "is_jet",
    )
    assert object_branches(spec, fields, reference=None) == {
        "photon_pt",
        "photon_eta",
        "photon_phi",
        "jet_pt",
        "jet_MV2c10",
    }
    assert "photon_E" in object_branches(spec, fields)  # the diphoton reference
    obj = build_objects(_events(), spec, fields)
    assert obj.values.shape == (3, 4, 6)


@pytest.mark.parametrize(
    ("spec", "fields", "match"),
    [
        ({"jets": 2}, None, r"unknown collection 'jets'.*did you mean 'jet'"),
        ({"met": 2}, None, r"'met' needs exactly 1"),
        ({"jet": 0}, None, r"'jet' needs >= 1"),
        ({"jet": 2}, {"jet": ["btagg"]}, r"unknown field 'btagg'.*'btag'"),
        ({"jet": 2}, {"photon": ["pt"]}, r"'photon' is not one of the collections"),
    ],
)
def test_bad_specs_are_one_line_errors(spec: Any, fields: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        object_field_names(spec, fields)


def test_missing_branch_is_named() -> None:
    ev = _events()
    ev = ak.zip({f: ev[f] for f in ev.fields if f != "jet_MV2c10"}, depth_limit=1)
    with pytest.raises(ConfigError, match=r"no branch 'jet_MV2c10'"):
        build_objects(ev, {"jet": 2})


def test_scaler_uses_present_objects_only(rng: np.random.Generator) -> None:
    n, s, f = 200, 5, 3
    values = rng.normal(2.0, 3.0, size=(n, s, f)).astype(np.float32)
    mask = rng.random((n, s)) < 0.6
    mask[:7] = False  # events without objects
    obj = ObjectInputs(values, mask, ("a", "b", "is_x"))
    garbage = values.copy()
    garbage[~mask] = 1e6
    w = rng.uniform(0.5, 2.0, n)
    a = ObjectScaler().fit(obj, w)
    b = ObjectScaler().fit(ObjectInputs(garbage, mask, obj.fields), w)
    assert a.mean_ is not None and a.scale_ is not None
    assert b.mean_ is not None and b.scale_ is not None
    np.testing.assert_allclose(a.mean_, b.mean_)
    np.testing.assert_allclose(a.scale_, b.scale_)
    present = values[mask].astype(np.float64)
    ew = np.broadcast_to(w[:, None], mask.shape)[mask]
    np.testing.assert_allclose(a.mean_[:2], np.average(present[:, :2], axis=0, weights=ew))
    assert a.mean_[2] == 0.0 and a.scale_[2] == 1.0  # type indicators are not scaled
    out, m = a.transform((garbage, mask))
    assert out.dtype == np.float32 and np.all(out[~m] == 0.0)
    assert abs(np.average(out[mask][:, 0], weights=ew)) < 1e-5
    c = ObjectScaler.from_dict(a.to_dict())
    np.testing.assert_array_equal(c.transform(obj)[0], a.transform(obj)[0])
    with pytest.raises(DataError, match="fields"):
        a.transform((values[:, :, :2], mask))


def test_object_inputs_value_and_dataset(rng: np.random.Generator) -> None:
    values = rng.normal(size=(10, 3, 2)).astype(np.float32)
    mask = rng.random((10, 3)) < 0.5
    with pytest.raises(DataError, match=r"mask must have shape \(10, 3\)"):
        ObjectInputs(values, mask[:, :2])
    with pytest.raises(DataError, match="pair"):
        as_object_inputs(values)
    ds = Dataset(
        X=np.zeros((10, 0), dtype=np.float32),
        y=np.arange(10) % 2,
        weight=np.ones(10),
        feature_names=(),
        objects=(values, mask),  # type: ignore[arg-type]  # a pair is converted
    )
    assert isinstance(ds.objects, ObjectInputs)
    sub = ds.subset(np.array([1, 3]))
    assert sub.objects is not None
    v, m = sub.objects
    np.testing.assert_array_equal(v, values[[1, 3]])
    np.testing.assert_array_equal(m, mask[[1, 3]])
    with pytest.raises(DataError, match=r"Dataset\.objects has 9 entries"):
        Dataset(
            X=np.zeros((10, 1), dtype=np.float32),
            y=np.zeros(10, dtype=np.int64),
            weight=np.ones(10),
            feature_names=("a",),
            objects=ObjectInputs(values[:9], mask[:9]),
        )


def test_config_section() -> None:
    cfg = ObjectsConfig(collections={"photon": 2, "jet": 4, "met": 1})
    assert cfg.reference == "photon" and cfg.fields == {}
    with pytest.raises(ValueError, match="did you mean 'photon'"):
        ObjectsConfig(collections={"photons": 2})
