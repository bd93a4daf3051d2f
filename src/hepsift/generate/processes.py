"""Pythia 8 process cards of every generated sample, and the call that runs one chunk.

A :class:`Sample` is a name, a list of Pythia ``readString`` settings and an ATLAS-like
``channelNumber``. :func:`run_pythia` creates a Pythia instance (inside the worker process),
generates a batch of events with the vectorised ``nextBatch`` accessor (an awkward array of the
whole event record, no per-particle Python loop) and returns it with Pythia's cross section.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepsift.generate import constants as C

__all__ = [
    "BASE_SETTINGS",
    "ProcessVeto",
    "PythiaBatch",
    "Sample",
    "derive_seeds",
    "passes_veto",
    "run_pythia",
]

#: Settings common to every sample: 13 TeV pp, quiet, MPI and hadronisation on (defaults).
BASE_SETTINGS: tuple[str, ...] = (
    "Print:quiet = on",
    f"Beams:eCM = {C.ECM_GEV:g}",
    "Next:numberCount = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Next:numberShowEvent = 0",
    "Random:setSeed = on",
)


@dataclass(frozen=True)
class ProcessVeto:
    """A generator-level filter applied at Pythia's process level (after the hard process and
    its resonance decays, before showers, MPI and hadronisation, so vetoed events cost almost
    nothing): the hard process must have at least ``photons`` final-state photons and
    ``partons`` final-state quarks/gluons with |eta| < ``eta_max`` and
    pT > max(``pt_min_gev``, ``pt_over_m_min`` * m), m the invariant mass of all final-state
    particles of the hard process. Pythia's ``sigmaGen`` counts vetoed events as rejected, so
    the recorded cross section is that of the filtered sample and the weights stay exact; the
    filter efficiency is recorded beside it.
    """

    photons: int = 0
    partons: int = 0
    eta_max: float = 2.6
    pt_min_gev: float = 0.0
    pt_over_m_min: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "photons": self.photons,
            "partons": self.partons,
            "eta_max": self.eta_max,
            "pt_min_gev": self.pt_min_gev,
            "pt_over_m_min": self.pt_over_m_min,
        }


def passes_veto(
    veto: ProcessVeto, ids: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray
) -> bool:
    """Whether the final-state particles (PDG ids, momenta in GeV) of a hard process pass."""
    e = np.sqrt(px**2 + py**2 + pz**2)
    m2 = e.sum() ** 2 - px.sum() ** 2 - py.sum() ** 2 - pz.sum() ** 2
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.full_like(pz, np.inf), where=pt > 0))
    cut = max(veto.pt_min_gev, veto.pt_over_m_min * float(np.sqrt(max(m2, 0.0))))
    good = (pt > cut) & (np.abs(eta) < veto.eta_max)
    aid = np.abs(ids)
    n_photons = int(np.sum(good & (aid == 22)))
    n_partons = int(np.sum(good & ((aid <= 5) | (aid == 21))))
    return n_photons >= veto.photons and n_partons >= veto.partons


def _veto_hook(pythia8: Any, veto: ProcessVeto) -> Any:
    """A Pythia ``UserHooks`` applying ``veto`` at process level; counts calls and passes."""

    class _Hook(pythia8.UserHooks):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            pythia8.UserHooks.__init__(self)
            self.tried = 0
            self.passed = 0

        def canVetoProcessLevel(self) -> bool:
            return True

        def doVetoProcessLevel(self, process: Any) -> bool:
            rows = [process[i] for i in range(process.size())]
            fs = [p for p in rows if p.isFinal()]
            ok = passes_veto(
                veto,
                np.array([p.id() for p in fs]),
                np.array([p.px() for p in fs]),
                np.array([p.py() for p in fs]),
                np.array([p.pz() for p in fs]),
            )
            self.tried += 1
            self.passed += int(ok)
            return not ok

    return _Hook()


@dataclass(frozen=True)
class Sample:
    """One Monte Carlo sample: its Pythia settings and bookkeeping.

    ``settings`` are Pythia ``readString`` lines (on top of :data:`BASE_SETTINGS`);
    ``alt_settings``, when given, replace ``settings`` in odd-numbered chunks (used to alternate
    the W charge that decays leptonically in lepton+jets ttbar). The two settings are then two
    disjoint *configurations* of one sample: the runner gives each half of the events, and
    their cross sections add up (see :func:`hepsift.generate.assemble.combine_xsec`).
    ``veto``: an optional generator-level filter (:class:`ProcessVeto`).
    """

    name: str
    channel_number: int
    settings: tuple[str, ...]
    is_signal: bool
    description: str = ""
    alt_settings: tuple[str, ...] | None = None
    extra: dict[str, float] = field(default_factory=dict)
    veto: ProcessVeto | None = None
    #: a parton-level model of :mod:`hepsift.generate.bsm` whose events Pythia reads (LHEF)
    parton_model: str | None = None

    @property
    def n_configurations(self) -> int:
        """Disjoint Pythia configurations of the sample (2 with ``alt_settings``, else 1)."""
        return 1 if self.alt_settings is None else 2

    def configuration(self, chunk: int) -> int:
        """The configuration (0 = ``settings``, 1 = ``alt_settings``) chunk ``chunk`` runs."""
        return chunk % self.n_configurations

    def settings_for_chunk(self, chunk: int) -> tuple[str, ...]:
        if self.alt_settings is not None and self.configuration(chunk) == 1:
            return self.alt_settings
        return self.settings

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "channelNumber": self.channel_number,
            "is_signal": self.is_signal,
            "description": self.description,
            "pythia_settings": list(BASE_SETTINGS) + list(self.settings),
        }
        if self.alt_settings is not None:
            out["pythia_settings_odd_chunks"] = list(BASE_SETTINGS) + list(self.alt_settings)
        if self.veto is not None:
            out["generator_filter"] = self.veto.as_dict()
        if self.parton_model is not None:
            from hepsift.generate.bsm import model_description

            out["parton_model"] = model_description(self.parton_model)
        out.update(self.extra)
        return out


def derive_seeds(seed: int, sample: str, chunk: int) -> tuple[int, np.random.SeedSequence]:
    """Pythia ``Random:seed`` in [1, 900000000] and a NumPy seed for one (seed, sample, chunk).

    Independent of the number of workers: the chunk index alone fixes the random streams.
    """
    ss = np.random.SeedSequence([int(seed), zlib.crc32(sample.encode()), int(chunk)])
    pythia_seed = int(ss.generate_state(1, dtype=np.uint32)[0]) % 900_000_000 + 1
    return pythia_seed, np.random.SeedSequence(ss.generate_state(4))


@dataclass
class PythiaBatch:
    """Events of one chunk: the awkward event record and Pythia's bookkeeping.

    ``sigma_pb`` / ``sigma_err_pb``: Pythia's estimate of the cross section (pb) for the
    process as configured (including forced decay branching fractions).
    """

    events: Any  # awkward Array: prt (particle record), info
    weights: np.ndarray  # float64 (n,) nominal event weights (info.weight())
    sigma_pb: float
    sigma_err_pb: float
    charge_of: dict[int, float]
    pythia_seconds: float
    filter_tried: int = 0
    filter_passed: int = 0


def _charges(pythia: Any, ids: np.ndarray) -> dict[int, float]:
    pdata = pythia.particleData
    return {int(i): float(pdata.charge(int(i))) for i in ids}


def run_pythia(
    settings: tuple[str, ...],
    *,
    n_events: int,
    pythia_seed: int,
    veto: ProcessVeto | None = None,
    parton_model: str | None = None,
) -> PythiaBatch:
    """Initialise Pythia with ``settings`` and generate ``n_events`` events with ``nextBatch``
    (events passing ``veto``, when given). With ``parton_model`` (a model of
    :mod:`hepsift.generate.bsm`) the hard events are hepsift's own, seeded by ``pythia_seed``,
    handed to Pythia as a Les Houches event file to shower and hadronise."""
    if parton_model is not None:
        import tempfile

        from hepsift.generate.bsm import lhef_settings

        with tempfile.TemporaryDirectory(prefix="hepsift-lhef-") as tmp:
            lhef = lhef_settings(parton_model, n_events, pythia_seed, tmp)
            return run_pythia((*settings, *lhef), n_events=n_events, pythia_seed=pythia_seed)
    import time

    import awkward as ak

    from hepsift.errors import GenerationError
    from hepsift.extras import require

    pythia8 = require("pythia8mc", "event generation")

    pythia = pythia8.Pythia("", False)
    for line in (*BASE_SETTINGS, *settings, f"Random:seed = {pythia_seed}"):
        if not pythia.readString(line):
            raise GenerationError(f"Pythia rejected the setting {line!r}")
    hook = _veto_hook(pythia8, veto) if veto is not None else None
    if hook is not None:
        pythia.setUserHooksPtr(hook)
    if not pythia.init():
        raise GenerationError(f"Pythia failed to initialise with settings {list(settings)}")
    t0 = time.perf_counter()
    try:
        events = pythia.nextBatch(int(n_events), 10.0)
    except Exception as exc:  # pragma: no cover - Pythia aborts after 10x failures
        raise GenerationError(f"Pythia could not generate events: {exc}") from exc
    seconds = time.perf_counter() - t0
    w = events.info.weights
    weights = np.asarray(ak.fill_none(ak.firsts(w), 1.0), dtype=np.float64)
    ids = np.unique(np.abs(ak.to_numpy(ak.flatten(events.prt.id))))
    info = pythia.infoPython()
    return PythiaBatch(
        events=events,
        weights=weights,
        sigma_pb=float(info.sigmaGen()) * C.MB_TO_PB,
        sigma_err_pb=float(info.sigmaErr()) * C.MB_TO_PB,
        charge_of=_charges(pythia, ids),
        pythia_seconds=seconds,
        filter_tried=hook.tried if hook is not None else 0,
        filter_passed=hook.passed if hook is not None else 0,
    )
