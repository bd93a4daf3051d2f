"""Matching reconstructed objects to generator-level (truth) objects, for regression targets
(e.g. the true pT of the photon a candidate comes from)."""

from __future__ import annotations

import numpy as np

from hepsift.generate.detector import Objects
from hepsift.generate.reconstruct import delta_phi, pairs

__all__ = ["nearest_truth"]


def nearest_truth(
    ev: np.ndarray, eta: np.ndarray, phi: np.ndarray, truth: Objects, dr: float
) -> np.ndarray:
    """pT (GeV) of the nearest object of ``truth`` in the same event within ``dr`` in
    (eta, phi) of each reconstructed object; NaN where there is none."""
    out = np.full(len(ev), np.nan)
    if not len(ev):
        return out
    ia, ib = pairs(ev, truth.offsets)
    d2 = (truth.eta[ib] - eta[ia]) ** 2 + delta_phi(truth.phi[ib], phi[ia]) ** 2
    close = d2 < dr**2
    ia, ib, d2 = ia[close], ib[close], d2[close]
    order = np.lexsort((d2, ia))  # per object, the nearest first
    first = np.unique(ia[order], return_index=True)[1]
    out[ia[order][first]] = truth.pt[ib[order][first]]
    return out
