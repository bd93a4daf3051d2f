"""Energy calibration by regression on generated truth (the ``task: type: regression`` run).

A regressor learns the calibration factor ``c = target / reference`` (e.g. the true photon pT
over the reconstructed one) from reconstructed quantities; the calibrated measurement is
``reference * c_hat``. On the test split the study reports, before and after calibration:

- the response ``reference / target`` (median) and the resolution ``sigma_68`` (half-width of
  the smallest interval holding 68 % of the ratios, robust to the low-side tails of photon
  energy losses),
- both in bins of any column (``bins``: e.g. true pT and |eta|),

and draws response and resolution vs each binned column and the ratio distributions.
"""

from __future__ import annotations

import base64
import html
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import DataError
from hepsift.metrics import sigma68

__all__ = ["binned_response", "fit_calibration", "report_html", "sigma68", "write_figures"]

F64 = NDArray[np.float64]


def _summary(ratio: F64) -> dict[str, float]:
    return {
        "n": len(ratio),
        "median": float(np.median(ratio)) if len(ratio) else float("nan"),
        "sigma68": sigma68(ratio),
    }


def binned_response(ratio: F64, column: F64, edges: Sequence[float]) -> list[dict[str, float]]:
    """Median response and sigma_68 of ``ratio`` in bins of ``column`` (edges inclusive low)."""
    out = []
    for lo, hi in itertools.pairwise(edges):
        sel = (column >= lo) & (column < hi)
        out.append({"low": float(lo), "high": float(hi), **_summary(ratio[sel])})
    return out


def _split(n: int, fractions: Sequence[float], seed: int) -> list[NDArray[np.int64]]:
    """Random train / (validation) / test index sets by ``fractions``."""
    perm = np.random.default_rng(seed).permutation(n)
    cuts = np.round(np.cumsum(fractions)[:-1] * n).astype(int)
    return [np.sort(p) for p in np.split(perm, cuts)]


def fit_calibration(
    X: F64,
    target: F64,
    reference: F64,
    *,
    feature_names: Sequence[str],
    models: Sequence[tuple[str, Any]],
    bins: Mapping[str, F64] | None = None,
    bin_edges: Mapping[str, Sequence[float]] | None = None,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    weight: F64 | None = None,
    seed: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit each ``(name, unfitted regressor)`` to ``target / reference`` and evaluate.

    Rows whose target or reference is not finite and positive are dropped (candidates with no
    generator match). ``bins``: column values per row for the binned response (e.g. the true
    pT), with their ``bin_edges``. Returns (result document, fitted models by name)."""
    target = np.asarray(target, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    good = np.isfinite(target) & np.isfinite(reference) & (target > 0) & (reference > 0)
    if good.sum() < 20:
        raise DataError(
            f"a calibration needs at least 20 rows with a finite positive target and reference; "
            f"got {int(good.sum())} of {len(target)}"
        )
    X = np.asarray(X, dtype=np.float64)[good]
    t, r = target[good], reference[good]
    w = np.ones(len(t)) if weight is None else np.asarray(weight, dtype=np.float64)[good]
    cols = {k: np.asarray(v, dtype=np.float64)[good] for k, v in (bins or {}).items()}
    parts = _split(len(t), fractions, seed)
    train, test = parts[0], parts[-1]
    valid = parts[1] if len(parts) == 3 else None
    c = t / r
    before = r[test] / t[test]
    doc: dict[str, Any] = {
        "features": list(feature_names),
        "rows": {"used": int(good.sum()), "dropped": int((~good).sum())},
        "n_train": len(train),
        "n_test": len(test),
        "before": _summary(before),
        "before_binned": {
            k: binned_response(before, cols[k][test], (bin_edges or {})[k]) for k in cols
        },
        "models": {},
    }
    fitted: dict[str, Any] = {}
    for name, model in models:
        kw = {}
        if valid is not None and getattr(model, "supports_eval_set", False):
            kw["eval_set"] = (X[valid], c[valid], w[valid])
        model.fit(X[train], c[train], sample_weight=w[train], **kw)
        after = r[test] * np.asarray(model.predict(X[test]), dtype=np.float64) / t[test]
        doc["models"][name] = {
            "family": getattr(model, "family", type(model).__name__),
            "after": _summary(after),
            "improvement": doc["before"]["sigma68"] / max(sigma68(after), 1e-12),
            "binned": {
                k: binned_response(after, cols[k][test], (bin_edges or {})[k]) for k in cols
            },
        }
        doc["models"][name]["_ratio"] = after
        fitted[name] = model
    doc["_before_ratio"] = before
    return doc, fitted


def _atomic_figure(fig: Any, path: Path, dpi: int) -> Path:
    from hepsift._files import atomic_write_with

    atomic_write_with(
        path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=path.suffix[1:]), suffix=path.suffix
    )
    return path


def write_figures(doc: Mapping[str, Any], out: Path, *, dpi: int = 100) -> list[Path]:
    """Ratio distributions and response / resolution vs each binned column (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    before = doc["_before_ratio"]
    fig, ax = plt.subplots(figsize=(6, 4))
    edges = np.linspace(0.7, 1.3, 61).tolist()
    ax.hist(np.clip(before, 0.7, 1.3), bins=edges, histtype="step", label="before")
    for name, m in doc["models"].items():
        ax.hist(np.clip(m["_ratio"], 0.7, 1.3), bins=edges, histtype="step", label=name)
    ax.set_xlabel("reconstructed / true")
    ax.set_ylabel("candidates")
    ax.legend()
    paths.append(_atomic_figure(fig, out / "ratio.png", dpi))
    plt.close(fig)
    for col, rows in doc["before_binned"].items():
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        series = {"before": rows} | {n: m["binned"][col] for n, m in doc["models"].items()}
        for label, rr in series.items():
            x = [(b["low"] + b["high"]) / 2 for b in rr]
            axes[0].plot(x, [b["median"] for b in rr], "o-", label=label)
            axes[1].plot(x, [b["sigma68"] for b in rr], "o-", label=label)
        axes[0].axhline(1.0, color="grey", lw=0.5)
        axes[0].set_ylabel("response (median reco / true)")
        axes[1].set_ylabel("resolution sigma_68 of reco / true")
        for a in axes:
            a.set_xlabel(col)
            a.legend()
        paths.append(_atomic_figure(fig, out / f"response_vs_{col}.png", dpi))
        plt.close(fig)
    return paths


def report_html(doc: Mapping[str, Any], title: str, figures: Sequence[Path]) -> str:
    """A self-contained HTML page: the resolution table and the figures (embedded)."""
    rows = [
        f"<tr><td>uncalibrated</td><td></td><td>{doc['before']['median']:.4f}</td>"
        f"<td>{doc['before']['sigma68']:.4f}</td><td></td></tr>"
    ]
    for name, m in doc["models"].items():
        a = m["after"]
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(m['family']))}</td>"
            f"<td>{a['median']:.4f}</td><td>{a['sigma68']:.4f}</td>"
            f"<td>{m['improvement']:.3f}</td></tr>"
        )
    imgs = "".join(
        f'<p><img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"></p>'
        for p in figures
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><h1>{html.escape(title)}</h1>"
        f"<p>Test split: {doc['n_test']} candidates (train {doc['n_train']}). Response = "
        "median of reconstructed / true; resolution = sigma_68 (half-width of the smallest "
        "interval holding 68 %) of reconstructed / true.</p>"
        "<table border='1'><tr><th>calibration</th><th>family</th><th>response</th>"
        f"<th>sigma_68</th><th>sigma_68 before / after</th></tr>{''.join(rows)}</table>"
        f"{imgs}</body></html>"
    )
