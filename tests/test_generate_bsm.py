"""The multijet-bsm scenario: parton-level simplified models (sphaleron, black hole), their
Les Houches files, the low-/high-level tables and the validation figures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsift.generate import bsm
from hepsift.generate.scenarios import samples_for

# zeta(3), zeta(4): the mean energy of a massless Bose (Fermi) gas emitted with E^2 / (e^E/T -+ 1)
_ZETA3 = 1.2020569031595942
_ZETA4 = math.pi**4 / 90


def _rows(ev: bsm.PartonEvent) -> np.ndarray:
    return np.array(ev.rows, dtype=float)


def _baryon3(pid: np.ndarray) -> np.ndarray:
    """3 x baryon number of each id (quarks +1, antiquarks -1)."""
    return np.where((np.abs(pid) >= 1) & (np.abs(pid) <= 6), np.sign(pid), 0)


def _charge3(pid: np.ndarray) -> np.ndarray:
    a = np.abs(pid).astype(int)
    table = {1: -1, 2: 2, 3: -1, 4: 2, 5: -1, 6: 2, 11: -3, 13: -3, 15: -3, 24: 3}
    return np.asarray(np.array([table.get(int(x), 0) for x in a]) * np.sign(pid))


def _lepton_number(pid: np.ndarray) -> np.ndarray:
    return np.where((np.abs(pid) >= 11) & (np.abs(pid) <= 16), np.sign(pid), 0)


def test_rambo_conserves_momentum_puts_masses_on_shell_and_is_isotropic() -> None:
    rng = np.random.default_rng(1)
    masses = [173.0, 4.8, 0.0, 0.0, 91.1876]
    cos = []
    for _ in range(400):
        p = bsm.rambo(masses, 2000.0, rng)
        np.testing.assert_allclose(p.sum(axis=0), [0, 0, 0, 2000.0], atol=1e-6)
        m2 = p[:, 3] ** 2 - np.sum(p[:, :3] ** 2, axis=1)
        np.testing.assert_allclose(np.sqrt(np.maximum(m2, 0)), masses, atol=1e-4)
        cos.append(p[:, 2] / np.linalg.norm(p[:, :3], axis=1))
    c = np.concatenate(cos)
    assert abs(c.mean()) < 0.05
    assert abs(np.mean(c**2) - 1 / 3) < 0.03  # isotropic: <cos^2> = 1/3


def test_sphaleron_final_state_violates_b_and_l_by_three_and_conserves_charge() -> None:
    events = bsm.sphaleron_events(150, np.random.default_rng(2))
    for ev in events:
        r = _rows(ev)
        pid, status = r[:, 0].astype(int), r[:, 1].astype(int)
        inc, fin = status == -1, status == 1
        assert set(pid[inc]) <= {1, 2}
        # one antilepton per generation, seven antiquarks: 1 of gen 1, 3 of gen 2, 3 of gen 3
        assert sorted(pid[fin & (np.abs(pid) > 10)]) == [-15, -13, -11]
        quarks = pid[fin & (np.abs(pid) <= 6)]
        assert len(quarks) == 7 and np.all(quarks < 0)
        gen = (np.abs(quarks) + 1) // 2
        assert sorted(gen) == [1, 2, 2, 2, 3, 3, 3]
        # Delta B = Delta L = -3 (x3: -9), charge conserved
        assert _baryon3(pid[fin]).sum() - _baryon3(pid[inc]).sum() == -9
        assert _lepton_number(pid[fin]).sum() == -3
        assert _charge3(pid[fin]).sum() == _charge3(pid[inc]).sum()
        np.testing.assert_allclose(r[fin, 6:10].sum(axis=0), r[inc, 6:10].sum(axis=0), atol=1e-5)
        assert r[inc, 9].sum() ** 2 - r[inc, 8].sum() ** 2 >= 9000.0**2 * (1 - 1e-9)  # s-hat
        # the colour tags of the three antijunctions: each appears exactly once
        tags = np.concatenate([r[:, 4], r[:, 5]])
        tags = tags[tags > 0].astype(int)
        assert sorted(tags) == list(range(501, 510))
        # carriers: the triplet's four-momentum and invariant mass
        for k in np.flatnonzero(status == 2):
            kids = r[r[:, 2].astype(int) == k + 1]
            np.testing.assert_allclose(kids[:, 6:10].sum(axis=0), r[k, 6:10], atol=1e-5)
            assert len(kids) == 3


def test_black_hole_conserves_charge_baryon_lepton_number_momentum_and_colour() -> None:
    events = bsm.black_hole_events(120, np.random.default_rng(3))
    for ev in events:
        r = _rows(ev)
        pid, status = r[:, 0].astype(int), r[:, 1].astype(int)
        inc, fin = status == -1, status == 1
        assert list(pid[inc]) == [21, 21]
        assert _charge3(pid[fin]).sum() == 0
        assert _baryon3(pid[fin]).sum() == 0
        assert _lepton_number(pid[fin]).sum() == 0
        np.testing.assert_allclose(r[fin, 6:10].sum(axis=0), r[inc, 6:10].sum(axis=0), atol=1e-4)
        # every colour tag joins exactly one colour end to one anticolour end (incoming crossed)
        ends: dict[int, list[int]] = {}
        for i in range(len(r)):
            col, acol = int(r[i, 4]), int(r[i, 5])
            if inc[i]:
                col, acol = acol, col
            for tag, kind in ((col, 0), (acol, 1)):
                if tag:
                    ends.setdefault(tag, []).append(kind)
        assert all(sorted(k) == [0, 1] for k in ends.values())
    mult = np.mean([np.sum(_rows(e)[:, 1] == 1) for e in events])
    assert 5 < mult < 12


def test_black_hole_multiplicity_falls_with_the_fundamental_scale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def mean_mult(md: float) -> float:
        monkeypatch.setattr(bsm, "BH_MD_GEV", md)
        evs = bsm.black_hole_events(60, np.random.default_rng(4))
        return float(np.mean([np.sum(_rows(e)[:, 1] == 1) for e in evs]))

    assert mean_mult(1000.0) > mean_mult(2000.0) + 2 > mean_mult(4000.0) + 2


def test_hawking_temperature_against_the_formula_and_its_scaling() -> None:
    # n = 4: Gamma(7/2) = 15 sqrt(pi) / 8; r_h = (8 Gamma(7/2) / 6 * M / M_D)^(1/5) / (sqrt(pi)
    # M_D); T = 5 / (4 pi r_h)
    m, md = 9000.0, 1000.0
    r_h = (8 * 15 * math.sqrt(math.pi) / 8 / 6 * m / md) ** 0.2 / (math.sqrt(math.pi) * md)
    assert float(bsm.hawking_temperature(m, md, 4)) == pytest.approx(5 / (4 * math.pi * r_h))
    # T ~ M^(-1/(n+1)): 32 times the mass, half the temperature
    assert float(bsm.hawking_temperature(32 * m, md, 4)) == pytest.approx(
        float(bsm.hawking_temperature(m, md, 4)) / 2
    )


@pytest.mark.parametrize(
    ("stat", "mean_over_t"),
    [(1, 3 * _ZETA4 / _ZETA3), (-1, 3 * (7 / 8) * _ZETA4 / ((3 / 4) * _ZETA3))],
)
def test_thermal_spectrum_has_the_planck_and_fermi_dirac_mean(
    stat: int, mean_over_t: float
) -> None:
    rng = np.random.default_rng(5)
    e = [bsm.thermal_energy(100.0, stat, rng) for _ in range(3000)]
    assert np.mean(e) / 100.0 == pytest.approx(mean_over_t, rel=0.04)


def test_lhef_text_has_the_header_and_one_block_per_event() -> None:
    evs = bsm.sphaleron_events(3, np.random.default_rng(6))
    text = bsm.lhef_text(evs, xsec_pb=2.5e-3)
    lines = text.splitlines()
    assert lines[0].startswith("<LesHouchesEvents")
    init = lines[lines.index("<init>") + 1 : lines.index("</init>")]
    assert init[0].split()[:4] == ["2212", "2212", "6.500000e+03", "6.500000e+03"]
    assert init[0].split()[8] == "3" and float(init[1].split()[0]) == 2.5e-3
    assert text.count("<event>") == 3
    first = lines.index("<event>")
    n_up = int(lines[first + 1].split()[0])
    assert n_up == len(evs[0].rows) and lines[first + 2 + n_up] == "</event>"


def test_leading_objects_and_sphericity() -> None:
    ev = np.array([0, 0, 0, 2])
    key = np.array([1.0, 5.0, 3.0, 7.0])
    (top,) = bsm.leading(3, ev, key, (key,), 2)
    np.testing.assert_array_equal(top, [[5, 3], [0, 0], [7, 0]])
    # back-to-back: pencil-like (0); six axis-aligned unit vectors: isotropic (1)
    s = bsm.sphericity(
        2,
        np.array([0, 0, 1, 1, 1, 1, 1, 1]),
        np.array([1.0, -1, 1, -1, 0, 0, 0, 0]),
        np.array([0.0, 0, 0, 0, 1, -1, 0, 0]),
        np.array([0.0, 0, 0, 0, 0, 0, 1, -1]),
    )
    np.testing.assert_allclose(s, [0.0, 1.0], atol=1e-12)


def test_table_layout_has_45_low_and_39_high_level_columns() -> None:
    ll, hl = bsm.low_level_columns(), bsm.high_level_columns()
    assert len(ll) == len(set(ll)) == 45 and all(c.startswith("ll_") for c in ll)
    assert len(hl) == len(set(hl)) == 39 and all(c.startswith("hl_") for c in hl)
    assert ll[:3] == ["ll_ecal0_E", "ll_ecal0_eta", "ll_ecal0_phi"]
    assert hl[-1] == "hl_met" and "hl_jet7_m" in hl and "hl_lep1_phi" in hl
    names = [s.name for s in samples_for("multijet-bsm")]
    assert names == ["sphaleron", "black-hole", "qcd"]


def _fake_output(tmp: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    samples = []
    for name, sph, lep in (("sphaleron", 0.5, 2), ("black-hole", 0.45, 0), ("qcd", 0.05, 0)):
        n = 50
        cols = {
            "n_jets": rng.integers(2, 12, n),
            "st": rng.normal(7000, 500, n),
            "sphericity": np.clip(rng.normal(sph, 0.05, n), 0, 1),
            "n_electrons": np.full(n, lep // 2),
            "n_muons": np.full(n, lep - lep // 2),
        }
        pq.write_table(pa.table(cols), tmp / f"{name}.parquet")
        samples.append({"name": name, "file": f"{name}.parquet"})
    (tmp / "manifest.json").write_text(json.dumps({"scenario": "multijet-bsm", "samples": samples}))


def test_validation_figures_and_plots_of_a_multijet_output(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hepsift.generate.validate import TARGETS, multijet_figures, validation_figures

    _fake_output(tmp_path)
    fig = validation_figures(tmp_path)
    assert fig["multijet-bsm sphaleron mean leptons"] == 2.0
    assert fig["multijet-bsm sphericity black-hole minus qcd"] == pytest.approx(0.4, abs=0.05)
    for name in [k for k in TARGETS if k.startswith("multijet-bsm")]:
        lo, hi = TARGETS[name]
        assert lo <= fig[name] <= hi, name
    figs = multijet_figures(tmp_path, json.loads((tmp_path / "manifest.json").read_text()))
    assert {"jet_multiplicity.png", "st.png", "sphericity.png"} <= {name for _, name in figs}
    for f, _ in figs:
        assert len(f.axes[0].patches) > 0  # one histogram per sample drawn
        plt.close(f)


@pytest.mark.slow
def test_generate_multijet_bsm_end_to_end(tmp_path: Path) -> None:
    """A few events per sample through Pythia (LHEF), the detector and the tables: layout,
    images, determinism per seed, and black holes rounder than QCD."""
    import pyarrow.parquet as pq

    from hepsift.generate import generate
    from hepsift.generate.validate import validation_figures
    from hepsift.generate.writer import content_sha256

    kw: dict[str, Any] = {"seed": 3, "chunk_size": 8, "progress": False}
    m = generate("multijet-bsm", events=8, out=tmp_path / "a", **kw)
    assert [s["name"] for s in m["samples"]] == ["sphaleron", "black-hole", "qcd"]
    for s in m["samples"]:
        tab = pq.read_table(tmp_path / "a" / s["file"])
        cols = tab.column_names
        assert [c for c in cols if c.startswith("ll_")] == bsm.low_level_columns()
        assert [c for c in cols if c.startswith("hl_")] == bsm.high_level_columns()
        assert tab.num_rows == 8 and s["xsection_pb"] > 0
        with np.load(tmp_path / "a" / f"{s['name']}.images.npz", allow_pickle=False) as z:
            assert z["images"].shape == (8, 3, 50, 50) and z["images"].dtype == np.float16
            ev = tab.column("eventNumber").to_numpy()
            np.testing.assert_array_equal(z["event_number"], ev)
    assert m["samples"][0]["parton_model"]["model"] == "sphaleron"
    fig = validation_figures(tmp_path / "a")
    assert fig["multijet-bsm sphericity black-hole minus qcd"] > 0.1
    assert fig["multijet-bsm sphaleron mean jets"] > fig["multijet-bsm qcd mean jets"]
    # e+ mu+ tau+ in every sphaleron event; leptons are rarer in black-hole evaporation
    lep = {k: fig[f"multijet-bsm {k} mean leptons"] for k in ("sphaleron", "black-hole")}
    assert lep["sphaleron"] >= 1.0 > lep["black-hole"]
    # same seed, same content (one sample again, in another folder)
    again = generate("multijet-bsm", events=8, out=tmp_path / "b", samples=["sphaleron"], **kw)
    name = "sphaleron.parquet"
    assert content_sha256(tmp_path / "b" / name) == content_sha256(tmp_path / "a" / name)
    assert again["samples"][0]["pythia_seeds"] == m["samples"][0]["pythia_seeds"]
