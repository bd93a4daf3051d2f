"""Validation plots of generated samples (PNG, matplotlib Agg + mplhep ATLAS style) written to
``OUT/validation/``: m_gg per production mode, the background m_gg with its exponential fit,
photon-ID variables by class with their single-variable AUCs, m_wwbb per Z' mass, jet
multiplicities, the multijet-bsm jet/lepton multiplicities, scalar sum pT and sphericity; and
the target figures of SCENARIOS.md (:func:`validation_figures`, also
written to ``OUT/validation/figures.json``). Masses and momenta in GeV."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.generate.physics_checks import fraction_outside, zero_fraction
from hepsift.metrics import sigma68

__all__ = [
    "REDUCIBLE",
    "TARGETS",
    "background_figures",
    "diphoton_mass",
    "exponential_slope",
    "figure_lines",
    "multijet_figures",
    "multijet_values",
    "sigma68",
    "validation_figures",
    "validation_plots",
]

#: Target ranges of the figures (ATLAS Open Data 13 TeV and the references of SCENARIOS.md):
#: name -> (low, high).
TARGETS: dict[str, tuple[float, float]] = {
    "ggF eff x acc": (0.33, 0.38),
    "ggF sigma68 [GeV]": (1.6, 2.4),
    "ggF fraction outside 120-130": (0.02, 0.06),
    "S/B in 120-130": (0.015, 0.035),
    "expected signal": (1000.0, 1600.0),
    "continuum slope [1/GeV]": (-0.0341, -0.0279),
    "photon-id max single-variable AUC": (0.5, 0.95),
    "photon-id max zero fraction": (0.0, 0.30),
    # multijet-bsm (simplified models; SCENARIOS.md): reconstructed e/mu of e+ mu+ tau+, BH
    # events rounder than QCD, QCD at the models' scalar sum pT
    "multijet-bsm sphaleron mean leptons": (1.0, 3.0),
    "multijet-bsm sphericity black-hole minus qcd": (0.1, 1.0),
    "multijet-bsm st qcd / sphaleron": (0.7, 1.3),
    "multijet-bsm st qcd / black-hole": (0.7, 1.3),
}
#: Luminosity (fb^-1) of the expected yields (ATLAS 2015-16, the Open Data release).
VALIDATION_LUMI_FB = 36.1


def exponential_slope(
    m: np.ndarray,
    w: np.ndarray,
    *,
    ranges: tuple[tuple[float, float], ...] = ((105.0, 120.0), (130.0, 160.0)),
) -> float:
    """Slope b (1/GeV) of exp(b m) fitted by weighted unbinned maximum likelihood to the events
    inside ``ranges`` (the sidebands of the 2016 ATLAS fit by default)."""
    from scipy.optimize import minimize_scalar

    m = np.asarray(m, dtype=np.float64)
    w = np.abs(np.asarray(w, dtype=np.float64))
    inside = np.zeros(len(m), dtype=bool)
    for lo, hi in ranges:
        inside |= (m > lo) & (m < hi)
    m, w = m[inside], w[inside]
    if w.sum() <= 0:
        return float("nan")
    ref = ranges[0][0]

    def nll(b: float) -> float:
        if abs(b) < 1e-9:
            norm = sum(hi - lo for lo, hi in ranges)
        else:
            norm = sum((np.exp(b * (hi - ref)) - np.exp(b * (lo - ref))) / b for lo, hi in ranges)
        return float(-np.sum(w * b * (m - ref)) + w.sum() * np.log(norm))

    res = minimize_scalar(nll, bounds=(-0.2, 0.1), method="bounded")
    return float(res.x)


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


def _selected(out: Path, manifest: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    """Per sample of a higgs-diphoton folder: (manifest entry, (m_gg, selected, weight at
    VALIDATION_LUMI_FB with the k-factor, raw mcWeight, eventNumber))."""
    import uproot

    lumi_pb = VALIDATION_LUMI_FB * 1000.0
    for s in manifest["samples"]:
        with uproot.open(out / s["file"]) as f:
            t = f["mini"].arrays()
        m, sel = diphoton_mass(t)
        mc = np.asarray(t["mcWeight"], dtype=np.float64)
        scale = s["xsection_pb"] * s.get("kfactor", 1.0) * lumi_pb / s["sum_weights"]
        yield s, (m, sel, mc * scale, mc, np.asarray(t["eventNumber"]))


def _higgs_values(out: Path, manifest: dict[str, Any]) -> dict[str, float]:
    """eff x acc, sigma68 and tails of ggF; S/B, expected signal and continuum slope."""
    fig: dict[str, float] = {}
    sig = bkg = sig_all = 0.0
    bm: list[np.ndarray] = []
    bw: list[np.ndarray] = []
    have_bkg = have_sig = False
    n_selected = 0
    for s, (m, sel, w, mc, number) in _selected(out, manifest):
        window = sel & (m > 120.0) & (m < 130.0)
        n_selected += int(sel.sum())
        if s["name"] == "ggF":
            eff = float(mc[sel].sum() / s["sum_weights"]) * s.get("filter_efficiency", 1.0)
            fig["ggF eff x acc"] = eff
            fig["ggF sigma68 [GeV]"] = sigma68(m[sel])
            fig["ggF fraction outside 120-130"] = sum(fraction_outside(m[sel], 120.0, 130.0))
        if s["is_signal"]:
            have_sig = True
            sig += float(w[window].sum())
            sig_all += float(w[sel].sum())
        else:
            have_bkg = True
            bkg += float(w[window].sum())
            bm.append(m[sel])
            bw.append(w[sel])
            fig.update(background_figures(s["name"], m, sel, w, number))
    fig["selected MC events"] = float(n_selected)
    if have_sig:
        fig["expected signal"] = sig_all
    if have_sig and have_bkg and bkg > 0:
        fig["S/B in 120-130"] = sig / bkg
        reducible = sum(fig.get(f"background {r} in 120-130", 0.0) for r in REDUCIBLE)
        fig["reducible fraction of background in 120-130"] = reducible / bkg
    if have_bkg:
        fig["continuum slope [1/GeV]"] = exponential_slope(np.concatenate(bm), np.concatenate(bw))
    return fig


#: The reducible backgrounds (a jet faking a photon) of the higgs-diphoton scenario.
REDUCIBLE = ("photonjet", "jetjet")


def background_figures(
    name: str,
    m: np.ndarray,
    sel: np.ndarray,
    w: np.ndarray,
    number: np.ndarray | None = None,
) -> dict[str, float]:
    """Yield in 120-130 GeV of one background, its selected MC events and the relative
    statistical error of that yield (sqrt(sum w^2) / sum w, with the rows of one generated
    event, its detector replicas, summed first: near 1 when a few events make the yield), and
    the continuum slope of that background alone."""
    window = sel & (m > 120.0) & (m < 130.0)
    y = float(w[window].sum())
    number = np.arange(len(m)) if number is None else np.asarray(number)
    _, inv = np.unique(number[window], return_inverse=True)
    per_event = np.bincount(inv, weights=w[window]) if window.any() else np.zeros(0)
    out = {
        f"background {name} in 120-130": y,
        f"background {name} selected MC events": float(len(np.unique(number[sel]))),
        f"background {name} rel. stat. error in 120-130": (
            float(np.sqrt(np.sum(per_event**2))) / y if y > 0 else float("nan")
        ),
    }
    if sel.sum() >= 20:
        out[f"background {name} slope [1/GeV]"] = exponential_slope(m[sel], w[sel])
    return out


_PHOTON_VARS = ("Rhad", "weta2", "etcone20", "ptcone20", "ptcone30", "n_tracks_in_cone", "pt")


def _photon_values(out: Path) -> dict[str, float]:
    """Single-variable AUCs (direction-free, unweighted; pT also weighted) and the fraction of
    each class where a variable is exactly zero, over the candidates passing the loose
    preselection (column ``loose``; all rows of a table without it), and its efficiency."""
    import pyarrow.parquet as pq
    from sklearn.metrics import roc_auc_score

    tab: dict[str, Any] = pq.read_table(out / "photon-id.parquet").to_pydict()
    fig: dict[str, float] = {}
    if "loose" in tab:  # the task: candidates passing the loose preselection
        y_all = np.asarray(tab["label"])
        keep = np.asarray(tab["loose"], dtype=bool)
        for k, lab in ((1, "prompt"), (0, "jet")):
            n_k = max(int((y_all == k).sum()), 1)
            fig[f"photon-id loose efficiency {lab}"] = float((keep & (y_all == k)).sum()) / n_k
        tab = {key: np.asarray(v)[keep] for key, v in tab.items()}
    y = np.asarray(tab["label"])
    if len(np.unique(y)) < 2:
        return fig
    aucs, zeros = [], []
    for var in (*_PHOTON_VARS, "eta"):
        x = np.asarray(tab[var], dtype=float)
        x = np.abs(x) if var == "eta" else x
        a = float(roc_auc_score(y, x))
        fig[f"photon-id AUC {var}"] = max(a, 1.0 - a)
        aucs.append(max(a, 1.0 - a))
        if var not in ("pt", "eta"):
            for k, lab in ((1, "prompt"), (0, "jet")):
                z = zero_fraction(x[y == k])
                fig[f"photon-id zero fraction {var} {lab}"] = z
                zeros.append(z)
    aw = float(roc_auc_score(y, np.asarray(tab["pt"], float), sample_weight=tab["weight"]))
    fig["photon-id AUC pt (physics weights)"] = max(aw, 1.0 - aw)
    fig["photon-id max single-variable AUC"] = max(aucs)
    fig["photon-id max zero fraction"] = max(zeros)
    fig["photon-id rows prompt"] = float((y == 1).sum())
    fig["photon-id rows jet"] = float((y == 0).sum())
    return fig


def _multijet_tables(out: Path, manifest: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """The sanity-check columns of every sample table of a multijet-bsm output."""
    import pyarrow.parquet as pq

    cols = ["n_jets", "st", "sphericity", "n_electrons", "n_muons"]
    out_tables: dict[str, dict[str, np.ndarray]] = {}
    for s in manifest["samples"]:
        tab = pq.read_table(out / s["file"], columns=cols)
        out_tables[s["name"]] = {c: tab.column(c).to_numpy() for c in cols}
    return out_tables


def multijet_values(out: Path, manifest: dict[str, Any]) -> dict[str, float]:
    """multijet-bsm: per sample the mean jet multiplicity, scalar sum pT, sphericity and
    lepton counts; the sphaleron's leptons, black hole minus QCD sphericity and the ratios of
    scalar sum pT (targets in :data:`TARGETS`)."""
    from hepsift.generate.bsm import sample_summary

    tables = _multijet_tables(out, manifest)
    fig: dict[str, float] = {}
    summ = {name: sample_summary(t) for name, t in tables.items()}
    for name, values in summ.items():
        for k, v in values.items():
            fig[f"multijet-bsm {name} {k}"] = v
    if "black-hole" in summ and "qcd" in summ:
        fig["multijet-bsm sphericity black-hole minus qcd"] = (
            summ["black-hole"]["mean sphericity"] - summ["qcd"]["mean sphericity"]
        )
    for model in ("sphaleron", "black-hole"):
        if model in summ and "qcd" in summ:
            fig[f"multijet-bsm st qcd / {model}"] = (
                summ["qcd"]["mean st [GeV]"] / summ[model]["mean st [GeV]"]
            )
    return fig


def multijet_figures(out: Path, manifest: dict[str, Any]) -> list[tuple[Any, str]]:
    """multijet-bsm: jet multiplicity, scalar sum pT, sphericity and lepton count per sample."""
    import matplotlib.pyplot as plt

    tables = _multijet_tables(out, manifest)
    specs = (
        ("n_jets", np.arange(-0.5, 25.5), "jet multiplicity", "jet_multiplicity.png"),
        ("st", np.linspace(0, 14000, 36), "scalar sum pT [GeV]", "st.png"),
        ("sphericity", np.linspace(0, 1, 26), "sphericity (jets)", "sphericity.png"),
        ("n_lep", np.arange(-0.5, 6.5), "electrons + muons", "lepton_multiplicity.png"),
    )
    figs: list[tuple[Any, str]] = []
    for var, bins, label, png in specs:
        fig, ax = plt.subplots()
        for name, t in tables.items():
            x = t["n_electrons"] + t["n_muons"] if var == "n_lep" else t[var]
            ax.hist(x, bins=list(bins), histtype="step", density=True, label=name)
        ax.set_xlabel(label)
        ax.set_ylabel("normalised")
        ax.legend(fontsize="small")
        figs.append((fig, png))
    return figs


def validation_figures(out: str | Path) -> dict[str, float]:
    """The target figures of the scenario in ``out`` (see :data:`TARGETS`); those whose
    samples are missing are left out."""
    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    if manifest["scenario"] == "higgs-diphoton":
        return _higgs_values(out, manifest)
    if manifest["scenario"] == "photon-id":
        return _photon_values(out)
    if manifest["scenario"] == "multijet-bsm":
        return multijet_values(out, manifest)
    return {}


def figure_lines(figures: dict[str, float]) -> list[str]:
    """One printable line per figure, with its target range and whether it is inside."""
    lines = []
    for name, value in figures.items():
        line = f"{name}: {value:.4g}"
        if name in TARGETS:
            lo, hi = TARGETS[name]
            ok = lo <= value <= hi
            line += f"  (target {lo:g} to {hi:g}: {'ok' if ok else 'OUTSIDE'})"
        lines.append(line)
    return lines


def _background_fit_figure(out: Path, manifest: dict[str, Any]) -> list[tuple[Any, str]]:
    """Stacked background m_gg (weighted) with the sideband exponential fit."""
    import matplotlib.pyplot as plt

    bins = np.linspace(105, 160, 23)
    ms, ws, labels = [], [], []
    for s, (m, sel, w, *_) in _selected(out, manifest):
        if not s["is_signal"] and sel.any():
            ms.append(m[sel])
            ws.append(w[sel])
            labels.append(s["name"])
    if not ms:
        return []
    fig, ax = plt.subplots()
    ax.hist(ms, bins=list(bins), weights=ws, stacked=True, label=labels, histtype="stepfilled")
    m_all, w_all = np.concatenate(ms), np.concatenate(ws)
    b = exponential_slope(m_all, w_all)
    x = np.linspace(105, 160, 200)
    total = w_all.sum() * (bins[1] - bins[0])
    norm = b / (np.exp(b * 160) - np.exp(b * 105)) if b != 0 else 1 / 55.0
    ax.plot(x, total * norm * np.exp(b * x), label=f"exp fit, slope {b:.4f}/GeV")
    ax.set_xlabel(r"$m_{\gamma\gamma}$ [GeV]")
    ax.set_ylabel(f"events / {bins[1] - bins[0]:.1f} GeV ({VALIDATION_LUMI_FB:g} fb$^{{-1}}$)")
    ax.legend(fontsize="small")
    return [(fig, "mgg_background_fit.png")]


def _photon_auc_figure(figures: dict[str, float]) -> list[tuple[Any, str]]:
    """Bar chart of the single-variable AUCs with the 0.95 limit."""
    import matplotlib.pyplot as plt

    names = [k.removeprefix("photon-id AUC ") for k in figures if k.startswith("photon-id AUC ")]
    vals = [figures[f"photon-id AUC {n}"] for n in names]
    if not vals:
        return []
    fig, ax = plt.subplots()
    ax.barh(names, vals)
    ax.axvline(0.95, color="red", linestyle="--", label="limit 0.95")
    ax.set_xlim(0.5, 1.0)
    ax.set_xlabel("single-variable AUC")
    ax.legend(fontsize="small")
    return [(fig, "photon_id_auc.png")]


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

    from hepsift._files import atomic_write_text, atomic_write_with

    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    vdir = out / "validation"
    vdir.mkdir(exist_ok=True)
    figures = {
        "higgs-diphoton": _higgs_figures,
        "photon-id": _photon_figures,
        "multijet-bsm": multijet_figures,
    }.get(manifest["scenario"], _resonance_figures)
    values = validation_figures(out)
    atomic_write_text(vdir / "figures.json", json.dumps(values, indent=2) + "\n")
    extra: list[tuple[Any, str]] = []
    if manifest["scenario"] == "higgs-diphoton":
        extra = _background_fit_figure(out, manifest)
    elif manifest["scenario"] == "photon-id":
        extra = _photon_auc_figure(values)
    written: list[Path] = []  # PNGs; the figures go to figures.json beside them
    for fig, name in [*figures(out, manifest), *extra]:
        path = vdir / name

        def draw(tmp: Any, fig: Any = fig) -> None:
            fig.savefig(tmp, format="png", dpi=90)

        atomic_write_with(path, draw, suffix=".png")
        plt.close(fig)
        written.append(path)
    return written
