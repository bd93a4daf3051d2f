"""Jagged -> fixed-size: padding with masks, aggregates, object slots, collection filtering;
kinematics against independent closed formulas."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from hepsift.errors import ConfigError
from hepsift.features.jagged import (
    aggregate,
    collections,
    filter_collection,
    pad,
    stack_objects,
)
from hepsift.features.kinematics import (
    costheta_cs,
    delta_phi,
    delta_r,
    four_vector,
    pair_quantity,
    pt_thrust,
)

JAG = ak.Array([[3.0, 2.0, 1.0], [], [5.0], [4.0, 0.5]])


def test_pad_truncates_fills_and_masks() -> None:
    values, mask = pad(JAG, 2, fill=-1.0)
    np.testing.assert_array_equal(values, [[3, 2], [-1, -1], [5, -1], [4, 0.5]])
    np.testing.assert_array_equal(mask, [[1, 1], [0, 0], [1, 0], [1, 1]])
    v, m = pad(JAG, 4)
    assert np.isnan(v[0, 3]) and not m[0, 3] and m[0, 2]
    with pytest.raises(ConfigError):
        pad(JAG, 0)


def test_aggregates_match_python_loops() -> None:
    lists = JAG.to_list()
    np.testing.assert_array_equal(aggregate(JAG, "count"), [len(x) for x in lists])
    np.testing.assert_allclose(aggregate(JAG, "sum"), [sum(x) for x in lists])
    np.testing.assert_allclose(
        aggregate(JAG, "max", empty=-9), [max(x) if x else -9 for x in lists]
    )
    np.testing.assert_allclose(
        aggregate(JAG, "min", empty=-9), [min(x) if x else -9 for x in lists]
    )
    np.testing.assert_allclose(
        aggregate(JAG, "mean", empty=0), [sum(x) / len(x) if x else 0 for x in lists]
    )
    with pytest.raises(ConfigError, match="did you mean 'mean'"):
        aggregate(JAG, "meen")


def test_collections_from_names() -> None:
    atlas = ["photon_n", "photon_pt", "jet_n", "jet_pt", "met_et", "lep_n", "lep_eta"]
    assert collections(atlas) == {"photon": "photon_n", "jet": "jet_n", "lep": "lep_n"}
    nano = ["nJet", "Jet_pt", "nPhoton", "Photon_pt", "MET_pt", "run", "nOther"]
    assert collections(nano) == {"Jet": "nJet", "Photon": "nPhoton"}


def test_filter_collection_keeps_fields_consistent() -> None:
    ev = ak.zip(
        {
            "photon_n": np.array([3, 0, 1, 2], dtype=np.int32),
            "photon_pt": JAG,
            "photon_eta": JAG * 0.1,
            "met": np.arange(4.0),
        },
        depth_limit=1,
    )
    out = filter_collection(ev, "photon", ev.photon_pt > 1.5)
    assert out.photon_pt.to_list() == [[3, 2], [], [5], [4]]
    np.testing.assert_allclose(ak.flatten(out.photon_eta).to_numpy(), [0.3, 0.2, 0.5, 0.4])
    assert ak.num(out.photon_eta).to_list() == [2, 0, 1, 1]
    assert out.photon_n.to_list() == [2, 0, 1, 1]
    assert str(ak.type(out.photon_n).content) == "int32"
    assert out.met.to_list() == [0, 1, 2, 3]


def test_stack_objects_bubbles_masks_across_types() -> None:
    ev = ak.zip(
        {
            "photon_pt": JAG,
            "photon_eta": JAG * 0,
            "jet_pt": ak.Array([[10.0], [20.0, 30.0, 1.0], [], []]),
            "jet_eta": ak.Array([[1.0], [2.0, 3.0, 4.0], [], []]),
        },
        depth_limit=1,
    )
    slots = stack_objects(ev, {"photon": 2, "jet": 3}, ("pt", "eta"), fill=0.0)
    assert slots.values.shape == (4, 5, 2) and slots.values.dtype == np.float32
    assert slots.collection == ("photon", "photon", "jet", "jet", "jet")
    np.testing.assert_array_equal(
        slots.mask,
        [[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]],
    )
    np.testing.assert_array_equal(slots.values[1, 2:, 0], [20, 30, 1])
    assert np.all(slots.values[~slots.mask] == 0)
    with pytest.raises(ConfigError, match="did you mean 'photon'"):
        stack_objects(ev, {"photons": 1})


def _random_pairs(rng: np.random.Generator, n: int = 2000) -> tuple:
    pt1, pt2 = rng.uniform(20, 200, n), rng.uniform(20, 200, n)
    eta1, eta2 = rng.uniform(-2.5, 2.5, n), rng.uniform(-2.5, 2.5, n)
    phi1, phi2 = rng.uniform(-np.pi, np.pi, n), rng.uniform(-np.pi, np.pi, n)
    return pt1, eta1, phi1, pt2, eta2, phi2


def test_massless_pair_kinematics_match_closed_formulas(rng: np.random.Generator) -> None:
    pt1, eta1, phi1, pt2, eta2, phi2 = _random_pairs(rng)
    a = four_vector(pt1, eta1, phi1, energy=pt1 * np.cosh(eta1))
    b = four_vector(pt2, eta2, phi2)  # mass 0 by default
    dphi = delta_phi(phi1, phi2)
    m_ref = np.sqrt(2 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(phi1 - phi2)))
    np.testing.assert_allclose(pair_quantity("m", a, b), m_ref, rtol=1e-6)
    pt_ref = np.hypot(
        pt1 * np.cos(phi1) + pt2 * np.cos(phi2), pt1 * np.sin(phi1) + pt2 * np.sin(phi2)
    )
    np.testing.assert_allclose(pair_quantity("pt", a, b), pt_ref, rtol=1e-9)
    assert np.all((dphi >= 0) & (dphi <= np.pi))
    np.testing.assert_allclose(np.cos(dphi), np.cos(phi1 - phi2), atol=1e-12)
    np.testing.assert_allclose(delta_r(eta1, phi1, eta2, phi2), np.hypot(eta1 - eta2, dphi))
    np.testing.assert_allclose(pair_quantity("dr", a, b), a.deltaR(b), rtol=1e-9)
    # ATLAS's |cos theta*| formula for massless photons
    cs_ref = np.abs(np.sinh(eta1 - eta2)) * 2 * pt1 * pt2 / (m_ref * np.sqrt(m_ref**2 + pt_ref**2))
    np.testing.assert_allclose(costheta_cs(a, b), cs_ref, rtol=1e-6)
    assert np.all(costheta_cs(a, b) <= 1 + 1e-9)
    # pT_t: perpendicular component of the pair pT w.r.t. the thrust axis, by projection
    t = np.stack([pt1 * np.cos(phi1) - pt2 * np.cos(phi2), pt1 * np.sin(phi1) - pt2 * np.sin(phi2)])
    t /= np.linalg.norm(t, axis=0)
    s = np.stack([pt1 * np.cos(phi1) + pt2 * np.cos(phi2), pt1 * np.sin(phi1) + pt2 * np.sin(phi2)])
    ptt_ref = np.abs(s[0] * t[1] - s[1] * t[0])
    np.testing.assert_allclose(pt_thrust(a, b), ptt_ref, rtol=1e-6, atol=1e-9)


def test_back_to_back_decay_at_rest_gives_known_values() -> None:
    # a 125 GeV state at rest decaying along the beam axis: cos theta* = 1, mass 125
    e = 62.5
    import vector

    a = vector.array({"px": [0.0], "py": [1e-9], "pz": [e], "E": [e]})
    b = vector.array({"px": [0.0], "py": [-1e-9], "pz": [-e], "E": [e]})
    assert pair_quantity("m", a, b)[0] == pytest.approx(125.0)
    assert costheta_cs(a, b)[0] == pytest.approx(1.0)
    # perpendicular to the beam: cos theta* = 0
    c = vector.array({"px": [e], "py": [0.0], "pz": [0.0], "E": [e]})
    d = vector.array({"px": [-e], "py": [0.0], "pz": [0.0], "E": [e]})
    assert costheta_cs(c, d)[0] == pytest.approx(0.0, abs=1e-12)


def test_missing_objects_propagate_nan(rng: np.random.Generator) -> None:
    pt = np.array([50.0, np.nan])
    a = four_vector(pt, np.array([0.1, np.nan]), np.array([0.2, np.nan]))
    b = four_vector(np.array([40.0, 30.0]), np.array([-0.3, 0.1]), np.array([2.0, 1.0]))
    for q in ("m", "pt", "deta", "dphi", "dr", "ptt", "costhetastar"):
        v = pair_quantity(q, a, b)
        assert np.isfinite(v[0]) and np.isnan(v[1]), q


def test_nanoaod_jets_use_mass(cms_file: Path) -> None:
    import uproot

    import hepsift.io as hio
    from hepsift.features.names import compute_features

    ev = hio.read(cms_file, branches=["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "nJet"])
    X, names = compute_features(ev, ["m_jj", "Jet_pt_0", "Jet_n", "ht", "deta_jj"], fill_value=-1)
    assert names == ("m_jj", "Jet_pt_0", "Jet_n", "ht", "deta_jj")
    raw = uproot.open(cms_file)["Events"].arrays(["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass"])
    two = ak.num(raw.Jet_pt) >= 2
    j = [ak.to_numpy(raw[f][two][:, :2]) for f in ("Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass")]
    pt, eta, phi, m = (np.asarray(x, dtype=np.float64) for x in j)
    E = np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    m_ref = np.sqrt(E.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2)
    np.testing.assert_allclose(X[ak.to_numpy(two), 0], m_ref, rtol=1e-4)
    assert np.all(X[~ak.to_numpy(two), 0] == -1)
    np.testing.assert_allclose(X[:, 3], ak.to_numpy(ak.sum(raw.Jet_pt, axis=1)), rtol=1e-5)
