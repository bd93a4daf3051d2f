"""``hepsift apply RUN_DIR FILES... --out scores.parquet``: score any files with a finished
run's selection, features and saved models (:func:`hepsift.apply.apply`)."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("apply")
    def apply_command(
        run_dir: str = typer.Argument(..., help="A finished run folder."),
        files: list[str] = typer.Argument(..., help="ROOT/CSV/Parquet files (globs allowed)."),
        out: str = typer.Option(..., "--out", "-o", help="Output file (.parquet or .root)."),
        models: str | None = typer.Option(
            None, "--models", help="Comma-separated model names (default: every saved model)."
        ),
        selection: bool = typer.Option(
            True, "--selection/--no-selection", help="Apply the run's selection."
        ),
        onnx: bool = typer.Option(False, "--onnx", help="Score with the models' ONNX files."),
        format: str = typer.Option(
            "parquet", "--format", help="parquet, or root (a friend tree keyed by eventNumber)."
        ),
    ) -> None:
        """Score events of any files with a run's recipe and models; one row per event."""
        from hepsift.apply import apply

        chosen = None if models is None else [m.strip() for m in models.split(",") if m.strip()]
        res = apply(
            run_dir,
            files,
            out=out,
            models=chosen,
            selection=selection,
            onnx=onnx,
            format=format,  # type: ignore[arg-type]
        )
        for name, n in res.files.items():
            typer.echo(f"{name}: {n} events")
        typer.echo(f"wrote {res.rows} rows to {res.path} ({res.seconds:.1f} s)")
