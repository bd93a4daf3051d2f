"""Parton-level simplified models of the ``multijet-bsm`` scenario, written as Les Houches event
files for Pythia 8 to shower and hadronise (``Beams:frameType = 4``).

Pythia 8 has neither process, so hepsift builds the hard final states itself:

* **sphaleron** -- a B+L-violating transition (Delta N_CS = -1) through the 't Hooft vertex,
  q q -> 7 antiquarks + 3 antileptons (one per generation: e+, mu+, tau+), as in the
  Ellis-Sakurai benchmark u u -> e+ mu+ tau+ tbar tbar bbar cbar cbar sbar dbar
  (J. Ellis, K. Sakurai, arXiv:1601.03654) and the BaryoGEN generator (G. Brooijmans,
  P. Schichtel, M. Spannowsky, arXiv:1602.00647). The two incoming quarks (u u, u d or d d,
  weighted 4:4:1 like the valence content at high x) are two of the vertex's nine quark legs;
  the other seven are antiquarks, one of generation 1 and three of generations 2 and 3, each
  the up- or down-type member of its doublet, drawn uniformly among the assignments that
  conserve electric charge. Phase space is flat (isotropic) n-body, RAMBO (Kleiss, Stirling,
  Ellis 1986) with the massive rescaling (top quarks at their mass, decayed by Pythia).
* **black-hole** -- a microscopic black hole with n = 4 extra dimensions and fundamental scale
  M_D (PDG convention), evaporating thermally in its rest frame (a simplified
  CHARYBDIS/BlackMax model: C. Harris, P. Richardson, B. Webber, hep-ph/0307305; D.-C. Dai et
  al., arXiv:0711.3012): horizon radius r_h = [8 Gamma((n+3)/2) M / ((n+2) M_D)]^(1/(n+1)) /
  (sqrt(pi) M_D), Hawking temperature T_H = (n+1) / (4 pi r_h), recomputed after every
  emission as the mass drops. Species are drawn by Standard Model degrees of freedom (quarks
  72, gluons 16, charged leptons 12, neutrinos 6, photon 2, Z 3, W 6, Higgs 1; fermions x 3/4
  for their thermal flux), energies from the Planck (bosons) or Fermi-Dirac (fermions)
  spectrum E^2 / (exp(E/T) -+ 1) (greybody factors are ignored), directions isotropic. Every
  charged or coloured emission owes its conjugate, emitted at a later step (probability 1/2 per
  step), so charge, colour triality, baryon and lepton numbers are conserved. When the mass
  would drop below M_D the remnant decays isotropically into what is still owed (at least two
  bodies: two neutral bosons when nothing is owed).

Both are produced by two incoming partons at x1, x2 from sqrt(s-hat) = M drawn from
M_min + an exponential (a steep parton-luminosity-like fall-off, capped at M_max) and a
system rapidity flat in its kinematic range. The cross sections written to the LHE header are
nominal (:data:`NOMINAL_XSEC_PB`): these are simplified models for classification studies, not
predictions; every event has weight 1.

Colour flow: the black hole's coloured partons form colour strings (one per quark-antiquark
pair, gluons and the two incoming gluons spread over them; a closed gluon loop when there are
no quarks). The sphaleron's 't Hooft vertex joins the three antiquarks of each generation
antisymmetrically in colour (an antijunction each); Pythia identifies at most one junction per
vertex, so the generation-2 and -3 antiquark triplets are written as decay products of two
colourless intermediate lines (PDG id :data:`CARRIER_ID`, mass = the triplet's invariant mass,
status 2), and generation 1's antijunction joins the two incoming quarks and its antiquark.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hepsift.generate import constants as C

if TYPE_CHECKING:
    from hepsift.generate.detector import Detector, SparseGrid

__all__ = [
    "BH_MD_GEV",
    "BH_N_EXTRA_DIMS",
    "MODELS",
    "NOMINAL_XSEC_PB",
    "PartonEvent",
    "black_hole_events",
    "chunk_rows",
    "hawking_temperature",
    "high_level",
    "high_level_columns",
    "leading",
    "lhef_settings",
    "lhef_text",
    "low_level",
    "low_level_columns",
    "model_description",
    "rambo",
    "sample_summary",
    "sphaleron_events",
    "sphericity",
    "table_columns",
    "table_layout",
    "thermal_energy",
    "write_lhef",
]

#: smallest sqrt(s-hat) (GeV) of both models (the sphaleron energy ~ 9 TeV)
SQRT_SHAT_MIN_GEV = 9000.0
#: exponential fall-off (GeV) of sqrt(s-hat) above the minimum (parton-luminosity-like)
SQRT_SHAT_SLOPE_GEV = 500.0
#: largest sqrt(s-hat) (GeV)
SQRT_SHAT_MAX_GEV = 12000.0
#: black hole: extra dimensions and fundamental Planck scale (PDG convention, GeV)
BH_N_EXTRA_DIMS = 4
BH_MD_GEV = 1000.0
#: the nominal cross section (pb) written for every simplified model (not a prediction)
NOMINAL_XSEC_PB = 1.0e-3
#: PDG id of the colourless intermediate lines carrying the sphaleron's generation-2 and -3
#: antiquark triplets (a known colourless resonance; its mass is set per event)
CARRIER_ID = 1000022
MODELS = ("sphaleron", "black-hole")

#: on-shell masses (GeV) as in Pythia 8.3's particle table; u, d, s massless in the LHE
MASS = {1: 0.0, 2: 0.0, 3: 0.0, 4: 1.5, 5: 4.8, 6: 173.0, 11: 0.000511, 12: 0.0, 13: 0.10566}
MASS |= {14: 0.0, 15: 1.77682, 16: 0.0, 21: 0.0, 22: 0.0, 23: 91.1876, 24: 80.385, 25: 125.0}
_CHARGE3 = {1: -1, 2: 2, 3: -1, 4: 2, 5: -1, 6: 2, 11: -3, 13: -3, 15: -3, 24: 3}


@dataclass
class PartonEvent:
    """One Les Houches event: rows of (id, status, mother1, mother2, col, acol, px, py, pz, E,
    m); mothers are 1-based row numbers as in the LHEF."""

    rows: list[tuple[int, int, int, int, int, int, float, float, float, float, float]] = field(
        default_factory=list
    )
    scale: float = 1000.0

    def add(
        self, pid: int, status: int, mothers: tuple[int, int], cols: tuple[int, int], p: np.ndarray
    ) -> int:
        m = MASS.get(abs(pid), 0.0)
        if status == 2 or abs(pid) == CARRIER_ID:
            m = float(np.sqrt(max(p[3] ** 2 - p[0] ** 2 - p[1] ** 2 - p[2] ** 2, 0.0)))
        px, py, pz, e = (float(v) for v in p[:4])
        self.rows.append((pid, status, *mothers, *cols, px, py, pz, e, m))
        return len(self.rows)


def _sqrt_shat(n: int, rng: np.random.Generator) -> np.ndarray:
    span = min(SQRT_SHAT_MAX_GEV, 0.98 * C.ECM_GEV) - SQRT_SHAT_MIN_GEV
    # truncated exponential by inversion
    u = rng.random(n)
    cut = 1.0 - math.exp(-span / SQRT_SHAT_SLOPE_GEV)
    return np.asarray(SQRT_SHAT_MIN_GEV - SQRT_SHAT_SLOPE_GEV * np.log1p(-u * cut))


def _incoming(m: float, rng: np.random.Generator) -> tuple[float, float, float]:
    """(x1, x2, y) of a system of mass ``m`` with rapidity flat in its kinematic range."""
    tau = m / C.ECM_GEV
    y_max = -math.log(tau)
    y = float(rng.uniform(-y_max, y_max)) * 0.999
    return tau * math.exp(y), tau * math.exp(-y), y


def _boost_z(p: np.ndarray, y: float) -> np.ndarray:
    """Longitudinal boost of (..., 4) momenta (px, py, pz, E) by rapidity ``y``."""
    ch, sh = math.cosh(y), math.sinh(y)
    out = p.copy()
    out[..., 2] = ch * p[..., 2] + sh * p[..., 3]
    out[..., 3] = sh * p[..., 2] + ch * p[..., 3]
    return out


def _boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost momenta (..., 4) by velocity ``beta`` (3,)."""
    b2 = float(beta @ beta)
    if b2 <= 0:
        return p.copy()
    g = 1.0 / math.sqrt(1.0 - b2)
    bp = p[..., :3] @ beta
    out = np.empty_like(p)
    out[..., :3] = p[..., :3] + ((g - 1.0) * bp / b2 + g * p[..., 3])[..., None] * beta
    out[..., 3] = g * (p[..., 3] + bp)
    return out


def rambo(masses: Sequence[float], energy: float, rng: np.random.Generator) -> np.ndarray:
    """Flat n-body phase space (RAMBO) in the rest frame of total energy ``energy``:
    (n, 4) momenta (px, py, pz, E) with the given masses (massless generation, then the
    momenta rescaled so the energies of the massive particles add up)."""
    k = len(masses)
    cos_t = 2 * rng.random(k) - 1
    phi = 2 * np.pi * rng.random(k)
    e = -np.log(rng.random(k) * rng.random(k))
    sin_t = np.sqrt(1 - cos_t**2)
    q = np.stack([e * sin_t * np.cos(phi), e * sin_t * np.sin(phi), e * cos_t, e], axis=1)
    tot = q.sum(axis=0)
    m_q = math.sqrt(max(tot[3] ** 2 - tot[:3] @ tot[:3], 1e-300))
    b = -tot[:3] / m_q
    gamma = tot[3] / m_q
    a = 1.0 / (1.0 + gamma)
    x = energy / m_q
    bq = q[:, :3] @ b
    p = np.empty_like(q)
    p[:, :3] = x * (q[:, :3] + b[None, :] * (q[:, 3:4] + a * bq[:, None]))
    p[:, 3] = x * (gamma * q[:, 3] + bq)
    m = np.asarray(masses, dtype=np.float64)
    if np.any(m > 0):
        p = _massive(p, m, energy)
    return p


def _massive(p: np.ndarray, m: np.ndarray, energy: float) -> np.ndarray:
    """Rescale massless momenta ``p`` (total energy ``energy``, zero momentum) to masses ``m``."""
    pabs2 = np.sum(p[:, :3] ** 2, axis=1)
    xi = math.sqrt(max(1.0 - (m.sum() / energy) ** 2, 1e-12))
    for _ in range(50):
        e = np.sqrt(m**2 + xi**2 * pabs2)
        f = e.sum() - energy
        if abs(f) < 1e-9 * energy:
            break
        xi -= f / float(np.sum(xi * pabs2 / e))
    out = np.empty_like(p)
    out[:, :3] = xi * p[:, :3]
    out[:, 3] = np.sqrt(m**2 + xi**2 * pabs2)
    return out


# ------------------------------------------------------------------------------- sphaleron

#: (up-type, down-type) quark of each generation
_DOUBLETS = ((2, 1), (4, 3), (6, 5))
_LEPTONS = (-11, -13, -15)


def _sphaleron_flavours(q_in: tuple[int, int], rng: np.random.Generator) -> list[int]:
    """The seven antiquarks (PDG ids, generation 1 first, then 3 of generation 2 and 3 of
    generation 3) conserving charge with incoming quarks ``q_in`` and three antileptons."""
    q3_in = sum(_CHARGE3[q] for q in q_in)  # 3 x charge
    # 3 Q_in = 9 (antileptons) + sum over antiquarks: -2 per up-type, +1 per down-type
    n_up = (7 + 9 - q3_in) // 3
    up = np.zeros(7, dtype=bool)
    up[rng.permutation(7)[:n_up]] = True
    gens = (0, 1, 1, 1, 2, 2, 2)
    return [-_DOUBLETS[g][0] if u else -_DOUBLETS[g][1] for g, u in zip(gens, up, strict=True)]


def _sphaleron_event(m: float, rng: np.random.Generator) -> PartonEvent:
    x1, x2, y = _incoming(m, rng)
    pair = rng.choice(3, p=[4 / 9, 4 / 9, 1 / 9])
    q_in = ((2, 2), (2, 1), (1, 1))[pair]
    if rng.random() < 0.5:
        q_in = (q_in[1], q_in[0])
    anti = _sphaleron_flavours(q_in, rng)
    ids = [*anti, *_LEPTONS]
    p = _boost_z(rambo([MASS[abs(i)] for i in ids], m, rng), y)
    ev = PartonEvent()
    e_beam = C.ECM_GEV / 2
    ev.add(q_in[0], -1, (0, 0), (501, 0), np.array([0, 0, x1 * e_beam, x1 * e_beam]))
    ev.add(q_in[1], -1, (0, 0), (502, 0), np.array([0, 0, -x2 * e_beam, x2 * e_beam]))
    ev.add(ids[0], 1, (1, 2), (0, 503), p[0])
    for k in range(3):
        ev.add(ids[7 + k], 1, (1, 2), (0, 0), p[7 + k])
    for g, first in ((1, 1), (2, 4)):
        trip = p[first : first + 3]
        carrier = ev.add(CARRIER_ID, 2, (1, 2), (0, 0), trip.sum(axis=0))
        for j in range(3):
            ev.add(ids[first + j], 1, (carrier, carrier), (0, 504 + 3 * (g - 1) + j), trip[j])
    pts = np.hypot(p[:7, 0], p[:7, 1])
    ev.scale = float(np.median(pts))
    return ev


def sphaleron_events(n: int, rng: np.random.Generator) -> list[PartonEvent]:
    """``n`` sphaleron parton-level events (see the module docstring)."""
    return [_sphaleron_event(float(m), rng) for m in _sqrt_shat(n, rng)]


# ------------------------------------------------------------------------------- black hole

#: (class, degrees of freedom, spin statistics: +1 boson, -1 fermion)
_BH_CLASSES = (
    ("q", 72, -1),
    ("g", 16, 1),
    ("l", 12, -1),
    ("nu", 6, -1),
    ("gamma", 2, 1),
    ("Z", 3, 1),
    ("W", 6, 1),
    ("H", 1, 1),
)
_BH_WEIGHTS = np.array([d * (0.75 if s < 0 else 1.0) for _, d, s in _BH_CLASSES])
_BH_WEIGHTS = _BH_WEIGHTS / _BH_WEIGHTS.sum()
_NEUTRAL_BOSONS = (21, 22, 23, 25)


def hawking_temperature(
    mass_gev: float | np.ndarray, md_gev: float | None = None, n_extra: int = BH_N_EXTRA_DIMS
) -> np.ndarray:
    """T_H = (n+1) / (4 pi r_h) (GeV) of a non-rotating black hole of mass ``mass_gev`` with
    ``n_extra`` extra dimensions and fundamental scale ``md_gev`` (PDG convention)."""
    n = n_extra
    md_gev = BH_MD_GEV if md_gev is None else md_gev
    core = 8 * math.gamma((n + 3) / 2) / (n + 2) * np.asarray(mass_gev) / md_gev
    r_h = core ** (1.0 / (n + 1)) / (math.sqrt(math.pi) * md_gev)
    return np.asarray((n + 1) / (4 * math.pi * r_h))


def thermal_energy(t: float, stat: int, rng: np.random.Generator) -> float:
    """E from E^2 / (exp(E/T) - stat) (massless Planck / Fermi-Dirac spectrum)."""
    if stat > 0:  # Bose: sum_k E^2 exp(-k E/T); k with weight 1/k^3
        k = np.arange(1, 40)
        w = 1.0 / k**3
        kk = int(rng.choice(k, p=w / w.sum()))
        return float(rng.gamma(3.0, t / kk))
    while True:  # Fermi: Gamma(3) E^2 exp(-E/T), accepted with 1 / (1 + exp(-E/T))
        e = float(rng.gamma(3.0, t))
        if rng.random() < 1.0 / (1.0 + math.exp(-e / t)):
            return e


def _conjugate(pid: int) -> int:
    return pid if pid in _NEUTRAL_BOSONS else -pid


def _draw_species(rng: np.random.Generator) -> tuple[int, int]:
    """(PDG id, statistics) of one emission, by degrees of freedom."""
    cls, _, stat = _BH_CLASSES[int(rng.choice(len(_BH_CLASSES), p=_BH_WEIGHTS))]
    sign = 1 if rng.random() < 0.5 else -1
    if cls == "q":
        return sign * int(rng.integers(1, 7)), stat
    if cls == "l":
        return sign * int(rng.choice([11, 13, 15])), stat
    if cls == "nu":
        return sign * int(rng.choice([12, 14, 16])), stat
    if cls == "W":
        return sign * 24, stat
    return {"g": 21, "gamma": 22, "Z": 23, "H": 25}[cls], stat


def _emission(m_bh: float, owed: list[int], rng: np.random.Generator) -> tuple[int, float] | None:
    """(id, energy in the hole's rest frame) of the next emission; None when the hole must
    decay (the emission would take its mass below M_D)."""
    t = float(hawking_temperature(m_bh))
    from_owed = bool(owed) and rng.random() < 0.5
    for _ in range(100):
        if from_owed:
            pid = owed[0]
            stat = 1 if abs(pid) in (21, 22, 23, 24, 25) else -1
        else:
            pid, stat = _draw_species(rng)
        mass = MASS[abs(pid)]
        e = thermal_energy(t, stat, rng)
        if e > mass:
            break
    else:
        return None
    m2_new = m_bh**2 - 2 * m_bh * e + mass**2
    if m2_new < BH_MD_GEV**2:
        return None
    return pid, e


def _remnant(owed: list[int], m_rem: float, rng: np.random.Generator) -> list[int]:
    """What the remnant decays into: what is owed, completed to >= 2 bodies by neutral
    bosons (by their degrees of freedom) that fit into its mass."""
    out = list(owed)
    while len(out) < 2:
        pid = int(rng.choice([21, 22], p=[16 / 18, 2 / 18]))
        out.append(pid)
    if sum(MASS[abs(i)] for i in out) >= m_rem:  # pragma: no cover - M_D >> masses
        out = [21, 21]
    return out


def _evaporate(m: float, rng: np.random.Generator) -> tuple[list[int], np.ndarray]:
    """Emitted ids and momenta (k, 4) in the black hole's initial rest frame."""
    ids: list[int] = []
    moms: list[np.ndarray] = []
    p_bh = np.array([0.0, 0.0, 0.0, m])
    owed: list[int] = []
    while True:
        m_bh = math.sqrt(max(p_bh[3] ** 2 - p_bh[:3] @ p_bh[:3], 0.0))
        nxt = _emission(m_bh, owed, rng)
        if nxt is None:
            break
        pid, e = nxt
        if owed and pid == owed[0]:
            owed.pop(0)
        elif pid not in _NEUTRAL_BOSONS:
            owed.append(_conjugate(pid))
        mass = MASS[abs(pid)]
        pabs = math.sqrt(max(e * e - mass * mass, 0.0))
        cos_t, phi = 2 * rng.random() - 1, 2 * math.pi * rng.random()
        sin_t = math.sqrt(1 - cos_t**2)
        p_rest = np.array([pabs * sin_t * math.cos(phi), pabs * sin_t * math.sin(phi),
                           pabs * cos_t, e])  # fmt: skip
        p = _boost(p_rest, p_bh[:3] / p_bh[3])
        ids.append(pid)
        moms.append(p)
        p_bh = p_bh - p
    m_rem = math.sqrt(max(p_bh[3] ** 2 - p_bh[:3] @ p_bh[:3], 0.0))
    last = _remnant(owed, m_rem, rng)
    p_last = _boost(rambo([MASS[abs(i)] for i in last], m_rem, rng), p_bh[:3] / p_bh[3])
    return ids + last, np.vstack([*moms, p_last]) if moms else p_last


def _colour_strings(ids: Sequence[int], rng: np.random.Generator) -> list[tuple[int, int]]:
    """(col, acol) for the two incoming gluons (first two) and the outgoing ``ids``: one
    string per quark-antiquark pair (gluons spread over them), else one closed gluon loop."""
    quarks = [i for i, pid in enumerate(ids) if 0 < pid <= 6]
    antis = [i for i, pid in enumerate(ids) if -6 <= pid < 0]
    gluons = [-1, -2] + [i for i, pid in enumerate(ids) if pid == 21]  # -1, -2: incoming
    order = rng.permutation(len(gluons))
    gluons = [gluons[k] for k in order]
    rng.shuffle(antis)
    cols: dict[int, list[int]] = {i: [0, 0] for i in [-1, -2, *range(len(ids))]}
    tag = 500
    # chain members as outgoing-like: (index, kind) with kind 'q', 'g', 'a'
    if quarks:
        chains: list[list[int]] = [[q] for q in quarks]
        for g in gluons:
            chains[int(rng.integers(len(chains)))].append(g)
        for chain, a in zip(chains, antis, strict=True):
            chain.append(a)
    else:
        chains = [[*gluons, gluons[0]]]  # closed loop: the last link returns to the first
    for chain in chains:
        for left, right in itertools.pairwise(chain):
            tag += 1
            cols[left][0] = tag  # left's colour ...
            cols[right][1] = tag  # ... is right's anticolour
    # incoming gluons enter crossed: (col, acol) of an outgoing-like gluon -> (acol, col)
    out = [(cols[-1][1], cols[-1][0]), (cols[-2][1], cols[-2][0])]
    out += [(cols[i][0], cols[i][1]) for i in range(len(ids))]
    return out


def _black_hole_event(m: float, rng: np.random.Generator) -> PartonEvent:
    x1, x2, y = _incoming(m, rng)
    ids, p = _evaporate(m, rng)
    p = _boost_z(p, y)
    cols = _colour_strings(ids, rng)
    ev = PartonEvent()
    e_beam = C.ECM_GEV / 2
    ev.add(21, -1, (0, 0), cols[0], np.array([0, 0, x1 * e_beam, x1 * e_beam]))
    ev.add(21, -1, (0, 0), cols[1], np.array([0, 0, -x2 * e_beam, x2 * e_beam]))
    for k, pid in enumerate(ids):
        ev.add(pid, 1, (1, 2), cols[2 + k], p[k])
    pts = np.hypot(p[:, 0], p[:, 1])
    ev.scale = float(np.median(pts))
    return ev


def black_hole_events(n: int, rng: np.random.Generator) -> list[PartonEvent]:
    """``n`` black-hole parton-level events (see the module docstring)."""
    return [_black_hole_event(float(m), rng) for m in _sqrt_shat(n, rng)]


# ------------------------------------------------------------------------------------ LHEF


def lhef_text(events: Sequence[PartonEvent], xsec_pb: float = NOMINAL_XSEC_PB) -> str:
    """A Les Houches event file (version 1.0) of ``events``: pp at the scenario's energy,
    weighting strategy 3 (unit weights, cross section from the header)."""
    e_beam = C.ECM_GEV / 2
    lines = [
        '<LesHouchesEvents version="1.0">',
        "<!-- hepsift multijet-bsm simplified model (hepsift.generate.bsm) -->",
        "<init>",
        f"2212 2212 {e_beam:.6e} {e_beam:.6e} 0 0 -1 -1 3 1",
        f"{xsec_pb:.6e} 0.000000e+00 {xsec_pb:.6e} 1",
        "</init>",
    ]
    for ev in events:
        lines.append("<event>")
        lines.append(f"{len(ev.rows)} 1 {xsec_pb:.6e} {ev.scale:.6e} 7.8e-03 1.0e-01")
        for r in ev.rows:
            lines.append(
                f"{r[0]} {r[1]} {r[2]} {r[3]} {r[4]} {r[5]} "
                f"{r[6]:.10e} {r[7]:.10e} {r[8]:.10e} {r[9]:.10e} {r[10]:.6e} 0 9"
            )
        lines.append("</event>")
    lines.append("</LesHouchesEvents>")
    return "\n".join(lines) + "\n"


def write_lhef(path: Path, model: str, n: int, rng: np.random.Generator) -> None:
    """Write ``n`` events of ``model`` ('sphaleron' or 'black-hole') to ``path``."""
    from hepsift.errors import ConfigError

    if model == "sphaleron":
        events = sphaleron_events(n, rng)
    elif model == "black-hole":
        events = black_hole_events(n, rng)
    else:
        raise ConfigError(f"unknown parton-level model {model!r}; allowed: {', '.join(MODELS)}")
    path.write_text(lhef_text(events))


# ------------------------------------------------------------------- reconstructed tables

#: leading objects of the tables: cells / tracks (low level), jets, leptons (high level)
LL_OBJECTS = 5
HL_JETS = 8
HL_LEPTONS = 2
#: lepton selection of the high-level table (GeV; isolation ptcone30 < 0.15 pT)
LEPTON_PT_MIN_GEV = 25.0
#: value of every column of a missing object (cell, track, jet, lepton): pt = E = 0 marks it
MISSING_VALUE = 0.0


def low_level_columns() -> list[str]:
    """The 45 low-level columns: E, eta, phi of the five most energetic ECAL cells, HCAL cells
    and tracks (``ll_ecal0_E``, ..., ``ll_track4_phi``)."""
    return [
        f"ll_{det}{i}_{v}"
        for det in ("ecal", "hcal", "track")
        for i in range(LL_OBJECTS)
        for v in ("E", "eta", "phi")
    ]


def high_level_columns() -> list[str]:
    """The 39 high-level columns: pt, eta, phi, m of eight jets, pt, eta, phi of two leptons,
    missing transverse momentum (``hl_jet0_pt``, ..., ``hl_lep1_phi``, ``hl_met``)."""
    jets = [f"hl_jet{i}_{v}" for i in range(HL_JETS) for v in ("pt", "eta", "phi", "m")]
    leps = [f"hl_lep{i}_{v}" for i in range(HL_LEPTONS) for v in ("pt", "eta", "phi")]
    return [*jets, *leps, "hl_met"]


def leading(
    n: int, ev: np.ndarray, key: np.ndarray, values: Sequence[np.ndarray], k: int
) -> list[np.ndarray]:
    """For each array of ``values`` the (n, k) values of the ``k`` objects with the largest
    ``key`` per event (``ev``), in decreasing order; MISSING_VALUE where an event has fewer."""
    order = np.lexsort((-key, ev))
    ev_s = ev[order]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ev_s, minlength=n), out=offsets[1:])
    rank = np.arange(len(ev_s)) - offsets[ev_s]
    keep = rank < k
    out = []
    for v in values:
        a = np.full((n, k), MISSING_VALUE)
        a[ev_s[keep], rank[keep]] = np.asarray(v)[order][keep]
        out.append(a)
    return out


def _cells(
    grid: SparseGrid, cell_eta: float, cell_phi: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, ...]:
    """(event, E, eta, phi) of the stored cells of a grid (E = E_T cosh eta)."""
    ev, ie, ip = grid.decode()
    n_eta = grid.n_eta
    eta = -n_eta * cell_eta / 2 + (ie + 0.5) * cell_eta
    phi = cell_phi(ip)
    return ev, grid.values * np.cosh(eta), eta, phi


def low_level(det: Detector) -> dict[str, np.ndarray]:
    """The 45 low-level columns of every event of a simulated chunk (GeV, rad)."""
    from hepsift.generate.detector import ecal_cell_phi, hcal_cell_phi

    n = det.n
    parts = {
        "ecal": _cells(det.ecal, C.ECAL_CELL_ETA, ecal_cell_phi),
        "hcal": _cells(det.hcal, C.HCAL_CELL_ETA, hcal_cell_phi),
    }
    trk = det.tracks
    parts["track"] = (trk.event, trk.pt * np.cosh(trk.eta), trk.eta, trk.phi)
    out: dict[str, np.ndarray] = {}
    for name, (ev, e, eta, phi) in parts.items():
        cols = leading(n, ev, e, (e, eta, phi), LL_OBJECTS)
        for i in range(LL_OBJECTS):
            for v, a in zip(("E", "eta", "phi"), cols, strict=True):
                out[f"ll_{name}{i}_{v}"] = a[:, i]
    return out


def sphericity(
    n: int, ev: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray
) -> np.ndarray:
    """Sphericity S = 3/2 (lambda2 + lambda3) of the momentum tensor sum p_a p_b / sum |p|^2
    of the given objects per event (0 for events with none; 0 = pencil-like, 1 = isotropic)."""
    p = np.stack([px, py, pz], axis=1)
    tensor = np.zeros((n, 3, 3))
    np.add.at(tensor, ev, p[:, :, None] * p[:, None, :])
    norm = np.bincount(ev, weights=np.sum(p**2, axis=1), minlength=n)
    tensor /= np.where(norm > 0, norm, 1.0)[:, None, None]
    lam = np.linalg.eigvalsh(tensor)  # ascending
    return np.asarray(1.5 * (lam[:, 0] + lam[:, 1]))


def _leptons(det: Detector, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Isolated electrons and muons above LEPTON_PT_MIN_GEV (flat arrays, GeV)."""
    from hepsift.generate import reconstruct as R

    cands = R.em_candidates(det, rng, C.CANDIDATE_ET_MIN_GEV)
    el = cands.select(cands.is_electron & (cands.et > LEPTON_PT_MIN_GEV))
    el = el.select(el.ptcone30 < C.LEPTON_ISO_PTCONE30_REL_MAX * el.et)
    mu = det.muons
    _, mu_pt30 = R.muon_isolation(det)
    mk = (mu.pt > LEPTON_PT_MIN_GEV) & (mu_pt30 < C.LEPTON_ISO_PTCONE30_REL_MAX * mu.pt)
    return {
        "event": np.concatenate([el.event, mu.event[mk]]),
        "pt": np.concatenate([el.et, mu.pt[mk]]),
        "eta": np.concatenate([el.eta, mu.eta[mk]]),
        "phi": np.concatenate([el.phi, mu.phi[mk]]),
        "is_muon": np.concatenate([np.zeros(len(el.et), bool), np.ones(int(mk.sum()), bool)]),
    }


def high_level(det: Detector, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The 39 high-level columns plus bookkeeping (``n_jets``, ``n_electrons``, ``n_muons``,
    ``ht``: scalar sum of jet pT, ``st``: ht + lepton pT + MET, ``met_phi``, ``sphericity`` of
    the jets) of every event of a simulated chunk (GeV, rad)."""
    from hepsift.generate import reconstruct as R

    n = det.n
    lep = _leptons(det, rng)
    jets = R.jets(det, rng)
    el = ~lep["is_muon"]
    jets = R.overlap_free(
        jets, lep["event"][el], lep["eta"][el], lep["phi"][el], n, C.JET_ELECTRON_OVERLAP_DR
    )
    met, met_phi = R.missing_et(det)
    pz = jets.pt * np.sinh(jets.eta)
    m = np.sqrt(np.maximum(jets.e**2 - jets.pt**2 - pz**2, 0.0))
    out: dict[str, np.ndarray] = {}
    jcols = leading(n, jets.event, jets.pt, (jets.pt, jets.eta, jets.phi, m), HL_JETS)
    for i in range(HL_JETS):
        for v, a in zip(("pt", "eta", "phi", "m"), jcols, strict=True):
            out[f"hl_jet{i}_{v}"] = a[:, i]
    lcols = leading(n, lep["event"], lep["pt"], (lep["pt"], lep["eta"], lep["phi"]), HL_LEPTONS)
    for i in range(HL_LEPTONS):
        for v, a in zip(("pt", "eta", "phi"), lcols, strict=True):
            out[f"hl_lep{i}_{v}"] = a[:, i]
    out["hl_met"] = np.asarray(met, dtype=np.float64)
    ht = np.bincount(jets.event, weights=jets.pt, minlength=n)
    out["n_jets"] = np.bincount(jets.event, minlength=n).astype(np.int32)
    out["n_electrons"] = np.bincount(lep["event"][el], minlength=n).astype(np.int32)
    out["n_muons"] = np.bincount(lep["event"][~el], minlength=n).astype(np.int32)
    out["ht"] = ht
    out["st"] = ht + np.bincount(lep["event"], weights=lep["pt"], minlength=n) + met
    out["met_phi"] = np.asarray(met_phi, dtype=np.float64)
    px, py = jets.pt * np.cos(jets.phi), jets.pt * np.sin(jets.phi)
    out["sphericity"] = sphericity(n, jets.event, px, py, pz)
    return out


def chunk_rows(det: Detector, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every event of a chunk as one row: 45 ``ll_`` and 39 ``hl_`` columns plus bookkeeping;
    all events are accepted (no selection)."""
    rows = {**low_level(det), **high_level(det, rng)}
    return rows, np.ones(det.n, dtype=bool)


# ------------------------------------------------------------------------- Pythia glue


#: LHE events written per requested event (Pythia skips the rare event it cannot process)
LHEF_SPARE_FRACTION = 0.25


def lhef_settings(model: str, n_events: int, seed: int, folder: str | Path) -> tuple[str, ...]:
    """Write ``n_events`` (plus spares) events of ``model`` into ``folder`` with a random
    stream fixed by ``seed``; return the Pythia settings that read them."""
    import zlib

    rng = np.random.default_rng([int(seed), zlib.crc32(model.encode())])
    path = Path(folder) / f"{model}.lhe"
    write_lhef(path, model, math.ceil(n_events * (1 + LHEF_SPARE_FRACTION)) + 20, rng)
    return ("Beams:frameType = 4", f"Beams:LHEF = {path}")


def model_description(model: str) -> dict[str, object]:
    """The parameters of a parton-level model (for the manifest)."""
    common: dict[str, object] = {
        "model": model,
        "simplified_model": True,
        "sqrt_shat_gev": {
            "min": SQRT_SHAT_MIN_GEV,
            "exponential_slope": SQRT_SHAT_SLOPE_GEV,
            "max": SQRT_SHAT_MAX_GEV,
        },
        "nominal_xsection_pb": NOMINAL_XSEC_PB,
        "generator": "hepsift.generate.bsm -> LHEF -> Pythia 8 (Beams:frameType = 4)",
    }
    if model == "sphaleron":
        common["final_state"] = "q q -> 7 antiquarks + e+ mu+ tau+ (Delta N_CS = -1)"
        common["references"] = ["arXiv:1601.03654", "arXiv:1602.00647"]
    else:
        common["final_state"] = "thermal evaporation by SM degrees of freedom, remnant decay"
        common["n_extra_dims"] = BH_N_EXTRA_DIMS
        common["md_gev"] = BH_MD_GEV
        common["references"] = ["hep-ph/0307305", "arXiv:0711.3012"]
    return common


#: the QCD multi-jet background: 2 -> 2 QCD with pT-hat and m-hat floors that put its scalar
#: sum pT in the range of the two models (showers then make it multi-jet)
QCD_PTHAT_MIN_GEV = 2750.0
QCD_MHAT_MIN_GEV = 7500.0


#: bookkeeping columns of every sample table besides the ``ll_`` and ``hl_`` ones
BOOKKEEPING_COLUMNS = (
    "eventNumber",
    "mcWeight",
    "weight",
    "XSection",
    "SumWeights",
    "n_jets",
    "n_electrons",
    "n_muons",
    "ht",
    "st",
    "met_phi",
    "sphericity",
)


def table_columns() -> tuple[str, ...]:
    """Every column of a multijet-bsm sample table."""
    return (*low_level_columns(), *high_level_columns(), *BOOKKEEPING_COLUMNS)


def table_layout() -> dict[str, object]:
    """The manifest's description of the per-sample tables."""
    return {
        "units": "GeV, rad; weight in pb per event (nominal model cross sections for the BSM "
        "samples, Pythia's LO for qcd)",
        "low_level_columns": low_level_columns(),
        "high_level_columns": high_level_columns(),
        "missing_value": MISSING_VALUE,
        "missing_note": "a missing cell, track, jet or lepton has 0 in every column (pt = E = 0 "
        "marks it); E of a track is p = pT cosh(eta); cells by energy E = E_T cosh(eta)",
        "lepton_selection": f"e or mu, pT > {LEPTON_PT_MIN_GEV:g} GeV, ptcone30 < "
        f"{C.LEPTON_ISO_PTCONE30_REL_MAX:g} pT",
        "images": "<sample>.images.npz: images (n, 3, 50, 50) float16 (ECAL E_T, HCAL E_T, "
        "track pT; axis -2 eta in (-2.5, 2.5), axis -1 phi in (-pi, pi)), event_number",
    }


def sample_summary(table: dict[str, np.ndarray]) -> dict[str, float]:
    """Means of the sanity-check quantities of one sample's table: jets, scalar sum pT ``st``
    (GeV), sphericity, electrons, muons, leptons (e + mu), and the fraction of events with at
    least one lepton."""
    n_lep = np.asarray(table["n_electrons"]) + np.asarray(table["n_muons"])
    return {
        "events": float(len(n_lep)),
        "mean jets": float(np.mean(table["n_jets"])),
        "mean st [GeV]": float(np.mean(table["st"])),
        "mean sphericity": float(np.mean(table["sphericity"])),
        "mean electrons": float(np.mean(table["n_electrons"])),
        "mean muons": float(np.mean(table["n_muons"])),
        "mean leptons": float(np.mean(n_lep)),
        "fraction with leptons": float(np.mean(n_lep > 0)),
    }
