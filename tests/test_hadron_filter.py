"""The hadron-level photon-like filter of the reducible diphoton backgrounds (gamma + jet,
jet + jet): candidate building on hand-made events, its bookkeeping in a chunk, and that it
keeps the events the diphoton selection keeps."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import awkward as ak
import numpy as np
import pytest

from hepsift.generate.hadron_filter import (
    PhotonLikeFilter,
    photonlike_candidates,
    photonlike_pass,
)
from hepsift.generate.scenarios import samples_for

Particle = tuple[int, float, float, float]  # id, pT (GeV), eta, phi


def _events(evs: list[list[Particle]]) -> Any:
    """An awkward event record like Pythia's ``nextBatch`` (final-state particles only)."""
    recs = []
    for ev in evs:
        parts = []
        for pid, pt, eta, phi in ev:
            px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
            parts.append(
                {
                    "id": pid,
                    "status": 91,
                    "p": {"px": px, "py": py, "pz": pz, "e": float(np.sqrt(px**2 + py**2 + pz**2))},
                }
            )
        recs.append(parts)
    return ak.zip({"prt": ak.Array(recs)}, depth_limit=1)


def _pair(pt0: float = 60.0, pt1: float = 50.0) -> list[Particle]:
    # back to back at eta 0.3 / -0.5: m = 2 sqrt(pt0 pt1) cosh(0.4) ~ 118 GeV
    return [(22, pt0, 0.3, 0.0), (22, pt1, -0.5, np.pi)]


def test_candidates_need_em_core_isolation_and_a_local_maximum() -> None:
    evs = [
        _pair(),  # 0: two isolated photons -> passes
        [*_pair(), (211, 12.0, 0.33, 0.03)],  # 1: a pion in the core: EM fraction 0.83
        [*_pair(), (211, 15.0, 0.3, 0.2)],  # 2: a pion at dR 0.2: not isolated (15 > 11)
        [*_pair(), (22, 20.0, 0.32, 0.02)],  # 3: two photons in one core: one candidate
        [*_pair(), (211, 3.0, 0.3, 0.2)],  # 4: soft activity inside the isolation allowance
        _pair(25.0, 22.0),  # 5: leading below 30 GeV
        [(22, 60.0, 0.0, 0.0), (22, 50.0, 0.1, 2.0)],  # 6: mass ~ 93 GeV... inside 90-180
        [(22, 60.0, 0.0, 0.0), (22, 50.0, 0.1, 1.0)],  # 7: mass ~ 52 GeV: outside
        [*_pair(), (12, 30.0, 0.3, 0.02), (13, 30.0, 0.3, 0.02)],  # 8: nu, mu invisible
    ]
    c = photonlike_candidates(_events(evs))
    counts = np.bincount(c["event"], minlength=len(evs))
    assert list(counts) == [2, 1, 1, 2, 2, 2, 2, 2, 2]
    # the merged core of event 3 holds both photons' pT
    assert c["pt"][c["event"] == 3][0] == pytest.approx(80.0)
    ok = photonlike_pass(_events(evs), PhotonLikeFilter())
    assert list(ok) == [True, False, False, True, True, False, True, False, True]


@pytest.mark.slow
def test_filtered_chunk_counts_every_generated_event_in_the_weights() -> None:
    from hepsift.generate.runner import ChunkTask, run_chunk

    s = {x.name: x for x in samples_for("higgs-diphoton")}["diphoton"]
    s = replace(s, name="diphoton_filtered", hadron_filter=PhotonLikeFilter())
    assert "hadron_level_filter" in s.as_dict()
    res = run_chunk(ChunkTask("higgs-diphoton", s, 0, 60, 60, 5, False))
    meta = res["meta"]
    assert meta["events_generated"] == 60
    assert meta["sum_weights"] == pytest.approx(60.0)  # unit weights of every generated event
    assert 0 < meta["hadron_filter_passed"] < 60
    assert meta["events_accepted"] <= meta["hadron_filter_passed"]
    numbers = np.asarray(res["rows"]["eventNumber"])
    assert len(np.unique(numbers)) == len(numbers) and numbers.max() <= 60
    # detector replicas: same Pythia events, each filtered one simulated 4 times at weight 1/4
    rep = run_chunk(
        ChunkTask("higgs-diphoton", replace(s, detector_replicas=4), 0, 60, 60, 5, False)
    )
    assert rep["meta"]["hadron_filter_passed"] == meta["hadron_filter_passed"]
    assert rep["meta"]["sum_weights"] == pytest.approx(60.0)
    w = np.asarray(rep["rows"]["mcWeight"])
    assert np.allclose(w, 0.25) and len(w) > len(numbers)
    rep_numbers = np.unique(np.asarray(rep["rows"]["eventNumber"]))  # replicas share one
    assert len(rep_numbers) <= meta["hadron_filter_passed"] and rep_numbers.max() <= 60


@pytest.mark.slow
def test_filter_keeps_the_events_the_diphoton_selection_keeps() -> None:
    """On the same Pythia events (continuum diphotons: two real photons, the hard case for
    the mass and isolation cuts), events selected by the full hgamgam selection after the
    detector nearly all pass the hadron-level filter, so the filtered sample reproduces the
    unfiltered selected yield; the filter rejects a sizeable part of the others."""
    from hepsift.generate.detector import simulate
    from hepsift.generate.processes import run_pythia
    from hepsift.generate.scenarios import build_chunk
    from hepsift.generate.validate import diphoton_mass

    s = {x.name: x for x in samples_for("higgs-diphoton")}["diphoton"]
    batch = run_pythia(s.settings, n_events=400, pythia_seed=21, veto=s.veto)
    keep = photonlike_pass(batch.events, PhotonLikeFilter())
    det = simulate(batch.events, batch.charge_of, np.random.default_rng(21))
    rows, accepted = build_chunk("higgs-diphoton", s, det, np.random.default_rng(22))
    ph = rows["photon"]
    tree = {f"photon_{k}": ph[k] for k in ("pt", "eta", "phi", "isTightID", "ptcone30")}
    tree["photon_etcone20"] = ph["etcone20"]
    tree["trigP"] = rows["trigP"]
    _, sel = diphoton_mass(tree)
    selected = np.flatnonzero(accepted)[sel]
    n_sel = len(selected)
    lost = int((~keep[selected]).sum())
    assert n_sel > 60
    # binomial: at most a few per cent of selected events fail the filter
    assert lost <= 0.03 * n_sel + 2 * np.sqrt(0.03 * n_sel), (lost, n_sel)
    rejected_unselected = np.mean(~keep[np.setdiff1d(np.arange(len(keep)), selected)])
    assert rejected_unselected > 0.15


def test_background_figures_flag_a_yield_made_of_few_large_weights() -> None:
    from hepsift.generate.validate import background_figures

    rng = np.random.default_rng(8)
    m = rng.uniform(105.0, 160.0, 2000)
    sel = np.ones(2000, dtype=bool)
    many = background_figures("diphoton", m, sel, np.full(2000, 2.0))
    window = (m > 120) & (m < 130)
    assert many["background diphoton in 120-130"] == pytest.approx(2.0 * window.sum())
    assert many["background diphoton rel. stat. error in 120-130"] == pytest.approx(
        1 / np.sqrt(window.sum())
    )
    assert abs(many["background diphoton slope [1/GeV]"]) < 0.01  # flat
    few = background_figures("jetjet", m[:3], sel[:3], np.array([1e4, 1e4, 1e4]))
    assert few["background jetjet selected MC events"] == 3.0
    assert "background jetjet slope [1/GeV]" not in few  # too few events to fit
    # 10 detector replicas of 40 events: the error is that of 40 events, not 400 rows
    m_rep = np.repeat(rng.uniform(121.0, 129.0, 40), 10)
    rep = background_figures(
        "photonjet", m_rep, np.ones(400, bool), np.ones(400), np.repeat(np.arange(40), 10)
    )
    assert rep["background photonjet selected MC events"] == 40.0
    assert rep["background photonjet rel. stat. error in 120-130"] == pytest.approx(1 / np.sqrt(40))
