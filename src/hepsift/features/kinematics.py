"""Derived kinematics of object pairs with ``vector`` (NumPy backend), GeV throughout.

Inputs are per-slot NumPy arrays (NaN where the object is absent, see
:func:`hepsift.features.jagged.pad`); every output is NaN wherever an input object is absent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "PAIR_QUANTITIES",
    "costheta_cs",
    "delta_phi",
    "delta_r",
    "four_vector",
    "pair_quantity",
    "pt_thrust",
]

F64 = NDArray[np.float64]

#: quantities of a pair of objects a, b (name -> description)
PAIR_QUANTITIES: dict[str, str] = {
    "m": "invariant mass of a+b (GeV)",
    "pt": "transverse momentum of a+b (GeV)",
    "eta": "pseudorapidity of a+b",
    "y": "rapidity of a+b",
    "phi": "azimuth of a+b",
    "deta": "|eta_a - eta_b|",
    "dphi": "|delta phi(a, b)| in [0, pi]",
    "dr": "delta R(a, b) = sqrt(deta^2 + dphi^2)",
    "ptt": "pT of a+b transverse to the thrust axis (a-b) in the transverse plane (GeV)",
    "costhetastar": "|cos theta*| in the Collins-Soper frame",
}


def four_vector(
    pt: F64, eta: F64, phi: F64, *, energy: F64 | None = None, mass: F64 | None = None
) -> Any:
    """A ``vector`` MomentumNumpy4D from (pT [GeV], eta, phi, E [GeV]) or mass (default 0).

    Stored in Cartesian coordinates (px, py, pz, E) so that sums of vectors are cheap.
    """
    import vector

    pt = np.asarray(pt, dtype=np.float64)
    eta = np.asarray(eta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    pz = pt * np.sinh(eta)
    if energy is None:
        m = np.zeros_like(pt) if mass is None else np.asarray(mass, dtype=np.float64)
        energy = np.sqrt(pt * pt + pz * pz + m * m)
    data = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pz, "E": energy}
    return vector.array(data)


def delta_phi(phi1: F64, phi2: F64) -> F64:
    """|phi1 - phi2| wrapped into [0, pi]."""
    d = np.mod(np.asarray(phi1) - np.asarray(phi2) + np.pi, 2 * np.pi) - np.pi
    return np.abs(d)


def delta_r(eta1: F64, phi1: F64, eta2: F64, phi2: F64) -> F64:
    """sqrt(delta eta^2 + delta phi^2)."""
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), delta_phi(phi1, phi2))


def costheta_cs(a: Any, b: Any) -> F64:
    """|cos theta*| in the Collins-Soper frame of the pair (a, b) (vector 4-momenta).

    cos theta*_CS = 2 (pz_a E_b - E_a pz_b) / (m sqrt(m^2 + pT^2)) of the pair; for massless
    objects this equals |sinh(eta_a - eta_b)| * 2 pT_a pT_b / (m sqrt(m^2 + pT^2)).
    """
    s = a + b
    m = np.asarray(s.mass, dtype=np.float64)
    pt = np.asarray(s.pt, dtype=np.float64)
    num = 2.0 * (np.asarray(a.pz) * np.asarray(b.E) - np.asarray(a.E) * np.asarray(b.pz))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.abs(num / (m * np.sqrt(m * m + pt * pt))), dtype=np.float64)


def pt_thrust(a: Any, b: Any) -> F64:
    """pT_t: the pair's transverse momentum perpendicular to the thrust axis (pT_a - pT_b).

    pT_t = 2 |px_a py_b - py_a px_b| / |pT_a - pT_b| (GeV).
    """
    ax, ay, bx, by = (np.asarray(v, dtype=np.float64) for v in (a.px, a.py, b.px, b.py))
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * np.abs(ax * by - ay * bx) / np.hypot(ax - bx, ay - by)


def pair_quantity(q: str, a: Any, b: Any) -> F64:
    """One of :data:`PAIR_QUANTITIES` for 4-vectors ``a`` and ``b``."""
    if q == "costhetastar":
        return costheta_cs(a, b)
    if q == "ptt":
        return pt_thrust(a, b)
    if q == "deta":
        return np.abs(np.asarray(a.eta, dtype=np.float64) - np.asarray(b.eta, dtype=np.float64))
    if q == "dphi":
        return delta_phi(np.asarray(a.phi, dtype=np.float64), np.asarray(b.phi, dtype=np.float64))
    if q == "dr":
        return delta_r(
            np.asarray(a.eta, dtype=np.float64),
            np.asarray(a.phi, dtype=np.float64),
            np.asarray(b.eta, dtype=np.float64),
            np.asarray(b.phi, dtype=np.float64),
        )
    s = a + b
    attr = {"m": "mass", "pt": "pt", "eta": "eta", "y": "rapidity", "phi": "phi"}[q]
    with np.errstate(invalid="ignore"):
        return np.asarray(getattr(s, attr), dtype=np.float64)
