"""``hepsift fit RUN_DIR``: redo the binned likelihood fits (pyhf) of a finished run with another
binning or other systematics, without retraining (:func:`hepsift.refit.refit_run`).
"""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("fit")
    def fit_command(
        run_dir: str = typer.Argument(..., help="A finished run folder made with fit.enabled."),
        overrides: list[str] | None = typer.Option(
            None, "--set", help="Override a fit value: fit.key=value (repeatable)."
        ),
        models: str | None = typer.Option(
            None, "--models", help="Comma-separated model names (default: every fitted model)."
        ),
    ) -> None:
        """Refit a run's test-split scores: expected Z and 95 % CL CLs limit on mu (pyhf)."""
        from hepsift.refit import refit_run

        chosen = None if models is None else [m.strip() for m in models.split(",") if m.strip()]
        results = refit_run(run_dir, overrides=overrides or (), models=chosen)
        ranked = sorted(results.items(), key=lambda kv: kv[1].sensitivity.mu_limit_expected)
        typer.echo(f"{'model':<16} {'bins':>4} {'Z_exp':>7} {'mu95_exp':>9}  -2s..+2s")
        for name, r in ranked:
            s = r.sensitivity
            band = " ".join(f"{x:.3g}" for x in s.mu_limit_band)
            typer.echo(
                f"{name:<16} {len(r.edges) - 1:>4} {s.z_expected:>7.3f} "
                f"{s.mu_limit_expected:>9.3g}  [{band}]"
            )
        typer.echo(f"workspaces: {run_dir}/fits/<model>.json")
