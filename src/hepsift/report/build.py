"""Assemble the figures and the HTML report of a run (called by :func:`hepsift.run.run`).

This module decides the figure file names (``plots/<key>.png|pdf``) and the report layout:
data (samples, cross sections, cutflow, yields), features (distributions, correlations), one
block per model (hyperparameters, training curve, scores, confusion, importance), the
comparison (ROC, ranking, working points, significance) and the provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hepsift.report.figures import FigureRecord, FigureSet
from hepsift.report.html import Block, Section, Table, write_report

__all__ = [
    "build_report",
    "comparison_rows",
    "cutflow_tables",
    "present_objects",
    "scaling_note",
    "significance_note",
    "unit_weights",
    "working_point_rows",
]


def _rows_from_dicts(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    columns: list[str] = []
    for r in rows:
        for k in r:
            if k not in columns:
                columns.append(str(k))
    return columns, [[r.get(c, "") for c in columns] for r in rows]


def _ci(ev: Any) -> str:
    low, high = ev.auc_ci68
    return f"{ev.auc:.4f} [{low:.4f}, {high:.4f}]"


def comparison_rows(evaluations: Sequence[Any]) -> tuple[list[str], list[list[Any]]]:
    """The ranking table (best first): AUC with its 68 % interval, rejection at 50 %, best Z."""
    from hepsift.evaluate import ranking

    cols = [
        "rank",
        "model",
        "family",
        "AUC [68 % CI]",
        "rejection @ 50 % sig. eff.",
        "best Z_A",
        "cut",
    ]
    rows = []
    for i, ev in enumerate(ranking(evaluations), start=1):
        best = ev.best_cut or {}
        rej = ev.rejection_at(0.5) if ev.binary else float("nan")
        rows.append(
            [
                i,
                ev.name,
                ev.family,
                _ci(ev),
                rej,
                best.get("z", float("nan")),
                best.get("cut", float("nan")),
            ]
        )
    return cols, rows


def working_point_rows(
    evaluations: Sequence[Any], working_points: Sequence[float]
) -> tuple[list[str], list[list[Any]]]:
    cols = ["model"] + [f"1/eps_b @ eps_s = {w:g}" for w in working_points]
    rows = []
    for ev in evaluations:
        if ev.binary:
            rows.append([ev.name] + [ev.rejection_at(w) for w in working_points])
    return cols, rows


def _metric_rows(evaluations: Sequence[Any]) -> tuple[list[str], list[list[Any]]]:
    cols = ["model", "threshold", "accuracy", "precision", "recall", "F1", "train time [s]"]
    rows = [
        [
            ev.name,
            ev.threshold if ev.binary else "arg max",
            ev.scores["accuracy"],
            ev.scores["precision"],
            ev.scores["recall"],
            ev.scores["f1"],
            ev.extra.get("train_seconds", float("nan")),
        ]
        for ev in evaluations
    ]
    return cols, rows


def present_objects(name: str, values: Any, fill_value: float = 0.0) -> Any:
    """Mask of the events where feature ``name`` has a value: finite, and for an object slot
    (``jet_pt_1``: a name ending in ``_<index>``) not the fill value of an absent object."""
    import re

    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(v)
    if re.search(r"_\d+$", name):
        keep &= v != fill_value
    return keep


def _draw_feature_grid(train: Any, nrows: int, ncols: int, fig: Any) -> Any:
    """One panel per feature; object slots show only the events where the object exists (an
    absent object's fill value would be a spike), with the fraction present in the title."""
    from hepsift.plots import features as fplots

    n = train.n_features
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    fill = float(train.meta.get("fill_value", 0.0)) if isinstance(train.meta, dict) else 0.0
    out = []
    for j, name in enumerate(train.feature_names):
        keep = present_objects(name, train.X[:, j], fill)
        ax = axes[j]
        if not keep.any():
            ax.set_title(f"{name}: never present", fontsize="small")
            continue
        out.extend(
            fplots.feature_by_class(
                train.X[keep, j],
                train.y[keep],
                train.weight[keep],
                class_names=train.class_names,
                name=name,
                ax=ax,
            )
        )
        ax.set_ylabel("Normalised entries", fontsize="small")
        if not keep.all():
            ax.set_title(f"present in {100 * keep.mean():.0f} % of events", fontsize="small")
    return out


def _draw_correlations(
    train: Any, present: list[int], nrows: int, ncols: int, fig: Any
) -> list[Any]:
    from hepsift.plots import features as fplots

    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(present) :]:
        ax.set_visible(False)
    return [
        fplots.correlation_matrix(
            train.X,
            train.y,
            train.weight,
            feature_names=train.feature_names,
            class_index=k,
            class_names=train.class_names,
            ax=ax,
        )
        for k, ax in zip(present, axes, strict=False)
    ]


def _feature_figures(figs: FigureSet, train: Any) -> list[FigureRecord]:
    """Feature distributions per class and correlations per class (train split)."""
    from functools import partial

    from hepsift.plots._common import LIGHT

    ncols = min(4, train.n_features)
    nrows = int(np.ceil(train.n_features / ncols))
    present = [k for k in range(train.n_classes) if np.any(train.y == k)]
    c_cols = min(3, len(present))
    c_rows = -(-len(present) // c_cols)
    return [
        figs.draw_figure(
            "features_distributions",
            partial(_draw_feature_grid, train, nrows, ncols),
            title="Input features per class (train split, weighted, unit area)",
            figsize=(4.0 * ncols, 3.2 * nrows + 0.4),
            label=False,
            margins={
                "left": 0.08,
                "right": 0.98,
                "bottom": 0.07,
                "top": 0.97,
                "hspace": 0.6,
                "wspace": 0.75,
            },
            rc=LIGHT,
        ),
        figs.draw_figure(
            "features_correlation",
            partial(_draw_correlations, train, present, c_rows, c_cols),
            title="Input correlations per class (weighted, train split)",
            figsize=(6.2 * c_cols, 5.6 * c_rows),
            label=False,
            margins={"left": 0.12, "right": 0.95, "bottom": 0.2, "top": 0.95, "wspace": 0.5},
            rc=LIGHT,
        ),
    ]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_") or "x"


def unit_weights(*datasets: Any) -> bool:
    """True when every event weight is 1 (unweighted data: yields are event counts, no
    luminosity applies)."""
    return all(ds is None or bool(np.all(np.asarray(ds.weight) == 1.0)) for ds in datasets)


def scaling_note(cfg: Any, trained: Sequence[Any]) -> str:
    """What the run did to the features before each model, as the config says."""
    from hepsift.models import model_class

    own = [tm.name for tm in trained if model_class(tm.family).scales_inputs]
    if cfg.scaling == "none":
        if own:
            return (
                "No scaling (scaling: none), except inside "
                f"{', '.join(own)}, which scale their own inputs (fit on the training split, "
                "saved inside the model)."
            )
        return "No scaling (scaling: none): every model takes the raw features."
    return (
        f"{cfg.scaling.capitalize()} scaling, fit on the training split only and saved inside "
        "each model (model.json)."
    )


def _feature_table(train: Any, note: str) -> Table:
    cols = ["feature"]
    for c in train.class_names:
        cols += [f"mean ({c})", f"std ({c})"]
    rows = []
    for j, name in enumerate(train.feature_names):
        row: list[Any] = [name]
        for k in range(train.n_classes):
            m = train.y == k
            w = np.abs(train.weight[m])
            x = train.X[m, j].astype(np.float64)
            if w.sum() > 0:
                mean = float(np.average(x, weights=w))
                std = float(np.sqrt(np.average((x - mean) ** 2, weights=w)))
            else:
                mean = std = float("nan")
            row += [mean, std]
        rows.append(row)
    weighting = "unweighted" if unit_weights(train) else "weighted by |w|"
    return Table(
        f"Input features (train split, before scaling, {weighting}; GeV for energies)",
        cols,
        rows,
        note=note,
    )


def _data_section(
    cfg: Any, prepared: Any, metrics: Mapping[str, Any], yield_scale: float
) -> Section:
    """Samples, selection, cutflows, yields and splits."""
    data_block = Block(heading="Samples and selection", id="data-samples")
    data_block.paragraphs.append(f"Source: {prepared.source}.")
    if cfg.selection.preset or cfg.selection.cuts:
        data_block.paragraphs.append(
            f"Selection: preset {cfg.selection.preset or 'none'}"
            + (f"; extra cuts: {', '.join(cfg.selection.cuts)}" if cfg.selection.cuts else "")
            + "."
        )
    data_block.warnings.extend(prepared.notes)
    if prepared.samples:
        cols, rows = _rows_from_dicts(prepared.samples)
        data_block.tables.append(Table("Samples (cross sections in pb)", cols, rows))
    cut_blocks = cutflow_tables(prepared.cutflows)
    yields = metrics.get("yields", {})
    if metrics.get("unit_weights"):
        title = "Selected events per class (unit weights: yields are event counts)"
    elif cfg.data.inline is None:
        title = f"Selected events per class (weighted yields at {cfg.weights.lumi_fb:g} fb^-1)"
    else:
        title = "Events per class (weighted)"
    ytab = Table(
        title,
        ["class", "events", "yield", "stat. error"],
        [[c, v["events"], v["yield"], v["error"]] for c, v in yields.items()],
    )
    split_tab = Table(
        "Splits",
        ["split", "events"],
        [
            ["train", metrics.get("n_train")],
            ["validation", metrics.get("n_validation") or 0],
            ["test", metrics.get("n_test")],
        ],
        note=_yield_note(metrics.get("yield_scale"), yield_scale),
    )
    yields_block = Block(
        heading="Cutflow and yields", id="data-yields", tables=[*cut_blocks, ytab, split_tab]
    )
    return Section("data", "Data", [data_block, yields_block])


def cutflow_tables(cutflows: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Table]:
    """One cutflow table, cuts as rows and samples as columns (as in physics papers): each
    cell the weighted yield after the cut, its raw event count in brackets, and the cumulative
    weighted efficiency."""
    flows = {s: list(rows) for s, rows in cutflows.items() if rows}
    if not flows:
        return []
    cuts = list(dict.fromkeys(str(r["cut"]) for rows in flows.values() for r in rows))
    by_cut = {s: {str(r["cut"]): r for r in rows} for s, rows in flows.items()}

    def cell(r: Mapping[str, Any] | None) -> str:
        if r is None:
            return "-"
        text = f"{float(r.get('yield', float('nan'))):.4g} ({int(r.get('events', 0))})"
        if "weff_cum" in r:
            text += f", {100 * float(r['weff_cum']):.3g} %"
        return text

    rows = [[c, *(cell(by_cut[s].get(c)) for s in flows)] for c in cuts]
    return [
        Table(
            "Cutflow: weighted yield (raw events), cumulative weighted efficiency",
            ["cut", *flows],
            rows,
        )
    ]


def _yield_note(per_sample: Any, overall: float) -> str:
    """How split weights become expected yields (each sample scaled to its full yield)."""
    if isinstance(per_sample, Mapping) and per_sample:
        factors = [float(v) for v in per_sample.values()]
        return (
            "Each sample's test and validation weights are scaled to its full expected yield "
            f"(test factors {min(factors):.4g}-{max(factors):.4g}); the best cut is chosen on "
            "the validation split and its significance quoted on the test split."
        )
    return f"Test weights are scaled by {overall:.4g} to expected yields for significances."


def _features_section(
    figs: FigureSet, cfg: Any, train: Any, raw_train: Any, trained: Sequence[Any]
) -> Section:
    feat_block = Block(heading="Inputs", id="features-inputs")
    note = scaling_note(cfg, trained)
    feat_block.paragraphs.append(
        f"{train.n_features} features: {', '.join(train.feature_names)}. {note}"
    )
    feat_block.tables.append(_feature_table(raw_train, note))
    feat_block.figures.extend(_feature_figures(figs, raw_train))
    if raw_train.images is not None:  # models that take event images: their mean per class
        feat_block.figures.append(_images_figure(figs, raw_train))
    return Section("features", "Features", [feat_block])


def _draw_mean_images(train: Any, fig: Any) -> Any:
    from hepsift.plots.images import plot_mean_images

    return plot_mean_images(train.images, train.y, train.class_names, weight=train.weight, fig=fig)


def _images_figure(figs: FigureSet, train: Any) -> FigureRecord:
    """The mean event image of each class (rows) and channel (columns), train split."""
    from functools import partial

    _, c, _, _ = train.images.shape
    return figs.draw_figure(
        "mean_images",
        partial(_draw_mean_images, train),
        title="Mean event image per class and channel (train split, weighted; eta vs phi)",
        figsize=(3.4 * c + 0.6, 2.6 * train.n_classes + 0.4),
        label=False,
        margins={"left": 0.07, "right": 0.92, "bottom": 0.1, "top": 0.9, "hspace": 0.7},
    )


def _binary_comparison(figs: FigureSet, blk: Block, cfg: Any, evaluations: Sequence[Any]) -> None:
    """Working points, the two ROC views and the significance scans of a binary task."""
    from functools import partial

    from hepsift import plots

    cols, rows = working_point_rows(evaluations, cfg.evaluation.working_points)
    blk.tables.append(Table("Working points: background rejection", cols, rows))
    rocs = {ev.name: ev.roc for ev in evaluations if ev.roc is not None}
    intervals = {ev.name: ev.auc_ci68 for ev in evaluations}
    blk.figures.append(
        figs.draw(
            "roc_rejection",
            partial(_call_ax, plots.roc_rejection, (rocs,), {"intervals": intervals}),
            title="ROC: background rejection vs signal efficiency",
        )
    )
    blk.figures.append(
        figs.draw(
            "roc_efficiency",
            partial(_call_ax, plots.roc_efficiency, (rocs,), {"intervals": intervals}),
            title="ROC: signal vs background efficiency",
        )
    )
    scans = {ev.name: (ev.scan.cuts, ev.scan.z) for ev in evaluations if ev.scan is not None}
    if scans:
        blk.figures.append(
            figs.draw(
                "significance_scan",
                partial(_call_ax, plots.significance_scan, (scans,), {}),
                title="Asimov significance vs cut (on the split where the cut is chosen)",
            )
        )


def _study_block(figs: FigureSet, study: Mapping[str, Any]) -> Block:
    from functools import partial

    from hepsift import plots

    blk = Block(heading="Parametric network study", id="comparison-study")
    if study.get("status") == "skipped":
        blk.warnings.append(f"Study skipped: {study.get('reason')}.")
    curves = study.get("auc_vs_mass")
    if isinstance(curves, Mapping) and curves:
        curves_t = {k: (v["mass"], v["auc"]) for k, v in curves.items()}
        errors = {
            k: np.nan_to_num(np.asarray(v["auc_err"], dtype=float))
            for k, v in curves.items()
            if "auc_err" in v
        }
        blk.figures.append(
            figs.draw(
                "pnn_auc_vs_mass",
                partial(_call_ax, plots.auc_vs_mass, (curves_t,), {"errors": errors or None}),
                title="AUC vs mass hypothesis",
                caption="Error bars: standard deviation of the AUC over Poisson-bootstrap "
                "replicas of the test events",
            )
        )
    return blk


def significance_note(cfg: Any, *, unit: bool, validation: bool) -> str:
    """What the quoted Z_A means: at the config's luminosity for weighted MC, on event counts
    (no luminosity) for unit weights."""
    chosen = "chosen on the validation split" if validation else "chosen on the test split itself"
    if unit:
        return (
            f"Z_A: Asimov significance on the test split of the best cut {chosen}, computed on "
            "event counts: the weights are unit (no cross sections, no luminosity), so Z_A "
            "only grows with the sample size and is not a physics significance."
        )
    return (
        f"Z_A: Asimov significance on the test split of the best cut {chosen}, at "
        f"{cfg.weights.lumi_fb:g} fb^-1."
    )


def _comparison_section(
    figs: FigureSet,
    cfg: Any,
    evaluations: Sequence[Any],
    class_names: list[str],
    study: Mapping[str, Any] | None,
    metrics: Mapping[str, Any],
) -> Section:
    """Ranking, metrics at the threshold, ROC / working points (binary) or one-vs-rest AUCs,
    and the parametric-network study when the run made one."""
    blk = Block(heading="Which model is best?", id="comparison-ranking")
    low = (metrics.get("low_statistics") or {}).get("message")
    if low:
        blk.warnings.append(f"{low}.")
    cols, rows = comparison_rows(evaluations)
    z_note = significance_note(
        cfg, unit=bool(metrics.get("unit_weights")), validation=bool(metrics.get("n_validation"))
    )
    blk.tables.append(
        Table(
            "Ranking on the test split",
            cols,
            rows,
            note="AUC intervals: central 68 % of a weighted Poisson bootstrap "
            f"({cfg.evaluation.bootstrap} replicas). {z_note}",
        )
    )
    cols, rows = _metric_rows(evaluations)
    blk.tables.append(Table("Metrics at the threshold", cols, rows))
    if len(class_names) == 2:
        _binary_comparison(figs, blk, cfg, evaluations)
    else:
        cols = ["model"] + [f"AUC {c} vs rest" for c in class_names]
        rows = [[ev.name, *_per_class_cells(ev, class_names)] for ev in evaluations]
        blk.tables.append(
            Table(
                "One-vs-rest AUC per class",
                cols,
                rows,
                note="[68 % interval]: central 68 % of a weighted Poisson bootstrap "
                f"({cfg.evaluation.bootstrap} replicas) of each class's AUC.",
            )
        )
    blocks = [blk] if study is None else [blk, _study_block(figs, study)]
    return Section("comparison", "Comparison", blocks)


def _per_class_cells(ev: Any, class_names: Sequence[str]) -> list[Any]:
    """Each class's one-vs-rest AUC, with its bootstrap 68 % interval when there is one."""
    ci = ev.extra.get("auc_per_class_ci68", {})
    cells: list[Any] = []
    for c in class_names:
        auc = ev.per_class_auc.get(c, float("nan"))
        if c in ci:
            cells.append(f"{auc:.4f} [{ci[c][0]:.4f}, {ci[c][1]:.4f}]")
        else:
            cells.append(auc)
    return cells


def _provenance_section(cfg: Any, timings: Mapping[str, float]) -> Section:
    import yaml

    from hepsift.report.provenance import package_versions

    blk = Block(heading="How this run was made", id="provenance-run")
    blk.tables.append(
        Table(
            "Package versions",
            ["package", "version"],
            [[k, v or "not installed"] for k, v in package_versions().items()],
        )
    )
    blk.tables.append(
        Table("Timings [s]", ["stage", "seconds"], [[k, v] for k, v in timings.items()])
    )
    blk.paragraphs.append(
        "Full provenance (command line, host, seeds, data checksums): provenance.json."
    )
    blk.pre = yaml.safe_dump(cfg.resolved(), sort_keys=False)
    return Section("provenance", "Provenance", [blk])


def build_report(
    rd: Any,
    *,
    cfg: Any,
    prepared: Any,
    train: Any,
    test: Any,
    raw_train: Any,
    trained: Sequence[Any],
    evaluations: Sequence[Any],
    metrics: Mapping[str, Any],
    study: Mapping[str, Any] | None,
    yield_scale: float,
    timings: Mapping[str, float],
) -> dict[str, float]:
    """Draw every figure into ``rd/plots`` and write ``rd/report.html``; returns the seconds
    spent drawing each figure (key ``plots/<key>``)."""
    figs = FigureSet(
        rd.path / "plots",
        formats=cfg.output.formats,
        dpi=cfg.output.dpi,
        lumi_fb=None
        if cfg.data.inline is not None or metrics.get("unit_weights")
        else cfg.weights.lumi_fb,
        defer=cfg.output.workers > 1,
    )
    by_name = {ev.name: ev for ev in evaluations}
    model_blocks = [
        _model_block(figs, tm, by_name[tm.name], train=train, test=test, cfg=cfg) for tm in trained
    ]
    sections = [
        _data_section(cfg, prepared, metrics, yield_scale),
        _features_section(figs, cfg, train, raw_train, trained),
        Section("models", "Models", model_blocks),
        _comparison_section(figs, cfg, evaluations, list(test.class_names), study, metrics),
    ]
    from hepsift.report.fits import fit_block

    fits = fit_block(figs, rd.path / "fits", metrics)
    if fits is not None:
        sections[-1].blocks.insert(1, fits)
    if metrics.get("unsupervised"):
        from hepsift.report.unsupervised import unsupervised_section

        sections.append(unsupervised_section(figs, metrics["unsupervised"]))
    figs.render(cfg.output.workers)
    sections.append(_provenance_section(cfg, timings))
    best = metrics.get("best_model")
    summary = ""
    if best is not None:
        ev = by_name[best]
        summary = (
            f"Best model: {best} ({ev.family}) with AUC {_ci(ev)} on {metrics.get('n_test')} "
            f"test events."
        )
    low = (metrics.get("low_statistics") or {}).get("message")
    write_report(
        rd.path / "report.html",
        title=f"hepsift run: {cfg.name}",
        subtitle=cfg.description or f"{len(evaluations)} models, task {metrics.get('task')}",
        sections=sections,
        summary=summary,
        warnings=[f"{low}."] if low else [],
    )
    return {f"plots/{k}": r.seconds for k, r in figs.records.items()}


def _model_tables(blk: Block, tm: Any, ev: Any, alpha: float) -> None:
    """Overtraining warning, hyperparameters and test metrics of one model."""
    low_ks = [(c, r.pvalue) for c, r in ev.ks.items() if r.pvalue < alpha]
    if low_ks:
        bad = ", ".join(f"{c} (p = {p:.3g})" for c, p in low_ks)
        blk.warnings.append(
            f"Possible overtraining: train vs test KS p-value below {alpha:g} for {bad}."
        )
    blk.tables.append(
        Table(
            "Hyperparameters",
            ["parameter", "value"],
            [[k, v] for k, v in sorted(tm.params.items())],
        )
    )
    blk.tables.append(
        Table(
            "Test metrics",
            ["metric", "value"],
            [
                ["AUC", ev.auc],
                ["AUC 68 % interval", f"[{ev.auc_ci68[0]:.4f}, {ev.auc_ci68[1]:.4f}]"],
                *[[k, v] for k, v in ev.scores.items()],
                *[[f"KS p-value ({c})", r.pvalue] for c, r in ev.ks.items()],
                ["training time [s]", tm.seconds],
            ],
        )
    )


def _score_figure(
    figs: FigureSet, tm: Any, ev: Any, slug: str, *, train: Any, test: Any, alpha: float
) -> FigureRecord:
    """Train vs test score distributions: P(signal) for two classes, a panel per class else."""
    from functools import partial

    from hepsift.plots._common import LIGHT

    class_names = list(test.class_names)
    ks_p = {c: r.pvalue for c, r in ev.ks.items()}
    caption = "Weighted, normalised to unit area; KS p-values test train vs test per class."
    if len(class_names) == 2:
        return figs.draw(
            f"{slug}_scores",
            partial(
                _draw_scores,
                (ev.proba_train[:, 1], train.y, train.weight),
                (ev.proba_test[:, 1], test.y, test.weight),
                class_names,
                ks_p,
                alpha,
                f"P({class_names[1]})",
            ),
            title=f"{tm.name}: score distributions, train (markers) vs test (filled)",
            caption=caption,
        )
    k = len(class_names)
    ncols = min(3, k)
    nrows = -(-k // ncols)
    panels = [
        (
            (ev.proba_train[:, c], train.y, train.weight),
            (ev.proba_test[:, c], test.y, test.weight),
            {class_names[c]: ks_p[class_names[c]]} if class_names[c] in ks_p else {},
            f"P({class_names[c]})",
        )
        for c in range(k)
    ]
    return figs.draw_figure(
        f"{slug}_scores",
        partial(_draw_score_panels, panels, class_names, alpha, nrows, ncols),
        title=f"{tm.name}: P(class) per class, train (markers) vs test (filled)",
        caption=caption + " Each panel shows the KS p-value of its own class.",
        figsize=(5.5 * ncols, 4.2 * nrows),
        label=False,
        rc=LIGHT,
    )


def _importance_figures(figs: FigureSet, tm: Any, ev: Any, slug: str) -> list[FigureRecord]:
    """Permutation importance (test split) and, for BDTs, the total gain."""
    from functools import partial

    out = []
    if ev.importance is not None:
        imp = ev.importance
        out.append(
            figs.draw(
                f"{slug}_importance",
                partial(
                    _draw_importance,
                    {f: float(m) for f, m in zip(imp.features, imp.mean, strict=True)},
                    {f: float(s) for f, s in zip(imp.features, imp.std, strict=True)},
                    "Weighted AUC drop when permuted",
                    0,
                ),
                title=f"{tm.name}: permutation importance (test split)",
                label=False,
                margins={"left": 0.3, "right": 0.97},
            )
        )
    if tm.gain:
        out.append(
            figs.draw(
                f"{slug}_gain",
                partial(_draw_importance, tm.gain, None, "Total gain (normalised)", 1),
                title=f"{tm.name}: BDT total gain",
                label=False,
                margins={"left": 0.3, "right": 0.97},
            )
        )
    return out


def _model_block(figs: FigureSet, tm: Any, ev: Any, *, train: Any, test: Any, cfg: Any) -> Block:
    """The report block of one model: tables and figures."""
    from functools import partial

    class_names = list(test.class_names)
    slug = _slug(tm.name)
    alpha = cfg.evaluation.ks_alpha
    blk = Block(heading=f"{tm.name} ({tm.family})", id=f"model-{slug}")
    blk.warnings.extend(tm.notes)
    _model_tables(blk, tm, ev, alpha)
    if tm.history:
        blk.figures.append(
            figs.draw(
                f"{slug}_learning_curve",
                partial(_draw_history, tm.history),
                title=f"{tm.name}: training history",
                margins={"right": 0.86},
            )
        )
    else:
        blk.paragraphs.append("No per-epoch training history for this family.")
    blk.figures.append(_score_figure(figs, tm, ev, slug, train=train, test=test, alpha=alpha))
    cm_items = [
        ("counts", "events (unweighted)", ".0f"),
        ("row_normalised", "row-normalised (weighted)", ".3f"),
    ]
    if len(class_names) != 2:
        cm_items.append(("expected_yields", "expected yields", ".3g"))
        if "yield_fractions" in ev.confusion:
            cm_items.append(("yield_fractions", "rows normalised to expected yields", ".3f"))
    blk.figures.append(
        figs.draw_figure(
            f"{slug}_confusion",
            partial(_draw_confusions, ev.confusion, class_names, cm_items),
            title=f"{tm.name}: confusion matrices ({', '.join(w for _, w, _ in cm_items)})",
            figsize=(5.2 * len(cm_items), 4.8),
            label=False,
            margins={"left": 0.16, "right": 0.98, "bottom": 0.2, "top": 0.9, "wspace": 0.6},
        )
    )
    blk.figures.extend(_importance_figures(figs, tm, ev, slug))
    files = [f"models/{tm.name}/"] + ([f"models/{tm.name}.onnx"] if tm.onnx else [])
    blk.paragraphs.append("Files: " + ", ".join(files) + ".")
    return blk


def _draw_score_panels(
    panels: list[tuple[Any, Any, dict[str, float], str]],
    class_names: list[str],
    alpha: float,
    nrows: int,
    ncols: int,
    fig: Any,
) -> list[Any]:
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    return [
        _draw_scores(tr, te, class_names, ks, alpha, xlabel, ax)
        for (tr, te, ks, xlabel), ax in zip(panels, axes, strict=False)
    ]


def _draw_history(history: Any, ax: Any) -> Any:
    from hepsift import plots

    return plots.learning_curves(history, ax=ax)


def _draw_scores(
    train: Any,
    test: Any,
    class_names: list[str],
    ks: dict[str, float],
    alpha: float,
    xlabel: str,
    ax: Any,
) -> Any:
    from hepsift import plots

    return plots.score_distributions(
        train, test, class_names=class_names, ks_pvalues=ks, alpha=alpha, xlabel=xlabel, ax=ax
    )


def _draw_confusions(
    confusion: dict[str, Any], class_names: list[str], items: list[tuple[str, str, str]], fig: Any
) -> Any:
    from hepsift import plots

    axes = fig.subplots(1, len(items), squeeze=False)[0]
    return [
        plots.confusion_matrix(confusion[key], class_names, title=what, fmt=fmt, ax=ax)
        for ax, (key, what, fmt) in zip(axes, items, strict=True)
    ]


def _draw_importance(
    values: dict[str, float], errors: dict[str, float] | None, xlabel: str, color: int, ax: Any
) -> Any:
    from hepsift import plots

    return plots.feature_importance(values, errors=errors, xlabel=xlabel, color_index=color, ax=ax)


def _call_ax(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], ax: Any) -> Any:
    return fn(*args, ax=ax, **kwargs)
