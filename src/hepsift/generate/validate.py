"""Validation plots of generated samples (PNG, matplotlib Agg + mplhep ATLAS style) written to
``OUT/validation/``: m_gg per production mode, photon-ID variables by class, m_wwbb per Z'
mass, jet multiplicities. Masses and momenta in GeV."""

from __future__ import annotations

import json
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


def _higgs_figures(out: Path, manifest: dict[str, Any]) -> list[tuple[Any, str]]:
    """m_gammagamma and jet multiplicity per production mode."""
    import matplotlib.pyplot as plt
    import uproot

    fig_m, ax_m = plt.subplots()
    fig_j, ax_j = plt.subplots()
    for s in manifest["samples"]:
        with uproot.open(out / s["file"]) as f:
            t = f["mini"].arrays()
        m, sel = diphoton_mass(t)
        if sel.sum() == 0:
            continue
        ax_m.hist(
            m[sel],
            bins=list(np.linspace(105, 160, 56)),
            histtype="step",
            density=True,
            label=s["name"],
        )
        nj = np.asarray(t["jet_n"]) if "jet_n" in t.fields else np.zeros(len(t))
        ax_j.hist(
            nj, bins=list(np.arange(-0.5, 10.5)), histtype="step", density=True, label=s["name"]
        )
    ax_m.set_xlabel(r"$m_{\gamma\gamma}$ [GeV]")
    ax_m.set_ylabel("normalised")
    ax_m.legend(fontsize="small")
    ax_j.set_xlabel("jet multiplicity")
    ax_j.set_ylabel("normalised")
    ax_j.legend(fontsize="small")
    return [(fig_m, "mgg_per_mode.png"), (fig_j, "jet_multiplicity.png")]


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
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq

    tab = pq.read_table(out / "resonance-ttbar.parquet").to_pydict()
    samp = np.asarray(tab["sample"])
    mwwbb = np.asarray(tab["f26"], dtype=float)
    fig, ax = plt.subplots()
    fig_j, ax_j = plt.subplots()
    for s in manifest["samples"]:
        k = samp == s["name"]
        if k.sum() == 0:
            continue
        ax.hist(
            mwwbb[k],
            bins=list(np.linspace(200, 2500, 47)),
            histtype="step",
            density=True,
            label=s["name"],
        )
        ax_j.hist(
            np.asarray(tab["f5"])[k],
            bins=list(np.arange(3.5, 12.5)),
            histtype="step",
            density=True,
            label=s["name"],
        )
    ax.set_xlabel(r"$m_{WWbb}$ [GeV]")
    ax.set_ylabel("normalised")
    ax.legend(fontsize="small")
    ax_j.set_xlabel("jet multiplicity")
    ax_j.legend(fontsize="small")
    return [(fig, "mwwbb_per_mass.png"), (fig_j, "jet_multiplicity.png")]


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
