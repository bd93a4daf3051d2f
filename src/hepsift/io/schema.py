"""Known file layouts, their units, and branch/column checks with nearest-name hints.

A :class:`Schema` names a layout (the tree, which branches are energies and in which unit, the
column names of a CSV). Readers convert energies to **GeV once, at read time**, so everything
downstream (selection, features, plots) works in GeV.

Layouts:

``atlas-gamgam``
    ATLAS Open Data 13 TeV (2020 release) ``mini`` tree, also written by ``hepsift generate``
    for ``higgs-diphoton``. Energies in **MeV**, converted to GeV: every branch matching
    :data:`ATLAS_ENERGY_PATTERNS` — ``*_pt``, ``*_E``, ``*_m``, ``*_ptcone30``, ``*_etcone20``,
    ``*_pt_syst``, ``met_et``, ``met_et_syst``, ``ditau_m`` (e.g. ``photon_pt``, ``jet_E``,
    ``lep_ptcone30``, ``met_et``). Angles, IDs, weights, cross sections (pb) are unchanged.
    The alias ``atlas-opendata`` names the same layout (any ATLAS Open Data ``mini`` tree).
``nanoaod``
    CMS NanoAOD ``Events`` tree; already in GeV, nothing converted.
``higgs``
    UCI HIGGS CSV: no header, column 0 the label, then 21 low-level and 7 high-level features
    (:data:`HIGGS_COLUMNS`); values are already normalised, nothing converted. A file with the
    label in the last column, or with a header line naming these columns, is read as such
    (detected from the content, see :func:`hepsift.io.tables.csv_options`).
``hepmass``
    UCI HEPMASS CSV: header ``# label,f0,...,f26,mass``; nothing converted.
``photon-id``
    ``hepsift generate photon-id`` Parquet, one row per photon candidate, GeV.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hepsift.errors import ConfigError, SchemaError, nearest, suggest

__all__ = [
    "ATLAS_ENERGY_PATTERNS",
    "HEPMASS_COLUMNS",
    "HIGGS_COLUMNS",
    "SCHEMAS",
    "Schema",
    "check_names",
    "detect_root_schema",
    "get_schema",
]

MEV_TO_GEV = 1e-3

#: Branches of the ATLAS layout that are energies/momenta/masses in MeV.
ATLAS_ENERGY_PATTERNS: tuple[str, ...] = (
    "*_pt",
    "*_E",
    "*_m",
    "*_ptcone30",
    "*_ptcone20",
    "*_etcone20",
    "*_pt_syst",
    "met_et",
    "met_et_syst",
    "ditau_m",
)

HIGGS_COLUMNS: tuple[str, ...] = (
    "label",
    "lepton_pT",
    "lepton_eta",
    "lepton_phi",
    "missing_energy_magnitude",
    "missing_energy_phi",
    *(f"jet{i}_{v}" for i in range(1, 5) for v in ("pt", "eta", "phi", "btag")),
    "m_jj",
    "m_jjj",
    "m_lv",
    "m_jlv",
    "m_bb",
    "m_wbb",
    "m_wwbb",
)

HEPMASS_COLUMNS: tuple[str, ...] = ("label", *(f"f{i}" for i in range(27)), "mass")


@dataclass(frozen=True)
class Schema:
    """A file layout: default tree, unit of its energy branches, CSV column names."""

    name: str
    tree: str | None = None
    #: glob patterns of branches holding energies in ``energy_unit``
    energy_patterns: tuple[str, ...] = ()
    #: multiply energy branches by this to get GeV (1e-3 for MeV)
    to_gev: float = 1.0
    energy_unit: str = "GeV"
    #: CSV column names (None: take them from the file's header)
    columns: tuple[str, ...] | None = None
    #: whether a CSV has a header line
    header: bool = True
    #: branches that identify the layout in auto-detection
    signature: tuple[str, ...] = field(default=())

    def energy_branches(self, names: Iterable[str]) -> list[str]:
        """The names among ``names`` that this layout stores as energies (converted to GeV)."""
        if self.to_gev == 1.0:
            return []
        return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in self.energy_patterns)]


SCHEMAS: dict[str, Schema] = {
    "atlas-gamgam": Schema(
        "atlas-gamgam",
        tree="mini",
        energy_patterns=ATLAS_ENERGY_PATTERNS,
        to_gev=MEV_TO_GEV,
        energy_unit="MeV",
        signature=("photon_pt", "mcWeight", "XSection"),
    ),
    "nanoaod": Schema("nanoaod", tree="Events", signature=("run", "luminosityBlock", "event")),
    "higgs": Schema("higgs", columns=HIGGS_COLUMNS, header=False),
    "hepmass": Schema("hepmass", columns=HEPMASS_COLUMNS, header=True),
    "photon-id": Schema("photon-id", signature=("Rhad", "weta2", "label")),
}
SCHEMAS["atlas-opendata"] = SCHEMAS["atlas-gamgam"]


def get_schema(name: str | Schema | None) -> Schema | None:
    """The :class:`Schema` named ``name`` (None stays None); ConfigError with a hint otherwise."""
    if name is None or isinstance(name, Schema):
        return name
    if not isinstance(name, str):
        raise ConfigError(f"schema must be a layout name ({', '.join(SCHEMAS)}); got {name!r}")
    if name not in SCHEMAS:
        raise ConfigError(
            f"unknown schema '{name}'{suggest(name, SCHEMAS)} (known: {', '.join(SCHEMAS)})"
        )
    return SCHEMAS[name]


def detect_root_schema(tree_name: str, branch_names: Iterable[str]) -> Schema | None:
    """The known layout a ROOT tree follows, or None (read as-is, no unit conversion)."""
    names = set(branch_names)
    for schema in (SCHEMAS["atlas-gamgam"], SCHEMAS["nanoaod"]):
        if tree_name == schema.tree and all(s in names for s in schema.signature[:1]):
            return schema
    return None


def check_names(
    requested: Sequence[str], available: Iterable[str], *, what: str, where: str
) -> None:
    """SchemaError naming the first missing name, where, and the nearest available names."""
    pool = list(available)
    have = set(pool)
    missing = [r for r in requested if r not in have]
    if not missing:
        return
    first = missing[0]
    hints = nearest(first, pool, n=3)
    hint = f"; nearest: {', '.join(repr(h) for h in hints)}" if hints else ""
    more = f" (and {len(missing) - 1} more: {', '.join(missing[1:4])})" if len(missing) > 1 else ""
    raise SchemaError(f"{where} has no {what} '{first}'{more}{hint} ({len(pool)} available)")
