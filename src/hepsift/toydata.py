"""Seeded *toy* data for tests, examples and benchmarks: never physics results.

:func:`write_toy_gamgam` writes a ROOT ntuple in the ATLAS GamGam ``mini`` layout (MeV), the
layout ``hepsift generate higgs-diphoton`` writes, from seeded random numbers and without
Pythia. It lives apart from :mod:`hepsift.io` (which only reads) so that the readers carry no
test-data code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hepsift._files import atomic_write_with

__all__ = ["write_toy_gamgam"]

PathLike = str | os.PathLike[str]


def write_toy_gamgam(
    path: PathLike,
    n_events: int,
    *,
    seed: int,
    signal_fraction: float = 0.5,
    chunk_size: int = 200_000,
    channel_number: int = 343981,
    xsection_pb: float = 0.1,
    compression: str | None = "zlib",
) -> Path:
    """Write a *toy* ntuple in the ATLAS GamGam ``mini`` layout (MeV) from seeded random numbers.

    Not physics: a stand-in for tests and benchmarks with the branch layout of
    ``hepsift generate higgs-diphoton``. A ``signal_fraction`` of events carries a diphoton
    pair from a 125 GeV resonance (1.5 % resolution) decaying isotropically, boosted with an
    exponential pT (30 GeV) and Gaussian rapidity; every event gets extra soft photons, jets,
    leptons and MET. Photons are tight 90 % of the time and mostly isolated; about 5 % of MC
    weights are negative. ``compression``: ``"zlib"`` (level 1, uproot's default), ``"lzma"``
    or None. Written atomically (temporary file, fsync, rename).
    """
    import awkward as ak
    import numpy as np
    import uproot

    rng = np.random.default_rng(seed)
    chunks = []
    done = 0
    while done < n_events:
        n = min(chunk_size, n_events - done)
        chunks.append(_toy_chunk(rng, n, done, signal_fraction, channel_number, xsection_pb))
        done += n
    total_w = float(sum(np.sum(c["mcWeight"]) for c in chunks))
    codec = {"zlib": uproot.ZLIB(1), "lzma": uproot.LZMA(1), None: None}[compression]

    def write(tmp: Path) -> None:
        with uproot.recreate(tmp, compression=codec) as f:
            for i, c in enumerate(chunks):
                c["SumWeights"] = np.full(len(c["mcWeight"]), total_w, dtype=np.float32)
                data = {k: (ak.zip(v) if isinstance(v, dict) else v) for k, v in c.items()}
                if i == 0:
                    f.mktree(
                        "mini",
                        {
                            k: v.type if isinstance(v, ak.Array) else v.dtype
                            for k, v in data.items()
                        },
                        counter_name=lambda counted: f"{counted}_n",
                    )
                f["mini"].extend(data)

    return atomic_write_with(path, write, suffix=".root")


def _objects(
    rng: Any,
    n: int,
    *,
    mean_count: float,
    pt: tuple[float, float],
    eta_width: float,
    e_mev: float,
    hardest_first: bool = False,
) -> tuple[Any, Any, dict[str, Any]]:
    """Poisson(``mean_count``) objects an event, pT ~ Exp(scale) + min GeV (``pt``), leading
    first: the counts, the pT (GeV) and the columns pt, eta, phi, E (MeV; E = pT cosh(eta) e_mev).

    ``hardest_first`` hands the drawn pT out to the events in falling order (the toy's jets).
    """
    import numpy as np

    counts = rng.poisson(mean_count, n)
    total = int(counts.sum())
    obj_pt = rng.exponential(pt[0], total) + pt[1]
    if hardest_first:
        obj_pt = np.sort(obj_pt)[::-1]
    obj_pt = obj_pt[np.lexsort((-obj_pt, np.repeat(np.arange(n), counts)))]
    eta = rng.normal(0, eta_width, total)
    columns = {
        "pt": obj_pt * 1e3,
        "eta": eta,
        "phi": rng.uniform(-np.pi, np.pi, total),
        "E": obj_pt * np.cosh(eta) * e_mev,
    }
    return counts, obj_pt, columns


def _toy_chunk(
    rng: Any, n: int, offset: int, signal_fraction: float, channel: int, xsection_pb: float
) -> dict[str, Any]:
    import awkward as ak
    import numpy as np
    import vector

    def jagged(counts: Any, values: dict[str, Any]) -> dict[str, Any]:
        return {k: ak.unflatten(v, counts) for k, v in values.items()}

    # --- photons: an optional resonance pair plus soft extras, sorted by pT ---
    sig = rng.random(n) < signal_fraction
    ns = int(sig.sum())
    m = 125.0 * (1 + 0.015 * rng.standard_normal(ns))
    cos_t = rng.uniform(-1, 1, ns)
    phi_r = rng.uniform(-np.pi, np.pi, ns)
    sin_t = np.sqrt(1 - cos_t**2)
    half = m / 2
    g1: Any = vector.array(
        {
            "px": half * sin_t * np.cos(phi_r),
            "py": half * sin_t * np.sin(phi_r),
            "pz": half * cos_t,
            "E": half,
        }
    )
    g2: Any = vector.array({"px": -g1.px, "py": -g1.py, "pz": -g1.pz, "E": half})
    h_pt = rng.exponential(30.0, ns)
    h_y = rng.normal(0, 1.5, ns)
    h_phi = rng.uniform(-np.pi, np.pi, ns)
    mt = np.sqrt(m * m + h_pt * h_pt)
    h: Any = vector.array(
        {
            "px": h_pt * np.cos(h_phi),
            "py": h_pt * np.sin(h_phi),
            "pz": mt * np.sinh(h_y),
            "E": mt * np.cosh(h_y),
        }
    )
    g1, g2 = g1.boost_p4(h), g2.boost_p4(h)
    n_extra = rng.poisson(0.8, n) + (~sig) * rng.poisson(1.5, n)
    n_ph = n_extra + 2 * sig
    tot = int(n_ph.sum())
    pt = rng.exponential(15.0, tot) + 5.0
    eta = rng.normal(0, 1.4, tot)
    phi = rng.uniform(-np.pi, np.pi, tot)
    # put the pair at the start of each signal event's list
    starts = np.concatenate([[0], np.cumsum(n_ph)[:-1]])
    s_idx = starts[sig]
    for j, g in enumerate((g1, g2)):
        pt[s_idx + j] = g.pt
        eta[s_idx + j] = g.eta
        phi[s_idx + j] = g.phi
    event_of = np.repeat(np.arange(n), n_ph)
    order = np.lexsort((-pt, event_of))
    pt, eta, phi = pt[order], eta[order], phi[order]
    E = pt * np.cosh(eta)
    photon = {
        "pt": pt * 1e3,
        "eta": eta,
        "phi": phi,
        "E": E * 1e3,
        "isTightID": rng.random(tot) < 0.9,
        "ptcone30": rng.exponential(0.02, tot) * pt * 1e3,
        "etcone20": rng.exponential(0.02, tot) * pt * 1e3,
    }
    # --- jets and leptons ---
    n_jet, jpt, jet = _objects(
        rng, n, mean_count=2.0, pt=(30.0, 25.0), eta_width=2.0, e_mev=1.05e3, hardest_first=True
    )
    jet["MV2c10"] = rng.uniform(-1, 1, len(jpt))
    n_lep, lpt, lep = _objects(rng, n, mean_count=0.2, pt=(20.0, 7.0), eta_width=1.2, e_mev=1e3)
    tl = len(lpt)
    lep["charge"] = rng.choice(np.array([-1, 1], dtype=np.int32), tl)
    lep["type"] = rng.choice(np.array([11, 13], dtype=np.uint32), tl)
    lep["ptcone30"] = rng.exponential(0.03, tl) * lpt * 1e3
    lep["etcone20"] = rng.exponential(0.03, tl) * lpt * 1e3
    f32 = np.float32
    w = rng.normal(1.0, 0.3, n)
    w[rng.random(n) < 0.05] *= -1
    out: dict[str, Any] = {
        "runNumber": np.full(n, 284500, dtype=np.int32),
        "eventNumber": (np.arange(offset, offset + n, dtype=np.int64) * 7919 + 13) % 2_147_483_647,
        "channelNumber": np.full(n, channel, dtype=np.int32),
        "mcWeight": w.astype(f32),
        "scaleFactor_PHOTON": rng.normal(1.0, 0.02, n).astype(f32),
        "scaleFactor_PhotonTRIGGER": rng.normal(1.0, 0.01, n).astype(f32),
        "scaleFactor_PILEUP": np.ones(n, dtype=f32),
        "XSection": np.full(n, xsection_pb, dtype=f32),
        "trigP": rng.random(n) < 0.95,
        "photon": {k: (v.astype(f32) if v.dtype == np.float64 else v) for k, v in photon.items()},
        "jet": {k: v.astype(f32) for k, v in jet.items()},
        "lep": {k: (v.astype(f32) if v.dtype == np.float64 else v) for k, v in lep.items()},
        "met_et": (rng.exponential(20.0, n) * 1e3).astype(f32),
        "met_phi": rng.uniform(-np.pi, np.pi, n).astype(f32),
    }
    for key, counts in (("photon", n_ph), ("jet", n_jet), ("lep", n_lep)):
        out[key] = jagged(counts, out[key])
    return out
