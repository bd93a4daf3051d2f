"""Monte Carlo generation: Pythia 8 + a parametrised detector + FastJet -> ROOT / Parquet / CSV.

``generate(scenario, events=N, out=DIR)`` generates N Pythia events PER SAMPLE of one of the
scenarios of ``SCENARIOS.md`` (``photon-id``, ``higgs-diphoton``, ``resonance-ttbar``) and
writes the outputs and ``manifest.json`` into ``DIR``. Heavy imports happen inside functions.

Pythia 8 and FastJet are the optional extra ``generate`` (``pip install 'hepsift[generate]'``):
without them this package still imports (scenarios, sample lists, validation of existing
files) and generating raises :class:`hepsift.extras.MissingExtraError` naming the extra.
"""

from __future__ import annotations

from hepsift.generate.runner import DEFAULT_CHUNK_SIZE, generate
from hepsift.generate.scenarios import SCENARIOS, samples_for

__all__ = ["DEFAULT_CHUNK_SIZE", "SCENARIOS", "generate", "samples_for"]
