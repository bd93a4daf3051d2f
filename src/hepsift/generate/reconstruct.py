"""Reconstruction on the detector response of a chunk: EM clusters, photons, electrons, muons,
isolation, anti-kt jets on towers (FastJet, whole chunk in one call), b-tagging, MET, images.

All functions are vectorised over the chunk (flat arrays with an event index, or dense cell
grids); the only loops are over the few cells of a fixed window. Units: GeV, radians.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepsift.generate import constants as C
from hepsift.generate.detector import (
    ECAL_DPHI,
    HCAL_DPHI,
    Detector,
    Objects,
    SparseGrid,
    ecal_cell_eta,
    ecal_cell_phi,
    em_profile_weta2,
    hcal_cell_eta,
    hcal_cell_phi,
    mip_et,
)

__all__ = [
    "Candidates",
    "Jets",
    "any_within",
    "calo_cone_et",
    "delta_phi",
    "em_candidates",
    "event_images",
    "jets",
    "missing_et",
    "pairs",
    "track_cone",
    "weta2_impact_correction",
]

#: Area (eta x phi) of the 5 x 5 cluster core removed from etcone20.
CLUSTER_CORE_AREA = (
    (2 * C.CLUSTER_HALF_ETA_CELLS + 1)
    * C.ECAL_CELL_ETA
    * ((2 * C.CLUSTER_HALF_PHI_CELLS + 1) * ECAL_DPHI)
)


@functools.cache
def _weta2_table() -> tuple[np.ndarray, np.ndarray, float]:
    u = np.linspace(0.0, 1.0, 401)[:-1]
    bary, w = em_profile_weta2(u)
    order = np.argsort(bary)
    ref = float(em_profile_weta2(np.array([0.5]))[1][0])
    return bary[order], w[order], ref


def weta2_impact_correction(bary: np.ndarray) -> np.ndarray:
    """Additive weta2 correction for the impact point: the ideal shower's weta2 at a cell
    centre minus its weta2 at the measured 3 x 3 barycentre offset ``bary`` (cells)."""
    x, w, ref = _weta2_table()
    return np.asarray(ref - np.interp(np.asarray(bary, dtype=np.float64), x, w))


def delta_phi(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """a - b wrapped into [-pi, pi)."""
    return np.asarray((np.asarray(a) - np.asarray(b) + np.pi) % C.TWO_PI - np.pi)


def pairs(a_event: np.ndarray, b_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with object i of set A and object j of set B in the same event.

    ``b_offsets`` (n_events + 1) delimit B's objects per event (B sorted by event).
    """
    start = b_offsets[a_event]
    count = b_offsets[a_event + 1] - start
    ia = np.repeat(np.arange(len(a_event)), count)
    total = int(count.sum())
    first = np.cumsum(count) - count
    ib = np.arange(total) - np.repeat(first - start, count)
    return ia, ib.astype(np.int64)


def _window(
    grid: SparseGrid,
    ev: np.ndarray,
    ie: np.ndarray,
    ip: np.ndarray,
    half_eta: int,
    half_phi: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Values of a cell grid in a window around cells; phi periodic, 0 outside in eta.

    Returns values (m, 2 half_eta + 1, 2 half_phi + 1) and the eta indices of the window cells.
    """
    de = np.arange(-half_eta, half_eta + 1)
    dp = np.arange(-half_phi, half_phi + 1)
    wie = np.broadcast_to(ie[:, None, None] + de[None, :, None], (len(ie), len(de), len(dp)))
    wip = np.broadcast_to(ip[:, None, None] + dp[None, None, :], wie.shape)
    vals = grid.lookup(np.broadcast_to(ev[:, None, None], wie.shape), wie, wip)
    return vals, wie


#: per calorimeter: (|eta| reach, cell eta size, cells in phi, cell phi size, cell centres
#: eta(index), phi(index))
_CALO_GEOMETRY = {
    "ecal": (
        C.ECAL_ETA_MAX,
        C.ECAL_CELL_ETA,
        C.ECAL_N_PHI,
        ECAL_DPHI,
        ecal_cell_eta,
        ecal_cell_phi,
    ),
    "hcal": (
        C.HCAL_ETA_MAX,
        C.HCAL_CELL_ETA,
        C.HCAL_N_PHI,
        HCAL_DPHI,
        hcal_cell_eta,
        hcal_cell_phi,
    ),
}


def _cone_et(
    grid: SparseGrid, calo: str, ev: np.ndarray, eta: np.ndarray, phi: np.ndarray, dr: float
) -> np.ndarray:
    """Transverse energy (GeV) of the cells of ``grid`` (calorimeter ``calo``) within ``dr``."""
    eta_max, cell_eta, n_phi, cell_phi, centre_eta, centre_phi = _CALO_GEOMETRY[calo]
    he = int(np.ceil(dr / cell_eta)) + 1
    hp = int(np.ceil(dr / cell_phi)) + 1
    ie = np.floor((eta + eta_max) / cell_eta).astype(np.int64)
    ip = np.floor((phi + np.pi) / cell_phi).astype(np.int64) % n_phi
    vals, wie = _window(grid, ev, ie, ip, he, hp)
    d_eta = centre_eta(wie) - eta[:, None, None]
    d_phi = delta_phi(centre_phi(np.arange(-hp, hp + 1) + ip[:, None]) - phi[:, None], 0.0)
    d_phi = d_phi[:, None, :]
    return np.asarray(np.sum(np.where(d_eta**2 + d_phi**2 < dr**2, vals, 0.0), axis=(1, 2)))


def calo_cone_et(
    det: Detector, ev: np.ndarray, eta: np.ndarray, phi: np.ndarray, dr: float
) -> tuple[np.ndarray, np.ndarray]:
    """ECAL and HCAL transverse energy (GeV) of cells whose centre is within ``dr``."""
    return _cone_et(det.ecal, "ecal", ev, eta, phi, dr), _cone_et(
        det.hcal, "hcal", ev, eta, phi, dr
    )


def track_cone(
    tracks: Objects,
    ev: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    dr: float,
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scalar sum of track pT (GeV) and number of tracks within ``dr`` of each position;
    ``exclude`` (index into tracks, -1 for none) removes the object's own track."""
    ia, ib = pairs(ev, tracks.offsets)
    d2 = (tracks.eta[ib] - eta[ia]) ** 2 + delta_phi(tracks.phi[ib], phi[ia]) ** 2
    inside = d2 < dr**2
    if exclude is not None:
        inside &= ib != exclude[ia]
    m = len(ev)
    return (
        np.bincount(ia[inside], weights=tracks.pt[ib[inside]], minlength=m),
        np.bincount(ia[inside], minlength=m),
    )


@dataclass
class Candidates:
    """EM clusters above CANDIDATE_ET_MIN_GEV with shower shapes, isolation and track match.

    ``track`` is the index of the matched track (-1 if none); ``eop`` = cluster E / track p.
    ``etcone20`` is corrected for pile-up (median density rho x cone area) and can be < 0.
    """

    event: np.ndarray
    et: np.ndarray
    e: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    rhad: np.ndarray
    weta2: np.ndarray
    etcone20: np.ndarray
    ptcone20: np.ndarray
    ptcone30: np.ndarray
    n_tracks_in_cone: np.ndarray
    track: np.ndarray
    eop: np.ndarray
    #: ATLAS convType of the cluster's leading true photon (0 unconverted, 1-5 converted)
    conv_type: np.ndarray

    def select(self, mask: np.ndarray) -> Candidates:
        return Candidates(**{k: v[mask] for k, v in self.__dict__.items()})

    @property
    def is_photon(self) -> np.ndarray:
        """No matched track."""
        return self.track < 0

    @property
    def is_tight_photon(self) -> np.ndarray:
        return (
            self.is_photon
            & (self.rhad < C.PHOTON_TIGHT_RHAD_MAX)
            & (self.weta2 < C.PHOTON_TIGHT_WETA2_MAX)
        )

    @property
    def is_electron(self) -> np.ndarray:
        return np.asarray(
            (self.track >= 0)
            & (self.rhad < C.ELECTRON_RHAD_MAX)
            & (self.weta2 < C.ELECTRON_WETA2_MAX)
            & (self.eop > C.ELECTRON_EOP_MIN)
            & (self.eop < C.ELECTRON_EOP_MAX)
            & (np.abs(self.eta) < C.ELECTRON_ETA_MAX)
        )


def _clusters(det: Detector, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sliding-window clusters: seed cell above CLUSTER_SEED_ET_MIN_GEV that is the maximum of
    its 5 x 5 window (cells read with their noise); energy, position (3 x 3 barycentre, then
    the vertex-z shift of the pointing), weta2 (impact-corrected) and core E_T."""
    grid = det.ecal
    ev, ie, ip = grid.decode(grid.keys[grid.values > C.CLUSTER_SEED_ET_MIN_GEV])
    h = C.CLUSTER_HALF_ETA_CELLS
    win, wie = _window(grid, ev, ie, ip, h, h)
    is_max = win[:, h, h] >= win.reshape(len(win), -1).max(axis=1)
    ev, ie, ip, win, wie = ev[is_max], ie[is_max], ip[is_max], win[is_max], wie[is_max]
    e_cells = win * np.cosh(ecal_cell_eta(wie))
    # position: energy-weighted in the 3 x 3 core
    core = e_cells[:, h - 1 : h + 2, h - 1 : h + 2]
    core_sum = np.where(core.sum(axis=(1, 2)) > 0, core.sum(axis=(1, 2)), 1e-9)
    off = np.arange(-1, 2)
    bary = np.clip(np.sum(core.sum(axis=2) * off, axis=1) / core_sum, -1.0, 1.0)
    eta = ecal_cell_eta(ie) + bary * C.ECAL_CELL_ETA
    phi = -np.pi + (ip + 0.5) * ECAL_DPHI
    phi = delta_phi(phi + np.sum(core.sum(axis=1) * off, axis=1) / core_sum * ECAL_DPHI, 0.0)
    # weta2: energy-weighted eta width in 3 (eta) x 5 (phi) cells, corrected for the impact
    # point within the cell (the width of a shower seen by finite cells depends on it)
    w = e_cells[:, h - 1 : h + 2, :].sum(axis=2)
    cell_eta = ecal_cell_eta(ie[:, None] + off[None, :])
    wsum = np.where(w.sum(axis=1) > 0, w.sum(axis=1), 1e-9)
    mean = np.sum(w * cell_eta, axis=1) / wsum
    weta2 = np.sqrt(np.maximum(np.sum(w * cell_eta**2, axis=1) / wsum - mean**2, 0.0))
    weta2 = np.maximum(weta2 + weta2_impact_correction(bary), 0.0)
    # direction from the nominal vertex: the residual z error of the photon-pointing vertex
    # (per event) shifts the apparent impact point on the calorimeter face
    dz = C.VERTEX_Z_RESOLUTION_MM * rng.standard_normal(det.n)[ev]
    sh = np.sinh(eta)
    r_face = np.minimum(C.ECAL_BARREL_RADIUS_MM, C.ECAL_ENDCAP_Z_MM / np.maximum(np.abs(sh), 1e-9))
    eta = np.arcsinh(sh + dz / r_face)
    e = e_cells.sum(axis=(1, 2))
    return {
        "event": ev,
        "e": e,
        "et": e / np.cosh(eta),
        "eta": eta,
        "phi": phi,
        "weta2": weta2,
        "core_et": win.sum(axis=(1, 2)),
    }


def _track_match(det: Detector, ev: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Index of the highest-pT track within TRACK_MATCH_DR of each cluster (-1 if none)."""
    ia, ib = pairs(ev, det.tracks.offsets)
    trk = det.tracks
    d2 = (trk.eta[ib] - eta[ia]) ** 2 + delta_phi(trk.phi[ib], phi[ia]) ** 2
    ok = (d2 < C.TRACK_MATCH_DR**2) & (trk.pt[ib] > C.TRACK_MATCH_PT_MIN_GEV)
    matched = np.full(len(ev), -1, dtype=np.int64)
    if ok.any():
        ia_ok, ib_ok = ia[ok], ib[ok]
        order = np.lexsort((-trk.pt[ib_ok], ia_ok))
        ia_s, ib_s = ia_ok[order], ib_ok[order]
        first = np.r_[True, ia_s[1:] != ia_s[:-1]]
        matched[ia_s[first]] = ib_s[first]
    return matched


def _conv_type(det: Detector, ev: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """convType of the highest-pT true photon within TRACK_MATCH_DR of each cluster."""
    out = np.zeros(len(ev), dtype=np.int32)
    ph = det.photons
    if ph is None or det.conv_type is None or len(ph) == 0:
        return out
    ia, ib = pairs(ev, ph.offsets)
    d2 = (ph.eta[ib] - eta[ia]) ** 2 + delta_phi(ph.phi[ib], phi[ia]) ** 2
    ok = d2 < C.TRACK_MATCH_DR**2
    ia, ib = ia[ok], ib[ok]
    order = np.lexsort((-ph.pt[ib], ia))
    ia, ib = ia[order], ib[order]
    first = np.r_[True, ia[1:] != ia[:-1]] if len(ia) else np.zeros(0, dtype=bool)
    out[ia[first]] = det.conv_type[ib[first]]
    return out


def _rho_of(det: Detector, ev: np.ndarray) -> np.ndarray:
    return np.zeros(len(ev)) if det.rho is None else np.asarray(det.rho[ev])


def em_candidates(det: Detector, rng: np.random.Generator, et_min: float) -> Candidates:
    """EM clusters above ``et_min`` (GeV) and |eta| < TRACK_ETA_MAX with shower shapes,
    pile-up-corrected isolation, track match and conversion type."""
    cl = _clusters(det, rng)
    keep = (cl["et"] > et_min) & (np.abs(cl["eta"]) < C.TRACK_ETA_MAX)
    cl = {k: v[keep] for k, v in cl.items()}
    ev, eta, phi, et = cl["event"], cl["eta"], cl["phi"], cl["et"]
    # hadronic leakage and isolation (minus the median pile-up density x cone area)
    _, hcal_r = calo_cone_et(det, ev, eta, phi, C.RHAD_CONE_DR)
    ecal_20, hcal_20 = calo_cone_et(det, ev, eta, phi, C.ISO_CONE_SMALL_DR)
    area = np.pi * C.ISO_CONE_SMALL_DR**2 - CLUSTER_CORE_AREA
    etcone20 = ecal_20 + hcal_20 - cl["core_et"] - _rho_of(det, ev) * area
    matched = _track_match(det, ev, eta, phi)
    trk = det.tracks
    p_trk = np.full(len(ev), np.nan)
    has = matched >= 0
    p_trk[has] = trk.pt[matched[has]] * np.cosh(trk.eta[matched[has]])
    pt20, n20 = track_cone(trk, ev, eta, phi, C.ISO_CONE_SMALL_DR, matched)
    pt30, _ = track_cone(trk, ev, eta, phi, C.ISO_CONE_LARGE_DR, matched)
    return Candidates(
        event=ev,
        et=et,
        e=cl["e"],
        eta=eta,
        phi=phi,
        rhad=hcal_r / np.maximum(et, 1e-9),
        weta2=cl["weta2"],
        etcone20=etcone20,
        ptcone20=pt20,
        ptcone30=pt30,
        n_tracks_in_cone=n20,
        track=matched,
        eop=cl["e"] / p_trk,
        conv_type=_conv_type(det, ev, eta, phi),
    )


def muon_isolation(det: Detector) -> tuple[np.ndarray, np.ndarray]:
    """(etcone20, ptcone30) of reconstructed muons (GeV): etcone20 without the muon's own ECAL
    and HCAL deposits and minus the median pile-up density x cone area; ptcone30 without the
    muon's own track."""
    mu = det.muons
    ecal, hcal = calo_cone_et(det, mu.event, mu.eta, mu.phi, C.ISO_CONE_SMALL_DR)
    own_ecal, own_hcal = mip_et(mu.eta)
    area = np.pi * C.ISO_CONE_SMALL_DR**2
    etcone20 = ecal + hcal - own_ecal - own_hcal - _rho_of(det, mu.event) * area
    ia, ib = pairs(mu.event, det.tracks.offsets)
    trk = det.tracks
    d2 = (trk.eta[ib] - mu.eta[ia]) ** 2 + delta_phi(trk.phi[ib], mu.phi[ia]) ** 2
    own = np.full(len(mu), -1, dtype=np.int64)
    close = d2 < 0.01**2
    own[ia[close]] = ib[close]
    pt30, _ = track_cone(trk, mu.event, mu.eta, mu.phi, C.ISO_CONE_LARGE_DR, own)
    return etcone20, pt30


@dataclass
class Jets:
    """Flat jets of a chunk (GeV), sorted by event then decreasing pT."""

    event: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    e: np.ndarray
    flavour: np.ndarray
    mv2c10: np.ndarray
    offsets: np.ndarray

    def select(self, mask: np.ndarray, n_events: int) -> Jets:
        ev = self.event[mask]
        offsets = np.zeros(n_events + 1, dtype=np.int64)
        np.cumsum(np.bincount(ev, minlength=n_events), out=offsets[1:])
        return Jets(
            ev,
            self.pt[mask],
            self.eta[mask],
            self.phi[mask],
            self.e[mask],
            self.flavour[mask],
            self.mv2c10[mask],
            offsets,
        )


def any_within(
    ev: np.ndarray, eta: np.ndarray, phi: np.ndarray, others: Objects, dr: float
) -> np.ndarray:
    """True where an object of ``others`` (same event) lies within ``dr`` in (eta, phi)."""
    ia, ib = pairs(ev, others.offsets)
    close = (others.eta[ib] - eta[ia]) ** 2 + delta_phi(others.phi[ib], phi[ia]) ** 2 < dr**2
    return np.bincount(ia[close], minlength=len(ev)) > 0


def _quiet_fastjet(fastjet: Any) -> None:
    """No FastJet banner on stdout (its version is recorded in the manifest instead)."""
    with contextlib.suppress(Exception):  # other bindings: keep the banner
        fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)


def jets(det: Detector, rng: np.random.Generator) -> Jets:
    """Anti-kt R = 0.4 jets on towers (one FastJet call per chunk), pT > 25 GeV, |eta| < 4.5,
    with truth flavour (b/c hadron within dR < 0.3) and an MV2c10-like b-tagging score."""
    import awkward as ak

    from hepsift.extras import require

    fastjet = require("fastjet", "jet clustering in event generation")
    _quiet_fastjet(fastjet)
    tow = det.towers
    keep = tow.values > C.JET_TOWER_ET_MIN_GEV
    ev, ie, ip = tow.decode(tow.keys[keep])
    et = tow.values[keep]
    eta = hcal_cell_eta(ie)
    phi = hcal_cell_phi(ip)
    counts = np.bincount(ev, minlength=det.n)
    vecs = ak.zip(
        {
            "px": et * np.cos(phi),
            "py": et * np.sin(phi),
            "pz": et * np.sinh(eta),
            "E": et * np.cosh(eta),
        }
    )
    vecs = ak.unflatten(vecs, counts)
    cs = fastjet.ClusterSequence(vecs, fastjet.JetDefinition(fastjet.antikt_algorithm, C.JET_R))
    jj = cs.inclusive_jets(min_pt=C.JET_PT_MIN_GEV)
    jcounts = ak.to_numpy(ak.num(jj))
    px = ak.to_numpy(ak.flatten(jj.px))
    py = ak.to_numpy(ak.flatten(jj.py))
    pz = ak.to_numpy(ak.flatten(jj.pz))
    e = ak.to_numpy(ak.flatten(jj.E))
    jev = np.repeat(np.arange(det.n), jcounts)
    pt = np.hypot(px, py)
    jeta = np.arcsinh(pz / np.maximum(pt, 1e-9))
    jphi = np.arctan2(py, px)
    # pile-up subtraction: pT -> pT - rho A (A = pi R^2), four-vector scaled, cut again
    if det.rho is not None:
        scale = np.maximum(1.0 - det.rho[jev] * np.pi * C.JET_R**2 / np.maximum(pt, 1e-9), 0.0)
        pt, e, pz = pt * scale, e * scale, pz * scale
        jeta = np.arcsinh(pz / np.maximum(pt, 1e-9))
        hard = pt > C.JET_PT_MIN_GEV
        jev, pt, jeta, jphi, e = jev[hard], pt[hard], jeta[hard], jphi[hard], e[hard]
    # order by event, then decreasing pT
    order = np.lexsort((-pt, jev))
    jev, pt, jeta, jphi, e = jev[order], pt[order], jeta[order], jphi[order], e[order]
    ok = np.abs(jeta) < C.JET_ETA_MAX
    jev, pt, jeta, jphi, e = jev[ok], pt[ok], jeta[ok], jphi[ok], e[ok]
    is_b = any_within(jev, jeta, jphi, det.truth["b_hadrons"], C.BTAG_HADRON_DR)
    is_c = any_within(jev, jeta, jphi, det.truth["c_hadrons"], C.BTAG_HADRON_DR)
    flavour = np.where(is_b, 5, np.where(is_c, 4, 0)).astype(np.int32)
    mu = np.where(flavour == 5, C.BTAG_MU_B, np.where(flavour == 4, C.BTAG_MU_C, C.BTAG_MU_LIGHT))
    mu = np.where(np.abs(jeta) < C.BTAG_ETA_MAX, mu, C.BTAG_MU_LIGHT)
    z = mu + rng.standard_normal(len(mu))
    mv2c10 = np.tanh(C.BTAG_SLOPE * z + np.arctanh(C.BTAG_MV2C10_WP77))
    offsets = np.zeros(det.n + 1, dtype=np.int64)
    np.cumsum(np.bincount(jev, minlength=det.n), out=offsets[1:])
    return Jets(jev, pt, jeta, jphi, e, flavour, mv2c10, offsets)


def overlap_free(
    jet: Jets,
    ev: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    n: int,
    dr: float = C.JET_OVERLAP_DR,
) -> Jets:
    """Jets farther than ``dr`` from every given object (photons, leptons)."""
    order = np.argsort(ev, kind="stable")
    obj = Objects.build(n, ev[order], eta[order], eta[order], phi[order])
    ia, ib = pairs(jet.event, obj.offsets)
    close = (obj.eta[ib] - jet.eta[ia]) ** 2 + delta_phi(obj.phi[ib], jet.phi[ia]) ** 2
    bad = np.bincount(ia[close < dr**2], minlength=len(jet.pt)) > 0
    return jet.select(~bad, n)


def missing_et(det: Detector) -> tuple[np.ndarray, np.ndarray]:
    """MET magnitude and phi (GeV): minus the vector sum of tower E_T without the pile-up
    deposits (as the track-based soft term of ATLAS leaves pile-up out) and of muon pT, where
    the muons' own calorimeter deposits are taken out of the tower term."""
    ev, _, ip = det.towers.decode()
    et = det.towers.values
    phi = hcal_cell_phi(ip)
    mx = -np.bincount(ev, weights=et * np.cos(phi), minlength=det.n)
    my = -np.bincount(ev, weights=et * np.sin(phi), minlength=det.n)
    if det.pileup_sum is not None:
        mx += det.pileup_sum[:, 0]
        my += det.pileup_sum[:, 1]
    mu = det.muons
    own = np.sum(mip_et(mu.eta), axis=0)
    tphi = hcal_cell_phi(np.floor((mu.phi + np.pi) / HCAL_DPHI).astype(np.int64) % C.HCAL_N_PHI)
    mx += np.bincount(
        mu.event, weights=own * np.cos(tphi) - mu.pt * np.cos(mu.phi), minlength=det.n
    )
    my += np.bincount(
        mu.event, weights=own * np.sin(tphi) - mu.pt * np.sin(mu.phi), minlength=det.n
    )
    return np.hypot(mx, my), np.arctan2(my, mx)


def _overlap_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Fraction of each of ``n_in`` equal phi bins falling in each of ``n_out`` bins."""
    lo_in = np.arange(n_in) / n_in
    hi_in = lo_in + 1.0 / n_in
    lo_out = np.arange(n_out) / n_out
    hi_out = lo_out + 1.0 / n_out
    ov = np.clip(
        np.minimum(hi_in[:, None], hi_out[None, :]) - np.maximum(lo_in[:, None], lo_out[None, :]),
        0.0,
        None,
    )
    return np.asarray(ov * n_in)


def _pixels_of_cells(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of n_in equal phi bins: the (up to 2) output bins it overlaps and fractions."""
    ov = _overlap_matrix(n_in, n_out)
    pix = np.argsort(-ov, axis=1)[:, :2]
    frac = np.take_along_axis(ov, pix, axis=1)
    return pix, frac


def _grid_image(grid: SparseGrid, eta_max: float, cell_eta: float, n: int, npx: int) -> np.ndarray:
    ev, ie, ip = grid.decode()
    e0 = round((grid.n_eta * cell_eta / 2 - eta_max) / cell_eta)
    per = (grid.n_eta - 2 * e0) // npx
    inside = (ie >= e0) & (ie < grid.n_eta - e0)
    ev, ie, ip, val = ev[inside], ie[inside], ip[inside], grid.values[inside]
    px_eta = (ie - e0) // per
    pix, frac = _pixels_of_cells(grid.n_phi, npx)
    img = np.zeros(n * npx * npx)
    for k in range(2):
        flat = (ev * npx + px_eta) * npx + pix[ip, k]
        img += np.bincount(flat, weights=val * frac[ip, k], minlength=n * npx * npx)
    return img.reshape(n, npx, npx)


def event_images(det: Detector) -> np.ndarray:
    """(n, 3, 50, 50) float16 images in (eta, phi), |eta| < 2.5: ECAL E_T, HCAL E_T, track pT
    (GeV). Cells are shared between pixels by their phi overlap (energy conserving)."""
    n = det.n
    npx = C.IMAGE_N_PIX
    ecal_img = _grid_image(det.ecal, C.IMAGE_ETA_MAX, C.ECAL_CELL_ETA, n, npx)
    hcal_img = _grid_image(det.hcal, C.IMAGE_ETA_MAX, C.HCAL_CELL_ETA, n, npx)
    trk = det.tracks
    inside = np.abs(trk.eta) < C.IMAGE_ETA_MAX
    scale = npx / (2 * C.IMAGE_ETA_MAX)
    ix = np.clip(((trk.eta[inside] + C.IMAGE_ETA_MAX) * scale).astype(np.int64), 0, npx - 1)
    iy = np.clip(((trk.phi[inside] + np.pi) / C.TWO_PI * npx).astype(np.int64), 0, npx - 1)
    flat = (trk.event[inside] * npx + ix) * npx + iy
    trk_img = np.bincount(flat, weights=trk.pt[inside], minlength=n * npx * npx)
    trk_img = trk_img.reshape(n, npx, npx)
    return np.stack([ecal_img, hcal_img, trk_img], axis=1).astype(np.float16)
