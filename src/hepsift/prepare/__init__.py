"""Data preparation: sample files (or a run config) -> one selected, weighted Dataset.

- :mod:`hepsift.prepare.samples`: :class:`SampleSpec` (one sample: files, label, kind,
  normalisation), its physics weights and what to read (:class:`BuildInfo` reports it);
- :mod:`hepsift.prepare.pipeline`: :func:`build_dataset`, the read -> select -> features
  pipeline over chunks, locally or on Dask;
- :mod:`hepsift.prepare.run_data`: :func:`prepare_data`, the data of a ``hepsift run`` config
  (generated into :func:`cache_folder`, sample files, or inline rows) mapped to its classes.

This layer sits above :mod:`hepsift.io`, :mod:`hepsift.select`, :mod:`hepsift.features` and
:mod:`hepsift.dataset` and below :mod:`hepsift.run`.
"""

from __future__ import annotations

from hepsift.prepare.pipeline import build_dataset
from hepsift.prepare.run_data import PreparedData, cache_folder, finalise, prepare_data
from hepsift.prepare.samples import DEFAULT_SCALE_FACTORS, BuildInfo, SampleSpec

__all__ = [
    "DEFAULT_SCALE_FACTORS",
    "BuildInfo",
    "PreparedData",
    "SampleSpec",
    "build_dataset",
    "cache_folder",
    "finalise",
    "prepare_data",
]
