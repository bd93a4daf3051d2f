"""The one cross-section / k-factor table of the generated samples.

Pythia's cross section (``info.sigmaGen()``, LO, after any generator-level filter) is recorded
for every sample as ``xsection_pb``; the k-factor that brings it to the best-known value is
recorded beside it (``kfactor``) and applied by default when a run reads the manifest
(weight = mcWeight * XSection * kfactor * lumi / SumWeights).

Two kinds of entries:

- ``sigma_ref_pb``: a reference cross section times branching fraction (pb) for the
  *unfiltered* process; k = sigma_ref / (sigma_LO / filter efficiency). Used for the Higgs
  signal: LHC Higgs Cross Section Working Group, CERN Yellow Report 4 (CERN-2017-002-M,
  arXiv:1610.07922), 13 TeV, m_H = 125 GeV: ggF 48.58 pb (N3LO QCD + NLO EW), VBF 3.782 pb
  (NNLO QCD + NLO EW), WH 1.373 pb, ZH 0.8839 pb (NNLO QCD + NLO EW), ttH 0.5071 pb (NLO QCD +
  NLO EW); BR(H -> gamma gamma) = 2.27e-3.
- ``kfactor``: a fixed higher-order / LO ratio. Continuum diphoton: 1.7, the middle of the
  NLO/LO range 1.5-2 of isolated-diphoton calculations at the LHC (DIPHOX, Binoth et al., EPJC
  16 (2000) 311; Catani et al., PRL 108 (2012) 072001, arXiv:1110.2375). Photon + jet and
  jet + jet stay at LO (k = 1): their yield after the diphoton selection is set by the
  jet -> photon fake rate of the detector model, a larger uncertainty than the k-factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["BR_H_GAMMAGAMMA", "XSEC_TABLE", "XsecEntry", "kfactor_for", "normalisation"]

#: BR(H -> gamma gamma), m_H = 125 GeV (LHC HXSWG YR4).
BR_H_GAMMAGAMMA = 2.27e-3


@dataclass(frozen=True)
class XsecEntry:
    """One row of the table: a reference sigma x BR (pb) or a fixed k-factor, and its source."""

    sigma_ref_pb: float | None
    kfactor: float | None
    source: str


_YR4 = "LHC HXSWG YR4 (arXiv:1610.07922), 13 TeV, m_H = 125 GeV, x BR(H->gg) 2.27e-3"

#: sample name -> entry. Samples not listed keep k = 1 (the generator's LO value).
XSEC_TABLE: dict[str, XsecEntry] = {
    "ggF": XsecEntry(48.58 * BR_H_GAMMAGAMMA, None, "ggF N3LO QCD + NLO EW 48.58 pb; " + _YR4),
    "VBF": XsecEntry(3.782 * BR_H_GAMMAGAMMA, None, "VBF NNLO QCD + NLO EW 3.782 pb; " + _YR4),
    "WH": XsecEntry(1.373 * BR_H_GAMMAGAMMA, None, "WH NNLO QCD + NLO EW 1.373 pb; " + _YR4),
    "ZH": XsecEntry(0.8839 * BR_H_GAMMAGAMMA, None, "ZH NNLO QCD + NLO EW 0.8839 pb; " + _YR4),
    "ttH": XsecEntry(0.5071 * BR_H_GAMMAGAMMA, None, "ttH NLO QCD + NLO EW 0.5071 pb; " + _YR4),
    "diphoton": XsecEntry(
        None,
        1.7,
        "continuum gamma gamma NLO/LO 1.5-2 (DIPHOX EPJC 16 (2000) 311; Catani et al. "
        "arXiv:1110.2375); 1.7 taken",
    ),
    "photonjet": XsecEntry(None, 1.0, "photon + jet at LO (k = 1)"),
    "jetjet": XsecEntry(None, 1.0, "jet + jet at LO (k = 1)"),
}


def kfactor_for(sample: str, sigma_lo_pb: float, filter_efficiency: float = 1.0) -> float:
    """The k-factor of ``sample`` given Pythia's LO cross section ``sigma_lo_pb`` (after the
    generator-level filter of efficiency ``filter_efficiency``); 1.0 for samples not in the
    table."""
    entry = XSEC_TABLE.get(sample)
    if entry is None:
        return 1.0
    if entry.kfactor is not None:
        return entry.kfactor
    assert entry.sigma_ref_pb is not None
    unfiltered = sigma_lo_pb / filter_efficiency if filter_efficiency > 0 else 0.0
    return entry.sigma_ref_pb / unfiltered if unfiltered > 0 else 1.0


def normalisation(sample: str, sigma_lo_pb: float, metas: list[dict[str, Any]]) -> dict[str, Any]:
    """Manifest fields of a sample's normalisation from its chunk bookkeeping: the generator
    filter's efficiency (1 without a filter), the k-factor and its source."""
    tried = sum(int(m.get("filter_tried", 0)) for m in metas)
    passed = sum(int(m.get("filter_passed", 0)) for m in metas)
    eff = passed / tried if tried > 0 else 1.0
    entry = XSEC_TABLE.get(sample)
    hadron = [m["hadron_filter_passed"] for m in metas if m.get("hadron_filter_passed") is not None]
    extra: dict[str, Any] = {}
    if hadron:
        generated = sum(int(m["events_generated"]) for m in metas)
        extra = {
            "hadron_filter_events_passed": int(sum(hadron)),
            "hadron_filter_efficiency": sum(hadron) / generated if generated else 0.0,
            "hadron_filter_note": "sum_weights counts every generated event (passed or not): "
            "weight = mcWeight * xsection_pb * kfactor * lumi / sum_weights is exact",
        }
    return {
        "xsection_note": "xsection_pb = Pythia LO sigmaGen after the generator filter",
        "filter_efficiency": eff,
        "filter_events_tried": tried,
        "kfactor": kfactor_for(sample, sigma_lo_pb, eff),
        "kfactor_source": entry.source if entry is not None else "none (k = 1, LO)",
        **extra,
    }
