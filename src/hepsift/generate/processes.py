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

__all__ = ["BASE_SETTINGS", "PythiaBatch", "Sample", "derive_seeds", "run_pythia"]

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
class Sample:
    """One Monte Carlo sample: its Pythia settings and bookkeeping.

    ``settings`` are Pythia ``readString`` lines (on top of :data:`BASE_SETTINGS`);
    ``alt_settings``, when given, replace ``settings`` in odd-numbered chunks (used to alternate
    the W charge that decays leptonically in lepton+jets ttbar). The two settings are then two
    disjoint *configurations* of one sample: the runner gives each half of the events, and
    their cross sections add up (see :func:`hepsift.generate.assemble.combine_xsec`).
    """

    name: str
    channel_number: int
    settings: tuple[str, ...]
    is_signal: bool
    description: str = ""
    alt_settings: tuple[str, ...] | None = None
    extra: dict[str, float] = field(default_factory=dict)

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


def _charges(pythia: Any, ids: np.ndarray) -> dict[int, float]:
    pdata = pythia.particleData
    return {int(i): float(pdata.charge(int(i))) for i in ids}


def run_pythia(settings: tuple[str, ...], *, n_events: int, pythia_seed: int) -> PythiaBatch:
    """Initialise Pythia with ``settings`` and generate ``n_events`` events with ``nextBatch``."""
    import time

    import awkward as ak

    from hepsift.errors import GenerationError
    from hepsift.extras import require

    pythia8 = require("pythia8mc", "event generation")

    pythia = pythia8.Pythia("", False)
    for line in (*BASE_SETTINGS, *settings, f"Random:seed = {pythia_seed}"):
        if not pythia.readString(line):
            raise GenerationError(f"Pythia rejected the setting {line!r}")
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
    )
