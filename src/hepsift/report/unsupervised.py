"""The report section of a run's ``unsupervised:`` result (:mod:`hepsift.unsupervised.run`).

``kind: anomaly``: one table of every method (AUC, max SIC, eff_S at eff_B = 1 %, bump-hunt
significance without a cut and after the best cut), the bump hunt after each cut, the SIC
curves and the m_gg spectra with the sideband fit. ``kind: explore``: explained variance of
PCA and LDA, the projections per class, the k scan (silhouette, elbow) and the purity tables.
Figures are drawn by :mod:`hepsift.plots.unsupervised` through the report's FigureSet.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from hepsift.report.figures import FigureSet
from hepsift.report.html import Block, Section, Table

__all__ = ["unsupervised_section"]


def _sic(curves: Any, ax: Any) -> Any:
    from hepsift.plots.unsupervised import sic_curves

    return sic_curves(curves, ax=ax)


def _bump(hist: Any, sr: Any, label: str, ax: Any) -> Any:
    from hepsift.plots.unsupervised import bump_hunt

    return bump_hunt(hist["edges"], hist["counts"], hist["fit"], sr, label=label, ax=ax)


def _proj(points: Any, labels: Any, names: Any, axis_names: Any, ax: Any) -> Any:
    from hepsift.plots.unsupervised import projection

    return projection(points, labels, names, axis_names=axis_names, ax=ax)


def _scan(scan: Any, ax: Any) -> Any:
    from hepsift.plots.unsupervised import cluster_scan

    return cluster_scan(scan["ks"], scan["silhouette"], scan["inertia"], ax=ax)


def _purity(pur: Any, names: Any, ax: Any) -> Any:
    from hepsift.plots.unsupervised import cluster_purity

    return cluster_purity(pur["clusters"], pur["fractions"], names, weights=pur["weight"], ax=ax)


def unsupervised_section(figs: FigureSet, result: Mapping[str, Any]) -> Section:
    """The ``unsupervised`` section of the report."""
    if result.get("kind") == "anomaly":
        return Section(
            "unsupervised", "Anomaly detection on injected signal", _anomaly(figs, result)
        )
    return Section("unsupervised", "Unsupervised exploration", _explore(figs, result))


def _anomaly(figs: FigureSet, res: Mapping[str, Any]) -> list[Block]:
    methods: Mapping[str, Any] = res["methods"]
    blk = Block(heading="Methods judged on the injected signal", id="unsupervised-methods")
    blk.paragraphs.append(
        f"{res['n_signal']} signal events injected into {res['n_background']} background "
        f"events (fraction {res['injection']:g}); {res['n_signal_in_sr']} signal and "
        f"{res['n_background_in_sr']} background events in the signal region "
        f"{res['signal_region']} GeV. The methods never see the labels; {res['resonance']} and "
        f"the features correlated with it in the sidebands are left out (inputs: "
        f"{', '.join(res['features'])}). 'supervised' is the upper bound: a classifier "
        "trained with the labels on the same events (k-folded). SIC and eff_S are computed "
        "on the signal-region events; Z is the local significance of the bump hunt (sideband "
        "fit, Poisson)."
    )
    rows = [
        [
            name,
            r["auc"],
            r["max_sic"],
            r["signal_efficiency_at_background_1pc"],
            r["z_no_cut"],
            r["z_best_cut"],
            r["best_keep_fraction"],
            round(res["seconds"].get(name, float("nan")), 1),
        ]
        for name, r in methods.items()
    ]
    cols = ["method", "AUC (SR)", "max SIC", "eff_S at eff_B 1 %", "Z no cut", "Z best cut",
            "kept fraction", "seconds"]  # fmt: skip
    blk.tables.append(Table("Per method", cols, rows))
    hunt_rows = [
        [name, h["keep_fraction"], h["observed"], h["expected_background"],
         h["sigma_background"], h["z_local"], h.get("true_signal_in_sr")]
        for name, r in methods.items()
        for h in r["bump_hunt"]
    ]  # fmt: skip
    blk.tables.append(
        Table(
            "Bump hunt after each cut",
            ["method", "kept fraction", "observed in SR", "fit B in SR", "sigma B", "Z local",
             "true signal in SR"],
            hunt_rows,
            note="the true signal count uses the hidden labels (for the reader, not the method)",
        )
    )  # fmt: skip
    curves = {
        name: (r["curve"]["signal_efficiency"], r["curve"]["sic"]) for name, r in methods.items()
    }
    blk.figures.append(
        figs.draw(
            "unsupervised_sic",
            partial(_sic, curves),
            title="SIC vs signal efficiency",
            label=False,  # unit-weight event counts: no luminosity label
        )
    )
    sr = res["signal_region"]
    for name in ("cwola",):
        r = methods.get(name)
        if not r:
            continue
        best = max(r["bump_hunt"], key=lambda h: h["z_local"])
        none = next(h for h in r["bump_hunt"] if h["keep_fraction"] >= 1.0)
        for tag, h in (("nocut", none), ("best", best)):
            if "histogram" not in h:
                continue
            blk.figures.append(
                figs.draw(
                    f"unsupervised_bump_{name}_{tag}",
                    partial(_bump, h["histogram"], sr, f"kept fraction {h['keep_fraction']:g}"),
                    title=f"Bump hunt ({name}, kept {h['keep_fraction']:g}): Z = "
                    f"{h['z_local']:.2f}",
                    label=False,
                )
            )
    return [blk]


def _explore(figs: FigureSet, res: Mapping[str, Any]) -> list[Block]:
    names = res["class_names"]
    red = Block(heading="PCA and LDA", id="unsupervised-reduction")
    red.tables.append(
        Table(
            "Explained variance ratio",
            ["method", *[f"component {i + 1}" for i in range(len(res["pca"]["explained_variance_ratio"]))]],
            [
                ["PCA", *res["pca"]["explained_variance_ratio"]],
                ["LDA", *res["lda"]["explained_variance_ratio"]],
            ],
            note="weighted, on standardised features; LDA has at most n_classes - 1 components",
        )
    )  # fmt: skip
    for kind in ("pca", "lda"):
        p = res[kind]["projection"]
        red.figures.append(
            figs.draw(
                f"unsupervised_{kind}",
                partial(_proj, p["points"], p["labels"], names,
                        (f"{kind.upper()} 1", f"{kind.upper()} 2")),
                title=f"{kind.upper()} projection per class",
            )
        )  # fmt: skip
    clu = Block(heading="Clustering", id="unsupervised-clustering")
    for method, r in res["clustering"].items():
        pur = r["purity"]
        rows = [
            [c, wsum, *fr]
            for c, wsum, fr in zip(pur["clusters"], pur["weight"], pur["fractions"], strict=True)
        ]
        clu.tables.append(
            Table(
                f"{method}: ARI {pur['ari']:.3f}, weighted purity {pur['purity']:.3f}",
                ["cluster (-1: noise)", "weight", *[f"fraction {n}" for n in names]],
                rows,
                note=", ".join(f"{k}={v}" for k, v in r["info"].items() if k != "scan"),
            )
        )
        clu.figures.append(
            figs.draw(
                f"unsupervised_{method}_purity",
                partial(_purity, pur, names),
                title=f"{method}: weighted class fractions per cluster (ARI {pur['ari']:.3f})",
            )
        )
        scan = r["info"].get("scan")
        if scan:
            clu.figures.append(
                figs.draw(
                    f"unsupervised_{method}_scan",
                    partial(_scan, scan),
                    title=f"{method}: silhouette (chooses k) and inertia (elbow)",
                )
            )
    return [red, clu]
