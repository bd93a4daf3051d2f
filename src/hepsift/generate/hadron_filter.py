"""Generator-level "photon-like" filter of the reducible diphoton backgrounds (gamma + jet and
jet + jet), applied after hadronisation and before the detector.

A jet fakes a photon when a leading pi0 / eta (or a prompt photon) carries most of its
momentum with little hadronic activity around it. At hadron level, per final-state photon seed
(pT > PHOTONLIKE_SEED_PT_MIN_GEV, |eta| < PHOTONLIKE_ETA_MAX, the highest-pT photon within
PHOTONLIKE_CORE_DR of itself) a candidate is:

- ``pt``: the summed pT of photons and electrons within PHOTONLIKE_CORE_DR (the EM "cluster");
- EM fraction (EM pT / all visible pT in the core) above PHOTONLIKE_EM_FRACTION_MIN;
- isolation: visible pT in PHOTONLIKE_CORE_DR < dR < PHOTONLIKE_ISO_DR below
  PHOTONLIKE_ISO_REL_MAX * pt + PHOTONLIKE_ISO_ABS_MAX_GEV.

An event passes with at least two candidates, the leading one above
PHOTONLIKE_LEAD_PT_MIN_GEV, the second above PHOTONLIKE_SUB_PT_MIN_GEV, and the two leading
candidates' invariant mass inside PHOTONLIKE_MASS_WINDOW_GEV. All cuts are looser than the
detector-level selection (tight ID, isolation 0.065 pT, E_T 35/25 GeV, 105-160 GeV), so the
filter removes events that could not pass it; the weights stay exact because the sample's sum
of weights counts every generated event (filtered or not).

Everything is vectorised over a chunk: pairs (seed, particle of the same event) are built with
NumPy (a few million per chunk at most).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hepsift.generate import constants as C

__all__ = ["PhotonLikeFilter", "photonlike_candidates", "photonlike_pass"]

_INVISIBLE = np.array([12, 14, 16, 13], dtype=np.int64)  # neutrinos and muons (MIP only)


@dataclass(frozen=True)
class PhotonLikeFilter:
    """Thresholds of the hadron-level filter (GeV, radians); defaults from constants."""

    min_candidates: int = 2
    lead_pt_min_gev: float = C.PHOTONLIKE_LEAD_PT_MIN_GEV
    sub_pt_min_gev: float = C.PHOTONLIKE_SUB_PT_MIN_GEV
    mass_min_gev: float = C.PHOTONLIKE_MASS_WINDOW_GEV[0]
    mass_max_gev: float = C.PHOTONLIKE_MASS_WINDOW_GEV[1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": "hadron (after hadronisation, before the detector)",
            "min_candidates": self.min_candidates,
            "lead_pt_min_gev": self.lead_pt_min_gev,
            "sub_pt_min_gev": self.sub_pt_min_gev,
            "mass_min_gev": self.mass_min_gev,
            "mass_max_gev": self.mass_max_gev,
            "core_dr": C.PHOTONLIKE_CORE_DR,
            "iso_dr": C.PHOTONLIKE_ISO_DR,
            "em_fraction_min": C.PHOTONLIKE_EM_FRACTION_MIN,
            "iso_rel_max": C.PHOTONLIKE_ISO_REL_MAX,
            "iso_abs_max_gev": C.PHOTONLIKE_ISO_ABS_MAX_GEV,
        }


def _final_state(events: Any) -> dict[str, np.ndarray]:
    """Visible final-state particles (|eta| < ~3, pT > 0.5 GeV): event, id, pt, eta, phi."""
    import awkward as ak

    prt = events.prt
    fs = prt[prt.status > 0]
    counts = ak.to_numpy(ak.num(fs))
    p = fs.p
    px = ak.to_numpy(ak.flatten(p.px))
    py = ak.to_numpy(ak.flatten(p.py))
    pz = ak.to_numpy(ak.flatten(p.pz))
    pid = np.abs(ak.to_numpy(ak.flatten(fs.id)).astype(np.int64))
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.full_like(pz, 1e9), where=pt > 0))
    ev = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    keep = (pt > 0.5) & (np.abs(eta) < C.PHOTONLIKE_ETA_MAX + C.PHOTONLIKE_ISO_DR)
    keep &= ~np.isin(pid, _INVISIBLE)
    return {
        "event": ev[keep],
        "id": pid[keep],
        "pt": pt[keep],
        "eta": eta[keep],
        "phi": np.arctan2(py, px)[keep],
        "n": np.asarray(len(counts)),
    }


def _pairs(seed_ev: np.ndarray, ev: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(seed index, particle index) of every pair of a seed and a particle of its event
    (particles sorted by event)."""
    counts = np.bincount(ev, minlength=n)
    starts = np.cumsum(counts) - counts
    per = counts[seed_ev]
    si = np.repeat(np.arange(len(seed_ev)), per)
    offs = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    return si, np.repeat(starts[seed_ev], per) + offs


def photonlike_candidates(events: Any) -> dict[str, np.ndarray]:
    """Photon-like candidates of a chunk: event index, pt (GeV), eta, phi (sorted by event,
    then decreasing pt)."""
    fs = _final_state(events)
    n = int(fs["n"])
    is_em = (fs["id"] == 22) | (fs["id"] == 11)
    seed = (
        (fs["id"] == 22)
        & (fs["pt"] > C.PHOTONLIKE_SEED_PT_MIN_GEV)
        & (np.abs(fs["eta"]) < C.PHOTONLIKE_ETA_MAX)
    )
    sidx = np.flatnonzero(seed)
    si, pj = _pairs(fs["event"][sidx], fs["event"], n)
    s = sidx[si]
    dphi = np.remainder(fs["phi"][pj] - fs["phi"][s] + np.pi, C.TWO_PI) - np.pi
    dr = np.hypot(fs["eta"][pj] - fs["eta"][s], dphi)
    core = dr < C.PHOTONLIKE_CORE_DR
    ptj = fs["pt"][pj]
    m = len(sidx)
    em = np.bincount(si, weights=np.where(core & is_em[pj], ptj, 0.0), minlength=m)
    vis = np.bincount(si, weights=np.where(core, ptj, 0.0), minlength=m)
    ring = ~core & (dr < C.PHOTONLIKE_ISO_DR)
    iso = np.bincount(si, weights=np.where(ring, ptj, 0.0), minlength=m)
    # a seed is the local maximum: no harder photon in its core
    harder = core & (fs["id"][pj] == 22) & (ptj > fs["pt"][s])
    is_max = np.bincount(si, weights=harder, minlength=m) == 0
    good = (
        is_max
        & (em > C.PHOTONLIKE_SUB_PT_MIN_GEV)
        & (em >= C.PHOTONLIKE_EM_FRACTION_MIN * vis)
        & (iso < C.PHOTONLIKE_ISO_REL_MAX * em + C.PHOTONLIKE_ISO_ABS_MAX_GEV)
    )
    ev = fs["event"][sidx][good]
    pt = em[good]
    o = np.lexsort((-pt, ev))
    return {
        "event": ev[o],
        "pt": pt[o],
        "eta": fs["eta"][sidx][good][o],
        "phi": fs["phi"][sidx][good][o],
        "n": np.asarray(n),
    }


def photonlike_pass(events: Any, filt: PhotonLikeFilter) -> np.ndarray:
    """Boolean mask (per event of the chunk) of events passing ``filt``."""
    c = photonlike_candidates(events)
    n = int(c["n"])
    ev, pt = c["event"], c["pt"]
    counts = np.bincount(ev, minlength=n)
    starts = np.cumsum(counts) - counts
    ok = counts >= max(filt.min_candidates, 2)
    e_ok = np.flatnonzero(ok)
    i0, i1 = starts[e_ok], starts[e_ok] + 1
    p = np.zeros((len(e_ok), 4))
    for i in (i0, i1):
        p[:, 0] += pt[i] * np.cosh(c["eta"][i])
        p[:, 1] += pt[i] * np.cos(c["phi"][i])
        p[:, 2] += pt[i] * np.sin(c["phi"][i])
        p[:, 3] += pt[i] * np.sinh(c["eta"][i])
    mass = np.sqrt(np.maximum(p[:, 0] ** 2 - p[:, 1] ** 2 - p[:, 2] ** 2 - p[:, 3] ** 2, 0.0))
    sel = (
        (pt[i0] > filt.lead_pt_min_gev)
        & (pt[i1] > filt.sub_pt_min_gev)
        & (mass > filt.mass_min_gev)
        & (mass < filt.mass_max_gev)
    )
    out = np.zeros(n, dtype=bool)
    out[e_ok[sel]] = True
    return out
