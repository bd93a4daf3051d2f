"""Method comparisons built on the same layers as a run (data, models, evaluate, report).

- :mod:`hepsift.studies.pnn`: one parametric network against dedicated fixed-mass networks.

Set, image and anomaly-detection studies will live beside it.
"""

from __future__ import annotations

__all__: list[str] = []
