"""The generated scenarios: their samples (Pythia cards) and how one chunk of events becomes
rows of the output (ntuple events, photon candidates, HEPMASS-like rows).

Per chunk: Pythia ``nextBatch`` -> :func:`~hepsift.generate.detector.simulate` ->
reconstruction -> an awkward record array (one entry per output row) plus optional images.
Physics numbers come from :mod:`hepsift.generate.constants`; output units are stated per
scenario (MeV in the ROOT ntuples as in ATLAS Open Data, GeV in the tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hepsift.errors import ConfigError, suggest
from hepsift.generate import bsm
from hepsift.generate import constants as C
from hepsift.generate.hadron_filter import PhotonLikeFilter
from hepsift.generate.processes import ProcessVeto, Sample

__all__ = [
    "SCENARIOS",
    "Scenario",
    "build_chunk",
    "hepmass_columns",
    "loose_preselection",
    "parse_masses",
    "samples_for",
]

HEPMASS_FEATURES = (
    "lepton_pt",
    "lepton_eta",
    "lepton_phi",
    "missing_energy_magnitude",
    "missing_energy_phi",
    "n_jets",
    *(f"jet{i}_{v}" for i in range(1, 5) for v in ("pt", "eta", "phi", "btag")),
    "m_jj",
    "m_jjj",
    "m_lv",
    "m_jlv",
    "m_wwbb",
)


def hepmass_columns() -> list[str]:
    """CSV columns of the UCI HEPMASS layout: label, f0..f26, mass.

    f0..f26 as in the HEPMASS readme: lepton pT, eta, phi; MET magnitude, phi; number of jets;
    jet 1-4 pT, eta, phi, b-tag; m_jj, m_jjj, m_lv, m_jlv, m_wwbb. Values here are physical
    (GeV, rad, MV2c10 score), not standardised as in the UCI files.
    """
    return ["label", *(f"f{i}" for i in range(len(HEPMASS_FEATURES))), "mass"]


@dataclass(frozen=True)
class Scenario:
    """A generated scenario: name, description, outputs (for ``hepsift generate --list``)."""

    name: str
    description: str
    outputs: str


SCENARIOS: dict[str, Scenario] = {
    "photon-id": Scenario(
        "photon-id",
        "Prompt photons (PromptPhoton:qg2qgamma, qqbar2ggamma, pTHatMin 25 GeV) vs photon "
        "candidates in QCD dijets (HardQCD:all, pTHatMin 30 GeV, pT-hat^4-biased sampling "
        "with compensating weights); one row per photon candidate (E_T > 10 GeV), flagged "
        "'loose' when it passes the loose preselection.",
        "OUT/photon-id.parquet (pt, eta, phi [GeV, rad], Rhad, weta2, etcone20, ptcone20, "
        "ptcone30 [GeV], n_tracks_in_cone, isTightID, loose (passes the loose preselection), "
        "convType, label, weight [pb], event_number, sample, truth_pt, truth_E [GeV] of the "
        "matched generator photon: NaN for background)",
    ),
    "higgs-diphoton": Scenario(
        "higgs-diphoton",
        "H -> gamma gamma (m_H = 125 GeV) in ggF, VBF, WH, ZH, ttH and the gamma gamma, "
        "gamma + jet and jet + jet backgrounds in mHat windows with generator-level filters "
        "(gamma + jet, jet + jet: >= 2 photon-like hadron-level candidates); events with >= 2 "
        "photon candidates E_T > 20 GeV.",
        "OUT/<sample>.root, tree 'mini', ATLAS Open Data 13 TeV GamGam branches (MeV)",
    ),
    "resonance-ttbar": Scenario(
        "resonance-ttbar",
        "Z' -> t tbar (lepton + jets) at the masses given by --masses vs SM t tbar in m_tt "
        "slices; exactly one lepton pT > 25 GeV, >= 4 jets, >= 1 b-tag.",
        "OUT/resonance-ttbar.parquet and OUT/resonance-ttbar.csv (UCI HEPMASS layout, GeV)",
    ),
    "multijet-bsm": Scenario(
        "multijet-bsm",
        "Simplified models of many-jet BSM final states at sqrt(s-hat) >= 9 TeV: sphaleron "
        "(q q -> 7 antiquarks + e+ mu+ tau+) and microscopic black hole (n = 4, M_D = 1 TeV, "
        "thermal evaporation), partons by hepsift, shower and hadronisation by Pythia (LHEF); "
        "QCD multi-jet background (pT-hat > 2.75 TeV, m-hat > 7.5 TeV); every event kept.",
        "OUT/<sample>.parquet (eventNumber, 45 low-level ll_* and 39 high-level hl_* columns, "
        "bookkeeping, weight [pb]; GeV, rad; missing objects 0) and OUT/<sample>.images.npz "
        "((n, 3, 50, 50) float16 ECAL E_T, HCAL E_T, track pT in (eta, phi), by event number)",
    ),
}


def check_scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise ConfigError(
            f"unknown scenario {name!r}; allowed: {', '.join(SCENARIOS)}{suggest(name, SCENARIOS)}"
        )
    return SCENARIOS[name]


def parse_masses(masses: str | Sequence[float] | None) -> list[float]:
    """Z' masses (GeV) from a list or a '500,750,...' string; default DEFAULT_ZPRIME_MASSES_GEV."""
    if masses is None:
        return list(C.DEFAULT_ZPRIME_MASSES_GEV)
    items: list[Any] = masses.split(",") if isinstance(masses, str) else list(masses)
    out: list[float] = []
    for item in items:
        try:
            m = float(str(item).strip())
        except ValueError:
            raise ConfigError(
                f"--masses: {item!r} is not a number; give Z' masses in GeV, e.g. 500,750,1000"
            ) from None
        if not (C.ZPRIME_MASS_MIN_GEV <= m <= C.ZPRIME_MASS_MAX_GEV):
            raise ConfigError(
                f"--masses: Z' mass {m:g} GeV is outside the allowed range "
                f"{C.ZPRIME_MASS_MIN_GEV:g}-{C.ZPRIME_MASS_MAX_GEV:g} GeV (t tbar needs > 2 m_t)"
            )
        out.append(m)
    if not out:
        raise ConfigError("--masses: no mass given; e.g. --masses 500,750,1000")
    if len(set(out)) != len(out):
        raise ConfigError(f"--masses: repeated mass in {items}")
    return out


_HIGGS_DECAY = ("25:m0 = 125", "25:onMode = off", "25:onIfMatch = 22 22")
#: the H -> gamma gamma signal samples: name, channel number, production processes, description
_HIGGS_MODES = (
    ("ggF", 343981, ("HiggsSM:gg2H = on",), "gg -> H"),
    (
        "VBF",
        345041,
        ("HiggsSM:ff2Hff(t:WW) = on", "HiggsSM:ff2Hff(t:ZZ) = on"),
        "vector-boson fusion",
    ),
    ("WH", 345318, ("HiggsSM:ffbar2HW = on",), "W H"),
    ("ZH", 345319, ("HiggsSM:ffbar2HZ = on",), "Z H"),
    ("ttH", 341081, ("HiggsSM:gg2Httbar = on", "HiggsSM:qqbar2Httbar = on"), "t tbar H"),
)


def _photon_id_samples() -> list[Sample]:
    """Prompt photons and QCD dijets; the dijets' pT-hat is sampled with a bias (pT-hat^4,
    Pythia's ``PhaseSpace:bias2Selection``; the compensating event weights go to the table's
    ``weight``) so that their photon candidates cover the prompt photons' pT spectrum."""
    pthat = f"PhaseSpace:pTHatMin = {C.PHOTONID_PTHAT_MIN_GEV:g}"
    # the loose preselection of the table's ``loose`` column, recorded per sample (manifest)
    loose = {
        "loose_rhad_max": C.PHOTONID_LOOSE_RHAD_MAX,
        "loose_etcone20_over_et_max": C.PHOTONID_LOOSE_ETCONE20_REL_MAX,
    }
    return [
        Sample(
            "prompt_photon",
            900001,
            ("PromptPhoton:qg2qgamma = on", "PromptPhoton:qqbar2ggamma = on", pthat),
            True,
            "prompt photons; candidates matched (dR < 0.1) to the hard-process photon",
            extra=dict(loose),
        ),
        Sample(
            "dijet",
            900002,
            (
                "HardQCD:all = on",
                f"PhaseSpace:pTHatMin = {C.PHOTONID_DIJET_PTHAT_MIN_GEV:g}",
                "PhaseSpace:bias2Selection = on",
                f"PhaseSpace:bias2SelectionPow = {C.PHOTONID_DIJET_BIAS_POW:g}",
                f"PhaseSpace:bias2SelectionRef = {C.PHOTONID_DIJET_PTHAT_MIN_GEV:g}",
            ),
            False,
            "QCD dijets, pT-hat biased (weights compensate); candidates not matched to any "
            "prompt photon",
            extra=dict(loose),
        ),
    ]


def _window(lo: float, hi: float) -> tuple[str, ...]:
    """Pythia settings of an mHat window (GeV) with pTHatMin at the veto's pT/m there."""
    return (
        f"PhaseSpace:mHatMin = {lo:g}",
        f"PhaseSpace:mHatMax = {hi:g}",
        f"PhaseSpace:pTHatMin = {C.HIGGS_BKG_PT_OVER_M_MIN * lo:g}",
    )


def _higgs_samples() -> list[Sample]:
    """H -> gamma gamma per production mode and the gamma gamma, gamma + jet and jet + jet
    backgrounds, each with a generator-level filter (:class:`ProcessVeto`) that keeps the
    events able to pass the diphoton selection."""
    signal_veto = ProcessVeto(
        photons=2, eta_max=C.GEN_FILTER_ETA_MAX, pt_min_gev=C.HIGGS_SIGNAL_PHOTON_PT_MIN_GEV
    )
    out = [
        Sample(name, dsid, (*processes, *_HIGGS_DECAY), True, text, veto=signal_veto)
        for name, dsid, processes, text in _HIGGS_MODES
    ]
    lo, hi = C.DIPHOTON_MHAT_MIN_GEV, C.DIPHOTON_MHAT_MAX_GEV
    flo, fhi = C.FAKE_BKG_MHAT_MIN_GEV, C.FAKE_BKG_MHAT_MAX_GEV
    r, eta = C.HIGGS_BKG_PT_OVER_M_MIN, C.GEN_FILTER_ETA_MAX
    backgrounds = (
        (
            "diphoton",
            900101,
            ("PromptPhoton:ffbar2gammagamma = on", "PromptPhoton:gg2gammagamma = on"),
            (lo, hi),
            ProcessVeto(photons=2, eta_max=eta, pt_over_m_min=r),
            "continuum gamma gamma",
        ),
        (
            "photonjet",
            900102,
            ("PromptPhoton:qg2qgamma = on", "PromptPhoton:qqbar2ggamma = on"),
            (flo, fhi),
            ProcessVeto(photons=1, partons=1, eta_max=eta, pt_over_m_min=r),
            "photon + jet (reducible: the jet fakes a photon)",
        ),
        (
            "jetjet",
            900103,
            ("HardQCD:all = on",),
            (flo, fhi),
            ProcessVeto(partons=2, eta_max=eta, pt_over_m_min=r),
            "jet + jet (reducible: both jets fake photons)",
        ),
    )
    for name, dsid, procs, (a, b), veto, text in backgrounds:
        text = f"{text}; mHat {a:g}-{b:g} GeV, both objects pT > {r:g} mHat, |eta| < {eta:g}"
        hadron = None if name == "diphoton" else PhotonLikeFilter()
        if hadron is not None:
            text += "; hadron-level filter: >= 2 photon-like candidates"
        sample = Sample(name, dsid, (*procs, *_window(a, b)), False, text, veto=veto)
        reps = 1 if hadron is None else C.FAKE_BKG_DETECTOR_REPLICAS
        out.append(replace(sample, hadron_filter=hadron, detector_replicas=reps))
    return out


def _multijet_bsm_samples() -> list[Sample]:
    """The samples of the ``multijet-bsm`` scenario: the two simplified models (hepsift's
    partons, showered and hadronised by Pythia) and the QCD multi-jet background."""
    return [
        Sample(
            "sphaleron",
            990001,
            (),
            True,
            "sphaleron-like B+L violation, q q -> 7 antiquarks + e+ mu+ tau+, sqrt(s-hat) >= "
            f"{bsm.SQRT_SHAT_MIN_GEV / 1000:g} TeV, isotropic (simplified model)",
            parton_model="sphaleron",
        ),
        Sample(
            "black-hole",
            990002,
            (),
            True,
            f"microscopic black hole, n = {bsm.BH_N_EXTRA_DIMS}, M_D = {bsm.BH_MD_GEV / 1000:g} TeV, "
            f"M >= {bsm.SQRT_SHAT_MIN_GEV / 1000:g} TeV, thermal evaporation (simplified model)",
            parton_model="black-hole",
        ),
        Sample(
            "qcd",
            990003,
            (
                "HardQCD:all = on",
                f"PhaseSpace:pTHatMin = {bsm.QCD_PTHAT_MIN_GEV:g}",
                f"PhaseSpace:mHatMin = {bsm.QCD_MHAT_MIN_GEV:g}",
            ),
            False,
            f"QCD multi-jets, HardQCD:all, pT-hat > {bsm.QCD_PTHAT_MIN_GEV:g} GeV, m-hat > "
            f"{bsm.QCD_MHAT_MIN_GEV:g} GeV",
        ),
    ]


def samples_for(scenario: str, masses: Sequence[float] | None = None) -> list[Sample]:
    """The samples (Pythia cards, channel numbers, generator filters) of a scenario."""
    check_scenario(scenario)
    if scenario == "photon-id":
        return _photon_id_samples()
    if scenario == "higgs-diphoton":
        return _higgs_samples()
    if scenario == "multijet-bsm":
        return _multijet_bsm_samples()
    # resonance-ttbar: one W -> e/mu nu, the other W -> q q'; the charge alternates by chunk
    lep_plus = ("24:onMode = off", "24:onPosIfAny = 11 13", "24:onNegIfAny = 1 2 3 4 5")
    lep_minus = ("24:onMode = off", "24:onPosIfAny = 1 2 3 4 5", "24:onNegIfAny = 11 13")
    out: list[Sample] = []
    for m in parse_masses(masses):
        w = C.ZPRIME_WINDOW_FRACTION
        zp = (
            "NewGaugeBoson:ffbar2gmZZprime = on",
            "Zprime:gmZmode = 3",
            f"32:m0 = {m:g}",
            f"32:mMin = {m * (1 - w):g}",
            f"32:mMax = {m * (1 + w):g}",
            "32:onMode = off",
            "32:onIfAny = 6",
        )
        out.append(
            Sample(
                f"zprime_{m:g}",
                500000 + round(m),
                (*zp, *lep_plus),
                True,
                f"Z' -> t tbar, m = {m:g} GeV, lepton + jets",
                alt_settings=(*zp, *lep_minus),
                extra={"mass_gev": m},
            )
        )
    for i, (lo, hi) in enumerate(C.TTBAR_MHAT_SLICES_GEV):
        sl = (
            "Top:gg2ttbar = on",
            "Top:qqbar2ttbar = on",
            f"PhaseSpace:mHatMin = {lo:g}",
            f"PhaseSpace:mHatMax = {hi:g}",
        )
        label = f"{lo:g}-{hi:g}" if hi > 0 else f">{lo:g}"
        out.append(
            Sample(
                f"ttbar_mtt{lo:g}",
                410000 + i,
                (*sl, *lep_plus),
                False,
                f"SM t tbar, m_tt {label} GeV, lepton + jets",
                alt_settings=(*sl, *lep_minus),
                extra={"mhat_min_gev": lo, "mhat_max_gev": hi},
            )
        )
    return out


# --------------------------------------------------------------------------- per-chunk building


def _sorted_by_event_pt(ev: np.ndarray, pt: np.ndarray) -> np.ndarray:
    return np.lexsort((-pt, ev))


def _jagged(values: np.ndarray, counts: np.ndarray, dtype: Any) -> Any:
    import awkward as ak

    return ak.unflatten(np.asarray(values, dtype=dtype), counts)


def _leptons(det: Any, cands: Any, pt_min: float) -> dict[str, np.ndarray]:
    """Electrons (cluster + track) and muons above ``pt_min`` (GeV), sorted by event, pT."""
    from hepsift.generate.reconstruct import muon_isolation

    el = cands.select(cands.is_electron & (cands.et > pt_min))
    mu = det.muons
    mu_et20, mu_pt30 = muon_isolation(det)
    mk = mu.pt > pt_min
    trk_q = det.tracks.charge
    assert trk_q is not None and mu.charge is not None
    ev = np.concatenate([el.event, mu.event[mk]])
    pt = np.concatenate([el.et, mu.pt[mk]])
    eta = np.concatenate([el.eta, mu.eta[mk]])
    phi = np.concatenate([el.phi, mu.phi[mk]])
    e = np.concatenate([el.e, mu.pt[mk] * np.cosh(mu.eta[mk])])
    q = np.concatenate([trk_q[el.track], mu.charge[mk]]).astype(np.int32)
    typ = np.concatenate([np.full(len(el.et), 11), np.full(int(mk.sum()), 13)]).astype(np.uint32)
    pt30 = np.concatenate([el.ptcone30, mu_pt30[mk]])
    et20 = np.concatenate([el.etcone20, mu_et20[mk]])
    tight = np.concatenate([el.rhad < C.ELECTRON_TIGHT_RHAD_MAX, np.ones(int(mk.sum()), bool)])
    o = _sorted_by_event_pt(ev, pt)
    return {
        "event": ev[o],
        "pt": pt[o],
        "eta": eta[o],
        "phi": phi[o],
        "E": e[o],
        "charge": q[o],
        "type": typ[o],
        "ptcone30": pt30[o],
        "etcone20": et20[o],
        "isTightID": tight[o],
    }


def _higgs_chunk(det: Any, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    """ATLAS GamGam-like events (MeV); returns (record array of accepted events, accepted mask)."""
    import awkward as ak

    from hepsift.generate import reconstruct as R

    n = det.n
    cands = R.em_candidates(det, rng, C.CANDIDATE_ET_MIN_GEV)
    ph = cands.select(cands.is_photon & (cands.et > C.NTUPLE_PHOTON_ET_MIN_GEV))
    ph = ph.select(_sorted_by_event_pt(ph.event, ph.et))
    lep = _leptons(det, cands, C.LEPTON_PT_MIN_GEV)
    tight = ph.is_tight_photon
    # overlap removal (ATLAS H -> yy): jets within 0.4 of any stored photon, within 0.2 of an
    # electron, within 0.4 of a muon
    is_el = lep["type"] == 11
    jets = R.jets(det, rng)
    jets = R.overlap_free(
        jets,
        np.concatenate([ph.event, lep["event"][~is_el]]),
        np.concatenate([ph.eta, lep["eta"][~is_el]]),
        np.concatenate([ph.phi, lep["phi"][~is_el]]),
        n,
    )
    jets = R.overlap_free(
        jets,
        lep["event"][is_el],
        lep["eta"][is_el],
        lep["phi"][is_el],
        n,
        C.JET_ELECTRON_OVERLAP_DR,
    )
    met, met_phi = R.missing_et(det)
    n_ph = np.bincount(ph.event, minlength=n)
    loose = ph.rhad < C.TRIGGER_LOOSE_RHAD_MAX
    n_t1 = np.bincount(ph.event[loose & (ph.et > C.TRIGGER_PHOTON_ET_GEV[0])], minlength=n)
    n_t2 = np.bincount(ph.event[loose & (ph.et > C.TRIGGER_PHOTON_ET_GEV[1])], minlength=n)
    trig = (n_t1 >= 1) & (n_t2 >= 2)
    n_lep = np.bincount(lep["event"], minlength=n)
    n_jet = np.bincount(jets.event, minlength=n)
    mev = 1000.0
    f4 = np.float32
    rec = {
        "trigP": trig,
        "photon": ak.zip(
            {
                "pt": _jagged(ph.et * mev, n_ph, f4),
                "eta": _jagged(ph.eta, n_ph, f4),
                "phi": _jagged(ph.phi, n_ph, f4),
                "E": _jagged(ph.e * mev, n_ph, f4),
                "isTightID": _jagged(tight, n_ph, bool),
                "ptcone30": _jagged(ph.ptcone30 * mev, n_ph, f4),
                "etcone20": _jagged(ph.etcone20 * mev, n_ph, f4),
                "convType": _jagged(ph.conv_type, n_ph, np.int32),
            }
        ),
        "jet": ak.zip(
            {
                "pt": _jagged(jets.pt * mev, n_jet, f4),
                "eta": _jagged(jets.eta, n_jet, f4),
                "phi": _jagged(jets.phi, n_jet, f4),
                "E": _jagged(jets.e * mev, n_jet, f4),
                "MV2c10": _jagged(jets.mv2c10, n_jet, f4),
                "trueflav": _jagged(jets.flavour, n_jet, np.int32),
            }
        ),
        "lep": ak.zip(
            {
                "pt": _jagged(lep["pt"] * mev, n_lep, f4),
                "eta": _jagged(lep["eta"], n_lep, f4),
                "phi": _jagged(lep["phi"], n_lep, f4),
                "E": _jagged(lep["E"] * mev, n_lep, f4),
                "charge": _jagged(lep["charge"], n_lep, np.int32),
                "type": _jagged(lep["type"], n_lep, np.uint32),
                "isTightID": _jagged(lep["isTightID"], n_lep, bool),
                "ptcone30": _jagged(lep["ptcone30"] * mev, n_lep, f4),
                "etcone20": _jagged(lep["etcone20"] * mev, n_lep, f4),
            }
        ),
        "met_et": (met * mev).astype(f4),
        "met_phi": met_phi.astype(f4),
    }
    accepted = n_ph >= C.NTUPLE_MIN_PHOTONS
    return ak.zip(rec, depth_limit=1)[accepted], accepted


def loose_preselection(rhad: np.ndarray, etcone20: np.ndarray, et: np.ndarray) -> np.ndarray:
    """The photon-id loose preselection (bool per candidate): Rhad below
    ``PHOTONID_LOOSE_RHAD_MAX`` and etcone20 below ``PHOTONID_LOOSE_ETCONE20_REL_MAX`` x E_T
    (GeV), like the ATLAS loose photon preselection; the jets that pass are the hard fakes."""
    rhad, etcone20, et = (np.asarray(a, dtype=np.float64) for a in (rhad, etcone20, et))
    return np.asarray(
        (rhad < C.PHOTONID_LOOSE_RHAD_MAX) & (etcone20 < C.PHOTONID_LOOSE_ETCONE20_REL_MAX * et)
    )


def _photonid_chunk(det: Any, rng: np.random.Generator, signal: bool) -> tuple[Any, np.ndarray]:
    """One row per photon candidate (GeV); signal = matched to the hard-process photon,
    background = not matched to any prompt photon."""
    import awkward as ak

    from hepsift.generate import reconstruct as R

    cands = R.em_candidates(det, rng, C.PHOTONID_CANDIDATE_ET_MIN_GEV)
    ph = cands.select(cands.is_photon)
    truth = det.truth["hard_photons"] if signal else det.truth["prompt_photons"]
    matched = R.any_within(ph.event, ph.eta, ph.phi, truth, C.TRUTH_MATCH_DR)
    ph = ph.select(matched if signal else ~matched)
    rows = {
        "event": ph.event.astype(np.int64),
        "pt": ph.et,
        "eta": ph.eta,
        "phi": ph.phi,
        "Rhad": ph.rhad,
        "weta2": ph.weta2,
        "etcone20": ph.etcone20,
        "ptcone20": ph.ptcone20,
        "ptcone30": ph.ptcone30,
        "n_tracks_in_cone": ph.n_tracks_in_cone.astype(np.int32),
        "isTightID": ph.is_tight_photon,
        "loose": loose_preselection(ph.rhad, ph.etcone20, ph.et),
        "convType": ph.conv_type.astype(np.int32),
        "label": np.full(len(ph.et), int(signal), dtype=np.int8),
        **matched_truth(ph.event, ph.eta, ph.phi, truth, C.TRUTH_MATCH_DR, signal),
    }
    accepted = np.bincount(ph.event, minlength=det.n) > 0
    return ak.zip(rows), accepted


def _four(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e], axis=-1)


def _mass(p: np.ndarray) -> np.ndarray:
    return np.asarray(np.sqrt(np.maximum(p[..., 3] ** 2 - np.sum(p[..., :3] ** 2, axis=-1), 0.0)))


def neutrino_pz(lep: np.ndarray, met_x: np.ndarray, met_y: np.ndarray) -> np.ndarray:
    """Neutrino pz (GeV) from the W mass constraint; the smaller |pz| root, or the real part
    when there is no real solution. ``lep`` is the massless lepton four-vector (n, 4)."""
    ptl2 = lep[:, 0] ** 2 + lep[:, 1] ** 2
    mu = C.W_MASS_GEV**2 / 2 + lep[:, 0] * met_x + lep[:, 1] * met_y
    a = mu * lep[:, 2] / ptl2
    disc = a**2 - (lep[:, 3] ** 2 * (met_x**2 + met_y**2) - mu**2) / ptl2
    root = np.sqrt(np.maximum(disc, 0.0))
    pz1, pz2 = a - root, a + root
    return np.asarray(np.where(np.abs(pz1) < np.abs(pz2), pz1, pz2))


def _ttbar_chunk(det: Any, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    """HEPMASS-like rows (GeV) of lepton + jets events passing the selection."""
    import awkward as ak

    from hepsift.generate import reconstruct as R

    n = det.n
    cands = R.em_candidates(det, rng, C.CANDIDATE_ET_MIN_GEV)
    lep = _leptons(det, cands, C.TTBAR_LEPTON_PT_MIN_GEV)
    iso = lep["ptcone30"] < C.LEPTON_ISO_PTCONE30_REL_MAX * lep["pt"]
    lep = {k: v[iso] for k, v in lep.items()}
    n_lep = np.bincount(lep["event"], minlength=n)
    jets = R.jets(det, rng)
    jets = R.overlap_free(jets, lep["event"], lep["eta"], lep["phi"], n)
    jets = jets.select(np.abs(jets.eta) < C.BTAG_ETA_MAX, n)
    n_jet = np.diff(jets.offsets)
    met, met_phi = R.missing_et(det)
    ok = (n_lep == 1) & (n_jet >= C.TTBAR_MIN_JETS)
    # four leading jets of the selected events
    idx = jets.offsets[:-1][ok][:, None] + np.arange(4)[None, :]
    tag = jets.mv2c10[idx]
    n_tag = np.sum(tag > C.BTAG_MV2C10_WP77, axis=1)
    sel_ev = np.flatnonzero(ok)[n_tag >= C.TTBAR_MIN_BTAGS]
    idx = idx[n_tag >= C.TTBAR_MIN_BTAGS]
    tag = jets.mv2c10[idx]
    li = np.searchsorted(lep["event"], sel_ev)
    lpt, leta, lphi = lep["pt"][li], lep["eta"][li], lep["phi"][li]
    pl = _four(lpt, leta, lphi, lpt * np.cosh(leta))
    mx, my = met[sel_ev] * np.cos(met_phi[sel_ev]), met[sel_ev] * np.sin(met_phi[sel_ev])
    pz = neutrino_pz(pl, mx, my)
    pnu = np.stack([mx, my, pz, np.sqrt(mx**2 + my**2 + pz**2)], axis=-1)
    pj = _four(jets.pt[idx], jets.eta[idx], jets.phi[idx], jets.e[idx])  # (m, 4, 4)
    # b candidates: the two highest-score jets; W -> jj: the other two
    order = np.argsort(-tag, axis=1)
    take = np.arange(len(idx))[:, None]
    b1, b2 = pj[take[:, 0], order[:, 0]], pj[take[:, 0], order[:, 1]]
    w_had = pj[take, order[:, 2:]].sum(axis=1)
    lv = pl + pnu
    cand_a = (_mass(w_had + b1), _mass(lv + b2))
    cand_b = (_mass(w_had + b2), _mass(lv + b1))
    chi_a = (cand_a[0] - C.TOP_MASS_GEV) ** 2 + (cand_a[1] - C.TOP_MASS_GEV) ** 2
    chi_b = (cand_b[0] - C.TOP_MASS_GEV) ** 2 + (cand_b[1] - C.TOP_MASS_GEV) ** 2
    use_a = chi_a <= chi_b
    m_jjj = np.where(use_a, cand_a[0], cand_b[0])
    m_jlv = np.where(use_a, cand_a[1], cand_b[1])
    feats = [lpt, leta, lphi, met[sel_ev], met_phi[sel_ev], n_jet[sel_ev]]
    for k in range(4):
        j = idx[:, k]
        feats += [jets.pt[j], jets.eta[j], jets.phi[j], jets.mv2c10[j]]
    feats += [_mass(w_had), m_jjj, _mass(lv), m_jlv, _mass(lv + pj.sum(axis=1))]
    rows: dict[str, Any] = {"event": sel_ev.astype(np.int64)}
    for name, col in zip(HEPMASS_FEATURES, feats, strict=True):
        rows[name] = np.asarray(col, dtype=np.float64)
    rows["mtt_true"] = det.truth["mhat"][sel_ev]
    accepted = np.zeros(n, dtype=bool)
    accepted[sel_ev] = True
    return ak.zip(rows), accepted


def matched_truth(
    ev: np.ndarray, eta: np.ndarray, phi: np.ndarray, truth: Any, dr: float, use: bool
) -> dict[str, np.ndarray]:
    """``truth_pt`` / ``truth_E`` (GeV) of the nearest generator photon of ``truth`` (same
    event, within ``dr``; E = pT cosh(eta)) for each candidate, NaN where none is close or
    ``use`` is false (the regression target of photon calibration)."""
    from hepsift.generate.truth import nearest_truth

    if not use:
        return {"truth_pt": np.full(len(ev), np.nan), "truth_E": np.full(len(ev), np.nan)}
    pt = nearest_truth(ev, eta, phi, truth, dr)
    # the matched photon's eta is within dr of the candidate's: E from its own eta
    t_eta = nearest_truth(ev, eta, phi, replace(truth, pt=truth.eta), dr)
    return {"truth_pt": pt, "truth_E": pt * np.cosh(t_eta)}


def build_chunk(
    scenario: str, sample: Sample, det: Any, rng: np.random.Generator
) -> tuple[Any, np.ndarray]:
    """Rows of one chunk for ``scenario`` and the mask of accepted events (input order)."""
    if scenario == "higgs-diphoton":
        return _higgs_chunk(det, rng)
    if scenario == "photon-id":
        return _photonid_chunk(det, rng, sample.is_signal)
    if scenario == "resonance-ttbar":
        return _ttbar_chunk(det, rng)
    if scenario == "multijet-bsm":
        import awkward as ak

        from hepsift.generate.bsm import chunk_rows

        rows, accepted = chunk_rows(det, rng)
        return ak.zip(rows), accepted
    raise ConfigError(f"unknown scenario {scenario!r}{suggest(scenario, SCENARIOS)}")
