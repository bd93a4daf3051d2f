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
from scipy.special import ndtr, ndtri

from hepsift.generate import constants as C

__all__ = [
    "Detector",
    "Objects",
    "SparseGrid",
    "cell_normal",
    "conversion_probability",
    "ecal_cell_eta",
    "ecal_cell_phi",
    "em_profile_weta2",
    "em_response",
    "flatten_final_state",
    "hcal_cell_eta",
    "hcal_cell_phi",
    "mip_et",
    "simulate",
    "simulate_particles",
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
    #: per-cell noise: E_T sigma (GeV) per eta row, and the seed of the counter-based noise
    noise: np.ndarray | None = None
    noise_seed: int = 0

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
        """Cell values at (event, ieta, iphi) plus the cell noise (if the grid has noise);
        0 for empty cells without noise and for ieta outside the grid."""
        valid = (ie >= 0) & (ie < self.n_eta)
        iec = np.clip(ie, 0, self.n_eta - 1)
        key = (ev * self.n_eta + iec) * self.n_phi + ip % self.n_phi
        if len(self.keys) == 0:
            out = np.zeros(key.shape)
        else:
            pos = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            found = valid & (self.keys[pos] == key)
            out = np.where(found, self.values[pos], 0.0)
        if self.noise is not None:
            out = out + np.where(valid, self.noise[iec] * cell_normal(key, self.noise_seed), 0.0)
        return out


_MASK64 = (1 << 64) - 1


def cell_normal(keys: np.ndarray, seed: int) -> np.ndarray:
    """Standard normal numbers that are a fixed function of (integer key, seed): a splitmix64
    hash of the key mapped through the inverse normal CDF (counter-based, no state)."""
    s = np.uint64((int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & _MASK64)
    z = np.asarray(keys).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + s
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    u = ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return np.asarray(ndtri(u))


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
    #: median pile-up + underlying-event E_T density per event (GeV per unit eta-phi area)
    rho: np.ndarray | None = None
    #: per event: vector sum (x, y) of the pile-up tower E_T (GeV), shape (n, 2)
    pileup_sum: np.ndarray | None = None
    #: final-state photons above 1 GeV in the ECAL and their ATLAS convType (0 unconverted)
    photons: Objects | None = None
    conv_type: np.ndarray | None = None


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


def _gauss_fractions(
    u: np.ndarray, cell: float, sigma: float | np.ndarray, half: int
) -> np.ndarray:
    """Fractions of a Gaussian (centred at fractional position u in [0, 1) of the impact cell)
    falling in the cells at offsets -half..half; shape (n, 2 * half + 1)."""
    k = np.arange(-half, half + 2, dtype=np.float64)
    scale = cell / np.asarray(sigma, dtype=np.float64)
    edges = (k[None, :] - u[:, None]) * (scale[:, None] if scale.ndim else scale)
    cdf = ndtr(edges)
    return np.diff(cdf, axis=1)


def _lateral_kernel(
    u_eta: np.ndarray,
    u_phi: np.ndarray,
    components: tuple[tuple[float, float], ...],
    width: np.ndarray | None = None,
) -> np.ndarray:
    """5 x 5 energy-sharing kernel per deposit, normalised to 1; components = (weight, sigma),
    sigmas scaled per deposit by ``width`` (shower-to-shower fluctuation; default 1)."""
    h = C.CLUSTER_HALF_ETA_CELLS
    kern = np.zeros((len(u_eta), 2 * h + 1, 2 * h + 1))
    for weight, sigma in components:
        sig = sigma if width is None else sigma * width
        fe = _gauss_fractions(u_eta, C.ECAL_CELL_ETA, sig, h)
        fp = _gauss_fractions(u_phi, ECAL_DPHI, sig, h)
        kern += weight * fe[:, :, None] * fp[:, None, :]
    kern /= kern.sum(axis=(1, 2), keepdims=True)
    return kern


def em_profile_weta2(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For an ideal EM shower (noise-free, at eta ~ 0) hitting a cell at fractional position
    ``u`` in [0, 1) in eta: the energy-weighted eta barycentre of the 3 x 3 core (offset from
    the cell centre, in cells) and weta2 in 3 x 5 cells, as the reconstruction computes them."""
    u = np.asarray(u, dtype=np.float64)
    comps = ((1 - C.EM_TAIL_FRACTION, C.EM_CORE_SIGMA), (C.EM_TAIL_FRACTION, C.EM_TAIL_SIGMA))
    kern = _lateral_kernel(u, np.full(len(u), 0.5), comps)
    h = C.CLUSTER_HALF_ETA_CELLS
    off = np.arange(-1, 2, dtype=np.float64)
    core = kern[:, h - 1 : h + 2, h - 1 : h + 2].sum(axis=2)
    bary = np.sum(core * off, axis=1) / core.sum(axis=1)
    w = kern[:, h - 1 : h + 2, :].sum(axis=2)
    x = off * C.ECAL_CELL_ETA
    mean = np.sum(w * x, axis=1) / w.sum(axis=1)
    weta2 = np.sqrt(np.maximum(np.sum(w * x**2, axis=1) / w.sum(axis=1) - mean**2, 0.0))
    return bary, weta2


def _resolution(e: np.ndarray, stoch: float | np.ndarray, const: float) -> np.ndarray:
    return np.asarray(np.sqrt((stoch / np.sqrt(np.maximum(e, 1e-6))) ** 2 + const**2))


def _ecal_deposit(
    event: np.ndarray,
    energy: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    components: tuple[tuple[float, float], ...],
    width: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Share energies (GeV) over ECAL cells: 5 x 5 lateral profile for deposits above
    EM_SPREAD_E_MIN_GEV (widths scaled per deposit by ``width``), a single cell below.
    Returns flat cell indices and their E_T."""
    x = (eta + C.ECAL_ETA_MAX) / C.ECAL_CELL_ETA
    ie = np.floor(x).astype(np.int64)
    y = (phi + np.pi) / ECAL_DPHI
    ip = np.floor(y).astype(np.int64) % C.ECAL_N_PHI
    soft = energy < C.EM_SPREAD_E_MIN_GEV
    flat_soft = (event[soft] * C.ECAL_N_ETA + ie[soft]) * C.ECAL_N_PHI + ip[soft]
    et_soft = energy[soft] / np.cosh(ecal_cell_eta(ie[soft]))
    hard = ~soft
    ie, ip, x, y = ie[hard], ip[hard], x[hard], y[hard]
    wid = None if width is None else width[hard]
    kern = _lateral_kernel(x - ie, y - np.floor(y), components, wid)
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


def mip_et(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E_T (GeV) of a muon's minimum-ionising deposits in its ECAL cell and in its HCAL cell
    (0 outside the ECAL acceptance, where no MIP deposit is simulated)."""
    eta = np.asarray(eta, dtype=np.float64)
    inside = np.abs(eta) < C.ECAL_ETA_MAX
    ie_e = np.floor((eta + C.ECAL_ETA_MAX) / C.ECAL_CELL_ETA)
    ie_h = np.floor((eta + C.HCAL_ETA_MAX) / C.HCAL_CELL_ETA)
    return (
        np.where(inside, C.MUON_MIP_ECAL_GEV / np.cosh(ecal_cell_eta(ie_e)), 0.0),
        np.where(inside, C.MUON_MIP_HCAL_GEV / np.cosh(hcal_cell_eta(ie_h)), 0.0),
    )


def _tower_index(eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ie = np.floor((eta + C.HCAL_ETA_MAX) / C.HCAL_CELL_ETA).astype(np.int64)
    ip = np.floor((phi + np.pi) / HCAL_DPHI).astype(np.int64) % C.HCAL_N_PHI
    return ie, ip


def _ecal_single(
    event: np.ndarray, energy: np.ndarray, eta: np.ndarray, phi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Energies (GeV) deposited in single ECAL cells: flat cell indices and cell E_T."""
    ie = np.floor((eta + C.ECAL_ETA_MAX) / C.ECAL_CELL_ETA).astype(np.int64)
    ip = np.floor((phi + np.pi) / ECAL_DPHI).astype(np.int64) % C.ECAL_N_PHI
    flat = (event * C.ECAL_N_ETA + ie) * C.ECAL_N_PHI + ip
    return flat, energy / np.cosh(ecal_cell_eta(ie))


def conversion_probability(eta: np.ndarray) -> np.ndarray:
    """Probability that a photon converts in the material before the ECAL (rises with |eta|)."""
    x = np.abs(np.asarray(eta, dtype=np.float64)) / C.CONV_ETA_REF
    return np.asarray(np.minimum(C.CONV_PROB_MAX, C.CONV_PROB_CENTRAL + C.CONV_PROB_SLOPE * x**2))


def _conversions(eta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ATLAS convType (0 unconverted, 1-5 converted) of photons at ``eta``."""
    conv = rng.random(len(eta)) < conversion_probability(eta)
    frac = np.asarray(C.CONV_TYPE_FRACTIONS, dtype=np.float64)
    kind = rng.choice(np.arange(1, len(frac) + 1), size=len(eta), p=frac / frac.sum())
    return np.where(conv, kind, 0).astype(np.int32)


def em_response(e: np.ndarray, conv_type: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Measured energy (GeV) of electromagnetic showers of true energy ``e``: Gaussian
    sigma(E)/E = a/sqrt(E) (+) b with a wider tail for a fraction of deposits; converted photons
    (conv_type > 0) have a larger stochastic term and lose energy upstream (exponential loss,
    median restored by the calibration), which gives the low-side tail."""
    conv = np.asarray(conv_type) > 0
    stoch = C.ECAL_RES_STOCH_SQRT_GEV * np.where(conv, C.CONV_STOCH_FACTOR, 1.0)
    res = _resolution(e, stoch, C.ECAL_RES_CONST)
    res = res * np.where(
        rng.random(len(e)) < C.EM_TAIL_RESPONSE_FRACTION, C.EM_TAIL_RESPONSE_FACTOR, 1.0
    )
    out = e * (1.0 + res * rng.standard_normal(len(e)))
    loss = np.minimum(rng.exponential(C.CONV_LOSS_MEAN, len(e)), 1.0)
    scale = (1.0 - loss) / (1.0 - C.CONV_LOSS_MEAN * np.log(2.0))
    return np.asarray(np.where(conv, out * scale, out))


def _pileup(n: int, rng: np.random.Generator, mu: float) -> dict[str, np.ndarray]:
    """Soft pile-up deposits of n events: Poisson(mu) interactions per event, each adding
    exponential-E_T deposits uniform in (eta, phi) with the density of the constants."""
    per_interaction = (
        C.PILEUP_ET_DENSITY_PER_INTERACTION_GEV
        * C.TWO_PI
        * 2.0
        * C.HCAL_ETA_MAX
        / C.PILEUP_DEPOSIT_ET_MEAN_GEV
    )
    n_int = rng.poisson(mu, n) if mu > 0 else np.zeros(n, dtype=np.int64)
    n_dep = rng.poisson(n_int * per_interaction)
    m = int(n_dep.sum())
    et = rng.exponential(C.PILEUP_DEPOSIT_ET_MEAN_GEV, m)
    eta = rng.uniform(-C.HCAL_ETA_MAX, C.HCAL_ETA_MAX, m)
    return {
        "event": np.repeat(np.arange(n, dtype=np.int64), n_dep),
        "et": et,
        "eta": eta,
        "phi": rng.uniform(-np.pi, np.pi, m),
        "em": rng.random(m) < C.PILEUP_EM_FRACTION,
        "n_interactions": n_int,
    }


def _rho(towers: SparseGrid) -> np.ndarray:
    """Median E_T density (GeV per unit area) per event over patches of towers in
    |eta| < RHO_ETA_MAX (empty patches count as 0)."""
    p = C.RHO_PATCH_TOWERS
    ie0 = round((C.HCAL_ETA_MAX - C.RHO_ETA_MAX) / C.HCAL_CELL_ETA)
    n_pe = round(2 * C.RHO_ETA_MAX / C.HCAL_CELL_ETA) // p
    n_pp = C.HCAL_N_PHI // p
    ev, ie, ip = towers.decode()
    pe = (ie - ie0) // p
    inside = (ie >= ie0) & (pe < n_pe)
    flat = (ev * n_pe + pe) * n_pp + ip // p
    sums = np.bincount(
        flat[inside], weights=towers.values[inside], minlength=towers.n * n_pe * n_pp
    ).reshape(towers.n, n_pe * n_pp)
    return np.asarray(np.median(sums, axis=1) / (p * C.HCAL_CELL_ETA * p * HCAL_DPHI))


def simulate(
    events: Any,
    charge_of: dict[int, float],
    rng: np.random.Generator,
    pileup_mu: float = C.PILEUP_MU_MEAN,
) -> Detector:
    """Run the detector model on a chunk of Pythia events (awkward ``nextBatch`` output)."""
    fs = flatten_final_state(events, charge_of)
    return simulate_particles(len(events), fs, rng, truth=_truth(events), pileup_mu=pileup_mu)


def _track_and_muons(
    n: int, fs: dict[str, np.ndarray], kin: tuple[np.ndarray, ...], rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], Objects]:
    """Reconstructed tracks (flat arrays, not yet merged with pile-up) and muons."""
    pt, eta, phi = kin
    ev, charge = fs["event"], fs["charge"]
    abseta = np.abs(eta)
    trk = (charge != 0) & (abseta < C.TRACK_ETA_MAX) & (pt > C.TRACK_PT_MIN_GEV)
    trk &= rng.random(len(pt)) < C.TRACK_EFFICIENCY
    tpt = pt[trk]
    tres = np.hypot(C.TRACK_RES_PT_COEF_PER_GEV * tpt, C.TRACK_RES_CONST)
    tpt = tpt * np.abs(1.0 + tres * rng.standard_normal(len(tpt)))
    tracks = {
        "event": ev[trk],
        "pt": tpt,
        "eta": eta[trk],
        "phi": phi[trk],
        "charge": np.sign(charge[trk]),
    }
    is_mu = np.abs(fs["id"]) == 13
    mu = is_mu & (abseta < C.MUON_ETA_MAX) & (pt > C.MUON_PT_MIN_GEV)
    mu &= rng.random(len(pt)) < C.MUON_EFFICIENCY
    mpt = pt[mu] * np.abs(1.0 + C.MUON_RES_PT * rng.standard_normal(int(mu.sum())))
    muons = Objects.build(n, ev[mu], mpt, eta[mu], phi[mu], np.sign(charge[mu]))
    return tracks, muons


def _smear(e: np.ndarray, stoch: float, const: float, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(e * (1 + _resolution(e, stoch, const) * rng.standard_normal(len(e))))


def _hadron_deposits(
    fs: dict[str, np.ndarray],
    kin: tuple[np.ndarray, ...],
    had: np.ndarray,
    rng: np.random.Generator,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]:
    """Hadrons: fluctuating EM fraction in ECAL (spread), the rest in HCAL; forward: all HCAL.
    Returns the ECAL deposits (flat, E_T) and the HCAL deposits (event, E, eta, phi)."""
    _, eta, phi = kin
    ev = fs["event"]
    f_em = rng.beta(C.HAD_EM_FRACTION_BETA_A, C.HAD_EM_FRACTION_BETA_B, int(had.sum()))
    f_em = np.where(np.abs(eta[had]) < C.ECAL_ETA_MAX, f_em, 0.0)
    eh = fs["e"][had]
    e_h_em = _smear(eh * f_em, C.ECAL_RES_STOCH_SQRT_GEV, C.ECAL_RES_CONST, rng)
    e_h_had = _smear(eh * (1 - f_em), C.HCAL_RES_STOCH_SQRT_GEV, C.HCAL_RES_CONST, rng)
    sel = f_em > 0
    ecal = _ecal_deposit(
        ev[had][sel],
        np.maximum(e_h_em[sel], 0.0),
        eta[had][sel],
        phi[had][sel],
        ((1.0, C.HAD_EM_SIGMA),),
    )
    return ecal, (ev[had], e_h_had, eta[had], phi[had])


def simulate_particles(
    n: int,
    fs: dict[str, np.ndarray],
    rng: np.random.Generator,
    *,
    truth: dict[str, Any] | None = None,
    pileup_mu: float = C.PILEUP_MU_MEAN,
) -> Detector:
    """Detector response of ``n`` events from flat final-state particles ``fs`` (arrays
    ``event`` (sorted), ``id``, ``px``, ``py``, ``pz``, ``e`` (GeV), ``charge``), with
    Poisson(``pileup_mu``) pile-up interactions per event (0: none)."""
    kin = _pt_eta_phi(fs["px"], fs["py"], fs["pz"])
    _, eta, phi = kin
    e, ev, aid = fs["e"], fs["event"], np.abs(fs["id"])
    in_ecal = np.abs(eta) < C.ECAL_ETA_MAX
    in_hcal = np.abs(eta) < C.HCAL_ETA_MAX
    invisible = np.isin(aid, _INVISIBLE)
    is_mu = aid == 13
    is_em = (aid == 22) | (aid == 11)
    tracks, muons = _track_and_muons(n, fs, kin, rng)

    # ---- EM showers (photons may convert upstream)
    em = is_em & in_ecal & (e > 0)
    conv = np.where(aid[em] == 22, _conversions(eta[em], rng), 0).astype(np.int32)
    e_em = em_response(e[em], conv, rng)
    em_shape = ((1 - C.EM_TAIL_FRACTION, C.EM_CORE_SIGMA), (C.EM_TAIL_FRACTION, C.EM_TAIL_SIGMA))
    width = np.exp(C.EM_WIDTH_SPREAD * rng.standard_normal(len(e_em)))
    deposits = [_ecal_deposit(ev[em], np.maximum(e_em, 0.0), eta[em], phi[em], em_shape, width)]
    is_ph = (aid[em] == 22) & (kin[0][em] > 1.0)
    photons = Objects.build(n, ev[em][is_ph], kin[0][em][is_ph], eta[em][is_ph], phi[em][is_ph])

    had = ~(invisible | is_mu | is_em) & in_hcal
    had_ecal, had_hcal = _hadron_deposits(fs, kin, had, rng)
    deposits.append(had_ecal)
    # forward EM particles (3.2 < |eta| < 4.9) go to the forward calorimeter (HCAL grid)
    fwd = is_em & ~in_ecal & in_hcal
    e_fwd = _smear(e[fwd], C.HCAL_RES_STOCH_SQRT_GEV, C.HCAL_RES_CONST, rng)
    # muons: minimum-ionising deposits
    mu_cal = is_mu & in_ecal
    deposits.append(
        _ecal_single(
            ev[mu_cal], np.minimum(C.MUON_MIP_ECAL_GEV, e[mu_cal]), eta[mu_cal], phi[mu_cal]
        )
    )
    # pile-up: EM part in ECAL cells (forward: HCAL grid), hadronic part in HCAL
    pu = _pileup(n, rng, pileup_mu)
    pu_e = pu["et"] * np.cosh(pu["eta"])
    pu_ecal = pu["em"] & (np.abs(pu["eta"]) < C.ECAL_ETA_MAX)
    deposits.append(
        _ecal_single(pu["event"][pu_ecal], pu_e[pu_ecal], pu["eta"][pu_ecal], pu["phi"][pu_ecal])
    )
    pu_hcal = ~pu_ecal
    h_ev, h_e, h_eta, h_phi = (
        np.concatenate(x)
        for x in zip(
            had_hcal,
            (ev[fwd], e_fwd, eta[fwd], phi[fwd]),
            (ev[mu_cal], np.full(int(mu_cal.sum()), C.MUON_MIP_HCAL_GEV), eta[mu_cal], phi[mu_cal]),
            (pu["event"][pu_hcal], pu_e[pu_hcal], pu["eta"][pu_hcal], pu["phi"][pu_hcal]),
            strict=True,
        )
    )
    ecal = SparseGrid.from_deposits(
        n,
        C.ECAL_N_ETA,
        C.ECAL_N_PHI,
        np.concatenate([d[0] for d in deposits]),
        np.concatenate([d[1] for d in deposits]),
    )
    ecal.noise = C.ECAL_CELL_NOISE_GEV / np.cosh(ecal_cell_eta(np.arange(C.ECAL_N_ETA)))
    ecal.noise_seed = int(rng.integers(0, 2**62))
    hcal = _hcal_deposit(n, h_ev, np.maximum(h_e, 0.0), h_eta, h_phi)
    hcal.noise = C.HCAL_CELL_NOISE_GEV / np.cosh(hcal_cell_eta(np.arange(C.HCAL_N_ETA)))
    hcal.noise_seed = int(rng.integers(0, 2**62))
    towers = _towers(ecal, hcal)
    return Detector(
        n=n,
        ecal=ecal,
        hcal=hcal,
        towers=towers,
        tracks=_with_pileup_tracks(n, tracks, pu["n_interactions"], rng),
        muons=muons,
        truth=truth if truth is not None else {},
        rho=_rho(towers),
        pileup_sum=_pileup_sum(n, pu, pu_ecal, pu_e),
        photons=photons,
        conv_type=conv[is_ph],
    )


def _with_pileup_tracks(
    n: int, tracks: dict[str, np.ndarray], n_int: np.ndarray, rng: np.random.Generator
) -> Objects:
    """Tracks of the hard scatter plus the pile-up tracks that pass the vertex (z0) cut:
    Poisson(n_interactions x density x area x leak) per event, pT = TRACK_PT_MIN + exponential."""
    area = C.TWO_PI * 2.0 * C.TRACK_ETA_MAX
    mean = n_int * C.PILEUP_TRACK_DENSITY * area * C.PILEUP_TRACK_LEAK_PROBABILITY
    k = rng.poisson(mean)
    m = int(k.sum())
    ev = np.concatenate([tracks["event"], np.repeat(np.arange(n, dtype=np.int64), k)])
    o = np.argsort(ev, kind="stable")
    cat = {
        "pt": np.concatenate(
            [tracks["pt"], C.TRACK_PT_MIN_GEV + rng.exponential(C.PILEUP_TRACK_PT_MEAN_GEV, m)]
        ),
        "eta": np.concatenate([tracks["eta"], rng.uniform(-C.TRACK_ETA_MAX, C.TRACK_ETA_MAX, m)]),
        "phi": np.concatenate([tracks["phi"], rng.uniform(-np.pi, np.pi, m)]),
        "charge": np.concatenate([tracks["charge"], rng.choice([-1.0, 1.0], m)]),
    }
    return Objects.build(n, ev[o], cat["pt"][o], cat["eta"][o], cat["phi"][o], cat["charge"][o])


def _pileup_sum(
    n: int, pu: dict[str, np.ndarray], in_ecal: np.ndarray, energy: np.ndarray
) -> np.ndarray:
    """Vector sum (x, y) per event of the pile-up E_T as the towers see it (cell E_T at the
    tower's phi centre), so that MET can leave pile-up out exactly."""
    ie_e = np.floor((pu["eta"] + C.ECAL_ETA_MAX) / C.ECAL_CELL_ETA)
    et_cell = np.where(
        in_ecal,
        energy / np.cosh(ecal_cell_eta(ie_e)),
        energy / np.cosh(hcal_cell_eta(_tower_index(pu["eta"], pu["phi"])[0])),
    )
    phi_t = hcal_cell_phi(_tower_index(pu["eta"], pu["phi"])[1])
    return np.stack(
        [
            np.bincount(pu["event"], weights=et_cell * np.cos(phi_t), minlength=n),
            np.bincount(pu["event"], weights=et_cell * np.sin(phi_t), minlength=n),
        ],
        axis=1,
    )
