"""Validation plots of generated samples (PNG, matplotlib Agg + mplhep ATLAS style) written to
``OUT/validation/``: m_gg per production mode, photon-ID variables by class, m_wwbb per Z'
mass, jet multiplicities. Masses and momenta in GeV."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["diphoton_mass", "validation_plots"]


def diphoton_mass(tree: Any) -> tuple[np.ndarray, np.ndarray]:
    """m_gg (GeV) of the reference selection (SCENARIOS.md) on a GamGam ``mini`` tree's arrays
    (MeV) and the mask of selected events: trigger, exactly two tight photons with E_T > 35 /
    25 GeV, |eta| < 2.37 outside 1.37-1.52, isolated, E_T/m_gg > 0.35 / 0.25, 105-160 GeV."""
    import awkward as ak

    pt = tree["photon_pt"] / 1000.0
    eta = tree["photon_eta"]
    aeta = abs(eta)
    good = (
        tree["photon_isTightID"]
        & (pt > 25.0)
        & (aeta < 2.37)
        & ~((aeta > 1.37) & (aeta < 1.52))
        & (tree["photon_ptcone30"] / 1000.0 < 0.065 * pt)
        & (tree["photon_etcone20"] / 1000.0 < 0.065 * pt)
    )
    pt, eta, phi = pt[good], eta[good], tree["photon_phi"][good]
    two = (ak.num(pt) == 2) & np.asarray(tree["trigP"])
    pt2 = ak.to_numpy(ak.fill_none(ak.pad_none(pt, 2, clip=True), 0.0))
    eta2 = ak.to_numpy(ak.fill_none(ak.pad_none(eta, 2, clip=True), 0.0))
    phi2 = ak.to_numpy(ak.fill_none(ak.pad_none(phi, 2, clip=True), 0.0))
    m = np.sqrt(
        np.maximum(
            2
            * pt2[:, 0]
            * pt2[:, 1]
            * (np.cosh(eta2[:, 0] - eta2[:, 1]) - np.cos(phi2[:, 0] - phi2[:, 1])),
            0.0,
        )
    )
    mm = np.where(m > 0, m, 1.0)
    sel = (
        np.asarray(two)
        & (pt2[:, 0] > 35.0)
        & (pt2[:, 0] / mm > 0.35)
        & (pt2[:, 1] / mm > 0.25)
        & (m > 105.0)
        & (m < 160.0)
    )
    return m, sel


def _style() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import mplhep

    mplhep.style.use("ATLAS")


def _mass_and_jet_figures(
    rows: Iterable[tuple[str, np.ndarray, np.ndarray]],
    *,
    mass_bins: np.ndarray,
    mass_label: str,
    mass_png: str,
    jet_bins: np.ndarray,
) -> list[tuple[Any, str]]:
    """A mass and a jet-multiplicity figure, one normalised histogram a ``(label, masses,
    jet counts)`` row, and their file names."""
    import matplotlib.pyplot as plt

    fig_m, ax_m = plt.subplots()
    fig_j, ax_j = plt.subplots()
    for label, mass, n_jets in rows:
        ax_m.hist(mass, bins=list(mass_bins), histtype="step", density=True, label=label)
        ax_j.hist(n_jets, bins=list(jet_bins), histtype="step", density=True, label=label)
    for ax, xlabel in ((ax_m, mass_label), (ax_j, "jet multiplicity")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel("normalised")
        ax.legend(fontsize="small")
    return [(fig_m, mass_png), (fig_j, "jet_multiplicity.png")]


def _higgs_figures(out: Path, manifest: dict[str, Any]) -> list[tuple[Any, str]]:
    """m_gammagamma and jet multiplicity per production mode."""
    import uproot

    def rows() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for s in manifest["samples"]:
            with uproot.open(out / s["file"]) as f:
                t = f["mini"].arrays()
            m, sel = diphoton_mass(t)
            if sel.sum() > 0:
                nj = np.asarray(t["jet_n"]) if "jet_n" in t.fields else np.zeros(len(t))
                yield s["name"], m[sel], nj

    return _mass_and_jet_figures(
        rows(),
        mass_bins=np.linspace(105, 160, 56),
        mass_label=r"$m_{\gamma\gamma}$ [GeV]",
        mass_png="mgg_per_mode.png",
        jet_bins=np.arange(-0.5, 10.5),
    )


def _photon_figures(out: Path, manifest: dict[str, Any]) -> list[tuple[Any, str]]:
    """Shower-shape and isolation variables, prompt photons vs jets."""
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq

    tab = pq.read_table(out / "photon-id.parquet").to_pydict()
    y = np.asarray(tab["label"])
    figs: list[tuple[Any, str]] = []
    for var in ("Rhad", "weta2", "etcone20", "ptcone20", "ptcone30", "pt"):
        x = np.asarray(tab[var], dtype=float)
        fig, ax = plt.subplots()
        bins = list(np.linspace(np.percentile(x, 0.5), np.percentile(x, 99.5) + 1e-9, 40))
        for k, lab in ((1, "prompt photon"), (0, "jet (dijet)")):
            ax.hist(x[y == k], bins=bins, histtype="step", density=True, label=lab)
        ax.set_xlabel(var + (" [GeV]" if var not in ("Rhad", "weta2") else ""))
        ax.set_ylabel("normalised")
        ax.legend()
        figs.append((fig, f"photon_{var}.png"))
    return figs


def _resonance_figures(out: Path, manifest: dict[str, Any]) -> list[tuple[Any, str]]:
    """m_WWbb and jet multiplicity per Z' mass and for the ttbar background."""
    import pyarrow.parquet as pq

    tab = pq.read_table(out / "resonance-ttbar.parquet").to_pydict()
    samp = np.asarray(tab["sample"])
    mwwbb = np.asarray(tab["f26"], dtype=float)
    n_jets = np.asarray(tab["f5"])
    rows = [
        (s["name"], mwwbb[k], n_jets[k])
        for s in manifest["samples"]
        if (k := samp == s["name"]).sum() > 0
    ]
    return _mass_and_jet_figures(
        rows,
        mass_bins=np.linspace(200, 2500, 47),
        mass_label=r"$m_{WWbb}$ [GeV]",
        mass_png="mwwbb_per_mass.png",
        jet_bins=np.arange(3.5, 12.5),
    )


def validation_plots(out: str | Path) -> list[Path]:
    """Write the validation plots of the scenario in ``out`` (read from its manifest)."""
    _style()
    import matplotlib.pyplot as plt

    from hepsift._files import atomic_write_with

    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    vdir = out / "validation"
    vdir.mkdir(exist_ok=True)
    figures = {"higgs-diphoton": _higgs_figures, "photon-id": _photon_figures}.get(
        manifest["scenario"], _resonance_figures
    )
    written: list[Path] = []
    for fig, name in figures(out, manifest):
        path = vdir / name

        def draw(tmp: Any, fig: Any = fig) -> None:
            fig.savefig(tmp, format="png", dpi=90)

        atomic_write_with(path, draw, suffix=".png")
        plt.close(fig)
        written.append(path)
    return written
