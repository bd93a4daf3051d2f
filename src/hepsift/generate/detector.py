"""Parametrised detector: tracker, ECAL / HCAL cells with lateral shower spread, muon system.

Everything is vectorised over a whole chunk of events: the final-state particles of all events
are flattened into NumPy arrays with an event index, and calorimeter deposits are accumulated
into dense per-event cell grids of transverse energy with one ``np.bincount`` call.

Units: GeV, radians. The numbers live in :mod:`hepsift.generate.constants`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from hepsift.generate import constants as C

__all__ = [
    "Detector",
    "Objects",
    "SparseGrid",
    "ecal_cell_eta",
    "ecal_cell_phi",
    "flatten_final_state",
    "hcal_cell_eta",
    "hcal_cell_phi",
    "simulate",
]

ECAL_DPHI = C.TWO_PI / C.ECAL_N_PHI
HCAL_DPHI = C.TWO_PI / C.HCAL_N_PHI
#: Eta-index offset of the ECAL grid inside the HCAL (tower) grid, and cells per tower.
ECAL_IN_TOWER_OFFSET = round((C.HCAL_ETA_MAX - C.ECAL_ETA_MAX) / C.HCAL_CELL_ETA)
ECAL_PER_TOWER_ETA = round(C.HCAL_CELL_ETA / C.ECAL_CELL_ETA)
ECAL_PER_TOWER_PHI = C.ECAL_N_PHI // C.HCAL_N_PHI

#: Largest dense block of cells accumulated at once (memory ~ 8 bytes per cell).
_BLOCK_CELLS = 1 << 22
#: Dense accumulation only if the grid has at most this many cells per deposit.
_DENSE_MAX_CELLS_PER_DEPOSIT = 16
_INVISIBLE = np.array([12, 14, 16, 1000022, 1000039, 39], dtype=np.int64)


def ecal_cell_eta(ieta: np.ndarray) -> np.ndarray:
    """Pseudorapidity of ECAL cell centres."""
    return -C.ECAL_ETA_MAX + (np.asarray(ieta) + 0.5) * C.ECAL_CELL_ETA


def ecal_cell_phi(iphi: np.ndarray) -> np.ndarray:
    """Azimuth (rad, in [-pi, pi)) of ECAL cell centres."""
    return -np.pi + (np.asarray(iphi) + 0.5) * ECAL_DPHI


def hcal_cell_eta(ieta: np.ndarray) -> np.ndarray:
    """Pseudorapidity of HCAL cell (= tower) centres."""
    return -C.HCAL_ETA_MAX + (np.asarray(ieta) + 0.5) * C.HCAL_CELL_ETA


def hcal_cell_phi(iphi: np.ndarray) -> np.ndarray:
    """Azimuth (rad) of HCAL cell (= tower) centres."""
    return -np.pi + (np.asarray(iphi) + 0.5) * HCAL_DPHI


@dataclass
class Objects:
    """Flat arrays of objects of a chunk, sorted by event, with ``offsets`` (n_events + 1)."""

    event: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    offsets: np.ndarray
    charge: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        n_events: int,
        event: np.ndarray,
        pt: np.ndarray,
        eta: np.ndarray,
        phi: np.ndarray,
        charge: np.ndarray | None = None,
    ) -> Objects:
        counts = np.bincount(event, minlength=n_events)
        offsets = np.zeros(n_events + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(event, pt, eta, phi, offsets, charge)

    def __len__(self) -> int:
        return len(self.event)


@dataclass
class SparseGrid:
    """Cells with a deposit of ``n`` events on an (n_eta, n_phi) grid, phi periodic.

    ``keys`` are sorted unique flat indices ``(event * n_eta + ieta) * n_phi + iphi``;
    ``values`` the cell transverse energies (GeV).
    """

    n: int
    n_eta: int
    n_phi: int
    keys: np.ndarray
    values: np.ndarray

    @classmethod
    def from_deposits(
        cls, n: int, n_eta: int, n_phi: int, flat: np.ndarray, et: np.ndarray
    ) -> SparseGrid:
        """Sum deposits (flat cell index, E_T) per cell: dense ``bincount`` over blocks of at
        most ``_BLOCK_CELLS`` cells when the grid is small compared with the number of deposits
        (HCAL, towers), else a sort (``np.unique``; fine ECAL cells)."""
        per_event = n_eta * n_phi
        if n * per_event > _DENSE_MAX_CELLS_PER_DEPOSIT * max(len(flat), 1):
            ukeys, inv = np.unique(flat, return_inverse=True)
            return cls(n, n_eta, n_phi, ukeys, np.bincount(inv, weights=et, minlength=len(ukeys)))
        events_per_block = max(1, _BLOCK_CELLS // per_event)
        keys, values = [], []
        single = n <= events_per_block
        for lo_ev in range(0, n, events_per_block):
            lo = lo_ev * per_event
            hi = min(n, lo_ev + events_per_block) * per_event
            if single:
                f, w = flat, et
            else:
                m = (flat >= lo) & (flat < hi)
                f, w = flat[m], et[m]
            dense = np.bincount(f - lo, weights=w, minlength=hi - lo)
            nz = np.flatnonzero(dense)
            keys.append(nz + lo)
            values.append(dense[nz])
        if not keys:
            return cls(n, n_eta, n_phi, np.zeros(0, np.int64), np.zeros(0))
        return cls(n, n_eta, n_phi, np.concatenate(keys), np.concatenate(values))

    def decode(self, keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(event, ieta, iphi) of ``keys`` (default: every stored cell)."""
        k = self.keys if keys is None else keys
        ev, rem = np.divmod(k, self.n_eta * self.n_phi)
        ie, ip = np.divmod(rem, self.n_phi)
        return ev, ie, ip

    def lookup(self, ev: np.ndarray, ie: np.ndarray, ip: np.ndarray) -> np.ndarray:
        """Cell values at (event, ieta, iphi); 0 for empty cells and ieta outside the grid."""
        valid = (ie >= 0) & (ie < self.n_eta)
        key = (ev * self.n_eta + np.clip(ie, 0, self.n_eta - 1)) * self.n_phi + ip % self.n_phi
        if len(self.keys) == 0:
            return np.zeros(key.shape)
        pos = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        found = valid & (self.keys[pos] == key)
        return np.where(found, self.values[pos], 0.0)


@dataclass
class Detector:
    """Detector response of a chunk of ``n`` events.

    ``ecal`` (ECAL_N_ETA x ECAL_N_PHI cells), ``hcal`` and ``towers`` (HCAL_N_ETA x HCAL_N_PHI,
    towers = ECAL summed onto the HCAL grid plus HCAL) hold cell transverse energies (GeV). ``tracks`` and ``muons`` are reconstructed objects;
    ``truth`` holds truth-level arrays used for labels and flavour (prompt photons, b/c hadrons).
    """

    n: int
    ecal: SparseGrid
    hcal: SparseGrid
    towers: SparseGrid
    tracks: Objects
    muons: Objects
    truth: dict[str, Any]


def flatten_final_state(events: Any, charge_of: dict[int, float]) -> dict[str, np.ndarray]:
    """Final-state particles of all events as flat arrays (GeV) with their event index."""
    import awkward as ak

    prt = events.prt
    final = prt.status > 0
    counts = ak.to_numpy(ak.sum(final, axis=1))
    fs = prt[final]
    p = fs.p
    out = {
        "event": np.repeat(np.arange(len(counts), dtype=np.int64), counts),
        "id": ak.to_numpy(ak.flatten(fs.id)).astype(np.int64),
        "px": ak.to_numpy(ak.flatten(p.px)),
        "py": ak.to_numpy(ak.flatten(p.py)),
        "pz": ak.to_numpy(ak.flatten(p.pz)),
        "e": ak.to_numpy(ak.flatten(p.e)),
    }
    uniq, inv = np.unique(np.abs(out["id"]), return_inverse=True)
    q = np.array([charge_of.get(int(u), 0.0) for u in uniq], dtype=np.float64)
    out["charge"] = q[inv] * np.sign(out["id"])
    return out


def _pt_eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, ...]:
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.full_like(pz, 1e6), where=pt > 1e-9))
    phi = np.arctan2(py, px)
    return pt, eta, phi


def _gauss_fractions(u: np.ndarray, cell: float, sigma: float, half: int) -> np.ndarray:
    """Fractions of a Gaussian (centred at fractional position u in [0, 1) of the impact cell)
    falling in the cells at offsets -half..half; shape (n, 2 * half + 1)."""
    k = np.arange(-half, half + 2, dtype=np.float64)
    edges = (k[None, :] - u[:, None]) * (cell / sigma)
    cdf = ndtr(edges)
    return np.diff(cdf, axis=1)


def _lateral_kernel(
    u_eta: np.ndarray, u_phi: np.ndarray, components: tuple[tuple[float, float], ...]
) -> np.ndarray:
    """5 x 5 energy-sharing kernel per deposit, normalised to 1; components = (weight, sigma)."""
    h = C.CLUSTER_HALF_ETA_CELLS
    kern = np.zeros((len(u_eta), 2 * h + 1, 2 * h + 1))
    for weight, sigma in components:
        fe = _gauss_fractions(u_eta, C.ECAL_CELL_ETA, sigma, h)
        fp = _gauss_fractions(u_phi, ECAL_DPHI, sigma, h)
        kern += weight * fe[:, :, None] * fp[:, None, :]
    kern /= kern.sum(axis=(1, 2), keepdims=True)
    return kern


def _resolution(e: np.ndarray, stoch: float, const: float) -> np.ndarray:
    return np.asarray(np.sqrt((stoch / np.sqrt(np.maximum(e, 1e-6))) ** 2 + const**2))


def _ecal_deposit(
    event: np.ndarray,
    energy: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    components: tuple[tuple[float, float], ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Share energies (GeV) over ECAL cells: 5 x 5 lateral profile for deposits above
    EM_SPREAD_E_MIN_GEV, a single cell below. Returns flat cell indices and their E_T."""
    x = (eta + C.ECAL_ETA_MAX) / C.ECAL_CELL_ETA
    ie = np.floor(x).astype(np.int64)
    y = (phi + np.pi) / ECAL_DPHI
    ip = np.floor(y).astype(np.int64) % C.ECAL_N_PHI
    soft = energy < C.EM_SPREAD_E_MIN_GEV
    flat_soft = (event[soft] * C.ECAL_N_ETA + ie[soft]) * C.ECAL_N_PHI + ip[soft]
    et_soft = energy[soft] / np.cosh(ecal_cell_eta(ie[soft]))
    hard = ~soft
    ie, ip, x, y = ie[hard], ip[hard], x[hard], y[hard]
    kern = _lateral_kernel(x - ie, y - np.floor(y), components)
    h = C.CLUSTER_HALF_ETA_CELLS
    off = np.arange(-h, h + 1)
    cie = ie[:, None, None] + off[None, :, None]
    cip = (ip[:, None, None] + off[None, None, :]) % C.ECAL_N_PHI
    cie_b = np.broadcast_to(cie, kern.shape)
    cip_b = np.broadcast_to(cip, kern.shape)
    ok = (cie_b >= 0) & (cie_b < C.ECAL_N_ETA)
    et = (energy[hard][:, None, None] * kern) / np.cosh(ecal_cell_eta(cie))
    ev = np.broadcast_to(event[hard][:, None, None], kern.shape)
    flat = (ev[ok] * C.ECAL_N_ETA + cie_b[ok]) * C.ECAL_N_PHI + cip_b[ok]
    return np.concatenate([flat_soft, flat]), np.concatenate([et_soft, et[ok]])


def _hcal_deposit(
    n: int, event: np.ndarray, energy: np.ndarray, eta: np.ndarray, phi: np.ndarray
) -> SparseGrid:
    """HCAL cell E_T grid from energies (GeV) deposited in single 0.1 x 0.1 cells."""
    ie = np.floor((eta + C.HCAL_ETA_MAX) / C.HCAL_CELL_ETA).astype(np.int64)
    ip = np.floor((phi + np.pi) / HCAL_DPHI).astype(np.int64) % C.HCAL_N_PHI
    et = energy / np.cosh(hcal_cell_eta(ie))
    flat = (event * C.HCAL_N_ETA + ie) * C.HCAL_N_PHI + ip
    return SparseGrid.from_deposits(n, C.HCAL_N_ETA, C.HCAL_N_PHI, flat, et)


def _towers(ecal: SparseGrid, hcal: SparseGrid) -> SparseGrid:
    """Towers on the HCAL grid: ECAL cells summed 4 x 4 plus the HCAL cell (E_T, GeV)."""
    ev, ie, ip = ecal.decode()
    t_ie = ie // ECAL_PER_TOWER_ETA + ECAL_IN_TOWER_OFFSET
    t_ip = ip // ECAL_PER_TOWER_PHI
    flat = (ev * C.HCAL_N_ETA + t_ie) * C.HCAL_N_PHI + t_ip
    return SparseGrid.from_deposits(
        hcal.n,
        C.HCAL_N_ETA,
        C.HCAL_N_PHI,
        np.concatenate([flat, hcal.keys]),
        np.concatenate([ecal.values, hcal.values]),
    )


def _truth(events: Any) -> dict[str, Any]:
    """Truth objects (flat :class:`Objects` per chunk): hard-process photons (their last copy
    after shower recoil), prompt final-state
    photons (not from hadron decays), b- and c-hadrons above BTAG_HADRON_PT_MIN_GEV, and the
    hard-process mass ``mhat`` (GeV) per event."""
    import awkward as ak

    prt = events.prt
    n = len(prt)
    counts = ak.to_numpy(ak.num(prt))
    ev = np.repeat(np.arange(n, dtype=np.int64), counts)
    pid = ak.to_numpy(ak.flatten(prt.id)).astype(np.int64)
    st = ak.to_numpy(ak.flatten(prt.status))
    p = ak.flatten(prt.p)
    px = ak.to_numpy(p.px)
    py = ak.to_numpy(p.py)
    pz = ak.to_numpy(p.pz)
    aid = np.abs(pid)
    # hard-process photons, followed through their recoil copies to the final-state photon
    start = np.repeat(np.cumsum(counts) - counts, counts)
    d1 = ak.to_numpy(ak.flatten(prt.daughter1)).astype(np.int64)
    d2 = ak.to_numpy(ak.flatten(prt.daughter2)).astype(np.int64)
    cur = np.flatnonzero((pid == 22) & (np.abs(st) == 23))
    for _ in range(64):
        step = (st[cur] < 0) & (d1[cur] > 0) & (d1[cur] == d2[cur])
        if not step.any():
            break
        nxt = start[cur] + d1[cur]
        cur = np.where(step & (pid[np.minimum(nxt, len(pid) - 1)] == 22), nxt, cur)
    hadron = (aid > 100) & (aid < 10000)
    meson_q = (aid // 100) % 10
    baryon_q = (aid // 1000) % 10
    heavy = hadron & ((meson_q == 5) | (baryon_q == 5) | (meson_q == 4) | (baryon_q == 4))
    prompt = (pid == 22) & (st > 0) & (st < 80)
    # kinematics only of the few particles that can be selected
    idx = np.unique(np.concatenate([cur, np.flatnonzero(heavy | prompt)]))
    pt_i, eta_i, phi_i = _pt_eta_phi(px[idx], py[idx], pz[idx])
    a = aid[idx]
    mq, bq = (a // 100) % 10, (a // 1000) % 10
    is_b = heavy[idx] & ((mq == 5) | (bq == 5))
    is_c = heavy[idx] & ~is_b
    hard = pt_i > C.BTAG_HADRON_PT_MIN_GEV
    hard_final = np.isin(idx, cur)

    def pick(mask: np.ndarray) -> Objects:
        return Objects.build(n, ev[idx][mask], pt_i[mask], eta_i[mask], phi_i[mask])

    return {
        "hard_photons": pick(hard_final),
        # prompt: final-state photons not from hadron decays or hadronisation (status < 80)
        "prompt_photons": pick(prompt[idx] & (pt_i > 1.0)),
        "b_hadrons": pick(is_b & hard),
        "c_hadrons": pick(is_c & hard),
        "mhat": ak.to_numpy(events.info.mHat).astype(np.float64),
    }


def simulate(events: Any, charge_of: dict[int, float], rng: np.random.Generator) -> Detector:
    """Run the detector model on a chunk of Pythia events (awkward ``nextBatch`` output)."""
    n = len(events)
    fs = flatten_final_state(events, charge_of)
    pt, eta, phi = _pt_eta_phi(fs["px"], fs["py"], fs["pz"])
    e = fs["e"]
    ev = fs["event"]
    aid = np.abs(fs["id"])
    charge = fs["charge"]
    abseta = np.abs(eta)

    invisible = np.isin(aid, _INVISIBLE)
    is_mu = aid == 13
    is_em = (aid == 22) | (aid == 11)
    is_had = ~(invisible | is_mu | is_em)

    # ---- tracker
    trk = (charge != 0) & (abseta < C.TRACK_ETA_MAX) & (pt > C.TRACK_PT_MIN_GEV)
    trk &= rng.random(len(pt)) < C.TRACK_EFFICIENCY
    tpt = pt[trk]
    tres = np.hypot(C.TRACK_RES_PT_COEF_PER_GEV * tpt, C.TRACK_RES_CONST)
    tpt = tpt * np.abs(1.0 + tres * rng.standard_normal(len(tpt)))
    tracks = Objects.build(n, ev[trk], tpt, eta[trk], phi[trk], np.sign(charge[trk]))

    # ---- muon system
    mu = is_mu & (abseta < C.MUON_ETA_MAX) & (pt > C.MUON_PT_MIN_GEV)
    mu &= rng.random(len(pt)) < C.MUON_EFFICIENCY
    mpt = pt[mu] * np.abs(1.0 + C.MUON_RES_PT * rng.standard_normal(int(mu.sum())))
    muons = Objects.build(n, ev[mu], mpt, eta[mu], phi[mu], np.sign(charge[mu]))

    # ---- calorimeters
    in_ecal = abseta < C.ECAL_ETA_MAX
    in_hcal = abseta < C.HCAL_ETA_MAX
    # EM particles in ECAL acceptance
    em = is_em & in_ecal & (e > 0)
    e_em = e[em] * (
        1
        + _resolution(e[em], C.ECAL_RES_STOCH_SQRT_GEV, C.ECAL_RES_CONST)
        * rng.standard_normal(int(em.sum()))
    )
    deposits = [
        _ecal_deposit(
            ev[em],
            np.maximum(e_em, 0.0),
            eta[em],
            phi[em],
            ((1 - C.EM_TAIL_FRACTION, C.EM_CORE_SIGMA), (C.EM_TAIL_FRACTION, C.EM_TAIL_SIGMA)),
        )
    ]
    # hadrons: fluctuating EM fraction in ECAL, the rest in HCAL; forward: all in HCAL
    had = is_had & in_hcal
    f_em = rng.beta(C.HAD_EM_FRACTION_BETA_A, C.HAD_EM_FRACTION_BETA_B, int(had.sum()))
    f_em = np.where(in_ecal[had], f_em, 0.0)
    eh = e[had]
    e_h_em = eh * f_em
    e_h_had = eh - e_h_em
    nh = len(eh)
    e_h_em = e_h_em * (
        1
        + _resolution(e_h_em, C.ECAL_RES_STOCH_SQRT_GEV, C.ECAL_RES_CONST) * rng.standard_normal(nh)
    )
    e_h_had = e_h_had * (
        1
        + _resolution(e_h_had, C.HCAL_RES_STOCH_SQRT_GEV, C.HCAL_RES_CONST)
        * rng.standard_normal(nh)
    )
    sel = f_em > 0
    deposits.append(
        _ecal_deposit(
            ev[had][sel],
            np.maximum(e_h_em[sel], 0.0),
            eta[had][sel],
            phi[had][sel],
            ((1.0, C.HAD_EM_SIGMA),),
        )
    )
    # forward EM particles (3.2 < |eta| < 4.9) go to the forward calorimeter (HCAL grid)
    fwd_em = is_em & ~in_ecal & in_hcal
    e_fwd = e[fwd_em] * (
        1
        + _resolution(e[fwd_em], C.HCAL_RES_STOCH_SQRT_GEV, C.HCAL_RES_CONST)
        * rng.standard_normal(int(fwd_em.sum()))
    )
    # muons: minimum-ionising deposits
    mu_cal = is_mu & in_ecal
    e_mu_ecal = np.minimum(C.MUON_MIP_ECAL_GEV, e[mu_cal])
    deposits.append(
        _ecal_deposit(ev[mu_cal], e_mu_ecal, eta[mu_cal], phi[mu_cal], ((1.0, C.EM_CORE_SIGMA),))
    )
    ecal = SparseGrid.from_deposits(
        n,
        C.ECAL_N_ETA,
        C.ECAL_N_PHI,
        np.concatenate([d[0] for d in deposits]),
        np.concatenate([d[1] for d in deposits]),
    )
    hcal = _hcal_deposit(
        n,
        np.concatenate([ev[had], ev[fwd_em], ev[mu_cal]]),
        np.maximum(
            np.concatenate([e_h_had, e_fwd, np.full(int(mu_cal.sum()), C.MUON_MIP_HCAL_GEV)]), 0.0
        ),
        np.concatenate([eta[had], eta[fwd_em], eta[mu_cal]]),
        np.concatenate([phi[had], phi[fwd_em], phi[mu_cal]]),
    )
    return Detector(
        n=n,
        ecal=ecal,
        hcal=hcal,
        towers=_towers(ecal, hcal),
        tracks=tracks,
        muons=muons,
        truth=_truth(events),
    )
