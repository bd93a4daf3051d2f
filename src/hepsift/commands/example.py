"""``hepsift example``: small worked examples that show the building blocks at work.

- ``nand``: logistic regression learns the NAND gate from its four input rows.
- ``metrics``: the confusion matrix and scores of a photon classifier that calls everything a
  photon (TP=3, FP=3, TN=0, FN=0).

Heavy imports (NumPy, the model) happen inside the functions so the CLI starts at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from hepsift.commands._rich import listing, make_console
from hepsift.errors import ConfigError, ModelError, suggest

__all__ = ["EXAMPLES", "register", "run_example"]

#: example name -> one-line description
EXAMPLES: dict[str, str] = {
    "nand": "logistic regression learns the NAND gate (weights, truth table, metrics)",
    "metrics": "photon-ID worked example: TP=3, TN=0, FP=3, FN=0 -> accuracy, precision, ...",
}


def _list_examples(console: Any) -> None:
    title = "hepsift examples (run: hepsift example NAME)"
    console.print(listing(title, ("name", "what it shows"), EXAMPLES.items()))


def _confusion_table(cm: Any, names: tuple[str, str], title: str) -> Any:
    """A rich table of a 2x2 confusion matrix (rows true, columns predicted)."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("true \\ predicted", style="bold")
    for name in names:
        table.add_column(name, justify="right")
    for i, name in enumerate(names):
        table.add_row(name, *(f"{cm[i, j]:g}" for j in range(len(names))))
    return table


def _scores_table(scores: Any, readings: dict[str, str] | None = None) -> Any:
    from rich.table import Table

    table = Table(title="scores (positive class: 1)")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_column("formula")
    if readings:
        table.add_column("physics reading")
    rows = [
        ("accuracy", scores.accuracy, "(TP + TN) / all"),
        ("precision", scores.precision, "TP / (TP + FP)"),
        ("recall", scores.recall, "TP / (TP + FN)"),
        ("F1", scores.f1, "2 TP / (2 TP + FP + FN)"),
        ("specificity", scores.specificity, "TN / (TN + FP)"),
    ]
    for name, value, formula in rows:
        cells = [name, f"{100.0 * value:.0f} %", formula]
        if readings:
            cells.append(readings.get(name, ""))
        table.add_row(*cells)
    return table


def _example_nand(console: Any) -> None:
    import numpy as np
    from rich.table import Table

    from hepsift.metrics import binary_scores, confusion_matrix
    from hepsift.models.logistic import LogisticRegression

    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([1, 1, 1, 0])  # NAND: 0 only when both inputs are 1
    model = LogisticRegression(C=1e4).fit(X, y)
    proba = model.predict_proba(X)[:, 1]
    pred = model.predict(X)

    console.print("[bold]NAND gate learned by logistic regression[/bold] (C = 1e4, Newton)")
    console.print(
        f"weights w1 = {model.coef_[0, 0]:+.3f}, w2 = {model.coef_[0, 1]:+.3f}; "
        f"intercept b = {model.intercept_[0]:+.3f}; {model.n_iter_} Newton iterations"
    )
    console.print("P(y = 1 | x) = sigmoid(w1 x1 + w2 x2 + b)")
    truth = Table(title="truth table")
    for col in ("x1", "x2", "NAND", "P(y = 1)", "predicted", "ok"):
        truth.add_column(col, justify="right")
    for xi, yi, pi, ci in zip(X, y, proba, pred, strict=True):
        truth.add_row(
            f"{xi[0]:.0f}",
            f"{xi[1]:.0f}",
            str(int(yi)),
            f"{pi:.4f}",
            str(int(ci)),
            "yes" if ci == yi else "NO",
        )
    console.print(truth)
    console.print(
        _confusion_table(confusion_matrix(y, pred, labels=[0, 1]), ("0", "1"), "confusion matrix")
    )
    console.print(_scores_table(binary_scores(y, pred)))
    if not np.array_equal(pred, y):  # pragma: no cover - the fit separates NAND
        raise ModelError("the NAND example did not reproduce the truth table")


def _example_metrics(console: Any) -> None:
    import numpy as np

    from hepsift.metrics import binary_scores, confusion_matrix

    # Six photon candidates: three real photons (1) and three jets faking photons (0); the
    # classifier calls every one of them a photon.
    y_true = np.array([1, 1, 1, 0, 0, 0])
    y_pred = np.ones(6, dtype=int)
    cm = confusion_matrix(y_true, y_pred, labels=[0, 1])
    scores = binary_scores(y_true, y_pred)
    console.print("[bold]Photon identification: a classifier that calls everything a photon[/bold]")
    console.print(
        f"TP = {scores.tp:g}, TN = {scores.tn:g}, FP = {scores.fp:g}, FN = {scores.fn:g}  "
        "(TP: photons kept, TN: jets rejected, FP: jets faking photons, FN: photons lost)"
    )
    console.print(_confusion_table(cm, ("jet (0)", "photon (1)"), "confusion matrix"))
    readings = {
        "accuracy": "half the candidates are right - says little when one class dominates",
        "precision": "purity: half of the selected 'photons' are really jets",
        "recall": "signal efficiency: every real photon is kept",
        "F1": "one number balancing purity and efficiency",
        "specificity": "no jet is rejected: the classifier has no background rejection",
    }
    console.print(_scores_table(scores, readings))


_RUNNERS: dict[str, Callable[[Any], None]] = {
    "nand": _example_nand,
    "metrics": _example_metrics,
}


def run_example(name: str) -> None:
    """Run the example ``name``, printing to stdout; ConfigError for an unknown name."""
    if name not in _RUNNERS:
        raise ConfigError(
            f"unknown example '{name}'{suggest(name, EXAMPLES)} (available: {', '.join(EXAMPLES)})"
        )
    _RUNNERS[name](make_console())


def register(app: typer.Typer) -> None:
    """Add the ``example`` command to ``app``."""

    @app.command("example")
    def example(
        name: str | None = typer.Argument(None, help=f"one of: {', '.join(EXAMPLES)}"),
        list_: bool = typer.Option(False, "--list", help="List the examples and exit."),
    ) -> None:
        """Run a small worked example (no argument or --list: list them)."""
        if list_ or name is None:
            _list_examples(make_console())
            return
        run_example(name)
